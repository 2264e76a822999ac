"""The estimators, as the engine's registry describes them (``cpp/src/estimator_registry.cpp``).

The registry is the one list of methods: :data:`METHODS`, the TRL config's ``advantage_estimator`` choices,
the CUDA path's supported methods and every "unknown method" message derive from it. Each estimator's
plain-Python reference is registered in :mod:`graphgpo.testing.reference` (``REFERENCES``, ``@estimator``).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from . import _core


class Estimator(NamedTuple):
    """One entry of the engine's estimator registry."""

    name: str
    summary: str
    scopes: tuple[str, ...]  # the option scopes it reads (see graphgpo.option_schema(): "scope", "used_by")
    builds_graph: bool  # has a step term: builds each group's state graph
    needs_reverse_csr: bool  # walks the graph backwards (distances to SUCCESS)
    merges_graph_nodes: bool  # merge="similar" merges graph nodes (else only the start states of step groups)
    supports_cuda: bool  # graphgpo.cuda runs it
    supports_memory: bool  # accepts memory= (a GraphMemory)


def _load() -> dict[str, Estimator]:
    entries = json.loads(_core.estimator_registry())["estimators"]
    return {e["name"]: Estimator(e["name"], e["summary"], tuple(e["scopes"]), e["builds_graph"],
                                 e["needs_reverse_csr"], e["merges_graph_nodes"], e["supports_cuda"],
                                 e["supports_memory"])
            for e in entries}


#: Every estimator of the engine, by name, in registry order.
ESTIMATORS: dict[str, Estimator] = _load()

#: The estimators' names: the ``method`` of :func:`graphgpo.advantages`.
METHODS: tuple[str, ...] = tuple(ESTIMATORS)

#: The methods :mod:`graphgpo.cuda` runs.
CUDA_METHODS: tuple[str, ...] = tuple(name for name, e in ESTIMATORS.items() if e.supports_cuda)


def check_method(method: Any) -> str:
    """``method`` if it names a registered estimator; ValueError otherwise."""
    if method not in ESTIMATORS:
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    return method
