"""Where the wheel keeps the C ABI: header, shared library and CMake package config."""

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
