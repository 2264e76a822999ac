"""graphgpo: graph-based credit assignment (GraphGPO, GiGPO, GRPO) for training LLM agents with RL.

The estimators run in a multithreaded C++ engine; see :func:`advantages`. The contract (SPEC.md) and a user
guide ship with the package: ``graphgpo docs`` lists them, :func:`docs_path` says where they are.
"""

import json as _json
import pkgutil as _pkgutil

from . import _core
from ._api import advantages, fingerprint, gigpo, graphgpo, grpo, progpo
from ._estimators import METHODS
from ._inputs import FINGERPRINT_DTYPE
from ._options import DEFAULT_OPTIONS, option_schema
from ._paths import docs_path, get_cmake_dir, get_include, get_library
from .diagnostics import diagnostics
from .graph import CSR, GraphBatch, build_graphs
from .memory import MEMORY_METHODS, GraphMemory

__version__: str = _core.version()


def build_info() -> dict:
    """Version, ABI version, compiler, default threads, CUDA and debug flags of the compiled engine."""
    return _json.loads(_core.build_info_json())


def cuda_available() -> bool:
    """Whether this build has the CUDA kernels (False on CPU-only builds; never raises)."""
    return bool(_core.cuda_available())


__all__ = [
    "CSR",
    "DEFAULT_OPTIONS",
    "FINGERPRINT_DTYPE",
    "MEMORY_METHODS",
    "METHODS",
    "GraphBatch",
    "GraphMemory",
    "__version__",
    "advantages",
    "build_graphs",
    "build_info",
    "cuda_available",
    "diagnostics",
    "docs_path",
    "fingerprint",
    "get_cmake_dir",
    "get_include",
    "get_library",
    "gigpo",
    "graphgpo",
    "grpo",
    "option_schema",
    "progpo",
]


def __dir__() -> list[str]:
    """The public API (``__all__``) and the public submodules (``graphgpo.trl``, ``graphgpo.envs``, ...),
    not the helpers this module imports for itself."""
    modules = {m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return sorted({*__all__, *modules})
