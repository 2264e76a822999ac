"""graphgpo: graph-based credit assignment (GraphGPO, GiGPO, GRPO) for training LLM agents with RL.

The estimators run in a multithreaded C++ engine; see :func:`advantages` and SPEC.md for the contract.
"""

from __future__ import annotations

import json as _json

from . import _core
from ._api import DEFAULT_OPTIONS, METHODS, advantages, fingerprint, gigpo, graphgpo, grpo, progpo
from ._inputs import FINGERPRINT_DTYPE
from ._paths import get_cmake_dir, get_include, get_library
from .diagnostics import diagnostics
from .graph import CSR, GraphBatch, build_graphs

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
    "METHODS",
    "GraphBatch",
    "__version__",
    "advantages",
    "build_graphs",
    "build_info",
    "cuda_available",
    "diagnostics",
    "fingerprint",
    "get_cmake_dir",
    "get_include",
    "get_library",
    "gigpo",
    "graphgpo",
    "grpo",
    "progpo",
]
