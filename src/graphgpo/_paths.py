"""Where the installed package keeps its files: the C ABI (header, shared library, CMake package config)
and the documentation."""

from __future__ import annotations

import sys
from pathlib import Path

from . import _core

# The compiled files sit next to the extension module (in an editable install the Python sources do not).
_PACKAGE = Path(_core.__file__).resolve().parent


def get_include() -> str:
    """Directory holding ``graphgpo/graphgpo.h`` (pass it to ``-I``)."""
    return str(_PACKAGE / "include")


def get_library() -> str:
    """Path of the shared C library (``libgraphgpo.so`` / ``.dylib`` / ``graphgpo.dll``)."""
    lib = _PACKAGE / "lib"
    names = {"win32": "graphgpo.dll", "darwin": "libgraphgpo.dylib"}
    path = lib / names.get(sys.platform, "libgraphgpo.so")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall graphgpo (pip install graphgpo)")
    return str(path)


def get_cmake_dir() -> str:
    """Directory with ``graphgpoConfig.cmake`` (pass as ``-Dgraphgpo_DIR=...``)."""
    return str(_PACKAGE / "lib" / "cmake" / "graphgpo")


def docs_path() -> str:
    """Directory of the documentation shipped with the package: SPEC.md (the contract), guide.md (how to
    use it) and the other pages. ``graphgpo docs`` lists them; ``graphgpo docs spec`` prints one."""
    return str(_PACKAGE / "docs")
