"""Graph memory in the TRL trainer (SPEC "Graph memory across calls"): the config fields, each rollout's task
key, and the memory file of a checkpoint directory.

Why every rank can keep its own copy: each rank computes the advantages of the *whole* generation batch from
the same gathered records (``GraphGPOTrainer._step_advantages``), so every rank's memory sees the same calls
in the same order and stays identical without exchanging anything. The process that saves checkpoints
(``args.should_save``) writes the memory into each checkpoint directory; on resume every rank reads it back.

Task keys are what makes rollouts of different training steps meet in one task graph. Default: the prompt
(the same prompt is the same task); ``task_column`` names a dataset column instead, for datasets where the
prompt does not tell tasks apart (e.g. a fixed instruction, with the level passed to the environment's
``reset`` through another column).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._estimators import ESTIMATORS
from . import _engine

__all__ = ["MEMORY_FILE", "GraphMemoryArgs", "new_memory", "task_keys", "save_memory", "load_memory"]

#: The memory's file in a checkpoint directory (graphgpo's checksummed format, ``GraphMemory.save``).
MEMORY_FILE = "graphgpo_memory.bin"

_BOUNDS = ("max_edges_per_task", "max_edges", "max_age")
_MEMORY_METHODS = tuple(name for name, e in ESTIMATORS.items() if e.supports_memory)  # the engine's registry


@dataclass
class GraphMemoryArgs:
    """The graph memory fields of :class:`GraphGPOConfig` (a mixin: its ``__post_init__`` checks them, then
    hands on to ``GRPOConfig``'s)."""

    graph_memory: bool = field(
        default=False,
        metadata={
            "help": "Keep a graphgpo.GraphMemory across training steps: each task's graph also holds the edges of "
            "earlier steps (graphgpo/progpo, distance='shortest'). Saved in every checkpoint."
        },
    )
    max_edges_per_task: int | None = field(
        default=None,
        metadata={"help": "Graph memory: a task keeps its most recently seen edges, at most this many (None: all)."},
    )
    max_edges: int | None = field(
        default=None,
        metadata={"help": "Graph memory: the whole memory keeps at most this many edges (None: unbounded)."},
    )
    max_age: int | None = field(
        default=None,
        metadata={"help": "Graph memory: drop edges not seen in the last max_age generation batches (None: never)."},
    )
    task_column: str | None = field(
        default=None,
        metadata={
            "help": "Graph memory: the dataset column whose value (str or int) is a rollout's task key. None: the "
            "prompt is the task."
        },
    )

    def __post_init__(self):
        if not isinstance(self.graph_memory, bool):
            raise ValueError(f"graph_memory must be a bool, got {self.graph_memory!r}")
        for name in _BOUNDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be None (unbounded) or an integer >= 0, got {value!r}")
            if not self.graph_memory:
                raise ValueError(f"{name}={value!r} bounds the graph memory, which is off: set graph_memory=True")
        if self.task_column is not None:
            if not isinstance(self.task_column, str) or not self.task_column:
                raise ValueError(f"task_column must be None or a dataset column name, got {self.task_column!r}")
            if not self.graph_memory:
                raise ValueError(f"task_column={self.task_column!r} keys the graph memory, which is off: set "
                                 "graph_memory=True")
        if self.graph_memory:
            method = getattr(self, "advantage_estimator", None)
            if method not in _MEMORY_METHODS:
                raise ValueError(f"graph_memory needs an advantage_estimator that takes a memory "
                                 f"({', '.join(map(repr, _MEMORY_METHODS))}), got {method!r}")
            for name, needed in (("distance", "shortest"), ("merge", "exact")):
                value = getattr(self, name, needed)
                if value != needed:
                    raise ValueError(f"graph_memory needs {name}={needed!r}, got {value!r}")
        super().__post_init__()

    def memory_bounds(self) -> dict[str, int | None]:
        """The bounds, as ``graphgpo.GraphMemory`` keywords."""
        return {name: getattr(self, name) for name in _BOUNDS}


def new_memory(args: GraphMemoryArgs):
    """A fresh memory with the config's bounds, or None when ``graph_memory`` is off."""
    if not getattr(args, "graph_memory", False):
        return None
    import graphgpo

    return graphgpo.GraphMemory(**args.memory_bounds())


def _json_default(value: Any):
    raise TypeError(f"{type(value).__name__} is not text")


def _task_key(row: dict, column: str | None, index: int) -> int | bytes:
    """The rollout's key: an int as it is, text as its UTF-8 bytes (fingerprinted by the caller)."""
    if column is not None:
        if column not in row:
            raise ValueError(f"task_column={column!r}: rollout {index}'s dataset row has no such column (columns: "
                             f"{sorted(row)})")
        value = row[column]
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, bytes):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            if not -(2**63) <= int(value) < 2**63:
                raise ValueError(f"task_column={column!r}: rollout {index}'s value {value} does not fit in int64")
            return int(value)
        raise ValueError(f"task_column={column!r}: rollout {index}'s value must be a str or an int, got "
                         f"{type(value).__name__}: {value!r}")
    if "prompt" not in row:
        raise ValueError(f"rollout {index}'s dataset row has no 'prompt' to key the graph memory by; set task_column")
    try:
        # Canonical text of the prompt (a string or a list of chat messages): the same in every process and run.
        text = json.dumps(row["prompt"], sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                          default=_json_default)
    except (TypeError, ValueError) as err:
        raise ValueError(f"rollout {index}'s prompt cannot key the graph memory ({err}); set task_column to a "
                         "column of str or int task keys") from None
    return text.encode("utf-8")


def task_keys(rows: Sequence[dict], column: str | None) -> np.ndarray:
    """The int64 task key of each rollout (``rows``: its dataset rows, as TRL hands them to the trainer).

    As ``graphgpo.advantages(..., task=...)`` keys tasks: an int ``column`` value is the key; a str one (or the
    prompt, as canonical JSON text) is the low 64 bits of the fingerprint of its UTF-8 bytes. Equal values
    give equal keys in every process and run.
    """
    keys = [_task_key(row, column, i) for i, row in enumerate(rows)]
    out = np.zeros(len(keys), dtype=np.int64)
    texts = [i for i, k in enumerate(keys) if isinstance(k, bytes)]
    for i, k in enumerate(keys):
        if not isinstance(k, bytes):
            out[i] = k
    if texts:
        out[texts] = _engine.fingerprint([keys[i] for i in texts])[:, 0].copy().view(np.int64)
    return out


def save_memory(memory, checkpoint_dir: str) -> None:
    """Write ``memory`` into ``checkpoint_dir`` (created if missing), atomically (``GraphMemory.save``)."""
    os.makedirs(checkpoint_dir, exist_ok=True)
    memory.save(os.path.join(checkpoint_dir, MEMORY_FILE))


def load_memory(checkpoint_dir: str, args: GraphMemoryArgs, fallback):
    """The memory saved in ``checkpoint_dir``; ``fallback`` (with a warning) when the checkpoint has none.

    Raises ValueError when the saved bounds differ from the config's (a memory cannot change its bounds: start
    from the checkpoint's or drop the memory file), or when the file is corrupt.
    """
    import graphgpo

    path = os.path.join(checkpoint_dir, MEMORY_FILE)
    if not os.path.exists(path):
        warnings.warn(f"graph_memory is on but the checkpoint {checkpoint_dir} holds no {MEMORY_FILE}; training "
                      "resumes with an empty graph memory", RuntimeWarning, stacklevel=3)
        return fallback
    memory = graphgpo.GraphMemory.load(path)
    saved = {name: getattr(memory, name) for name in _BOUNDS}
    if saved != args.memory_bounds():
        raise ValueError(f"the graph memory in {checkpoint_dir} has bounds {saved}, the config {args.memory_bounds()}; "
                         f"resume with the checkpoint's bounds, or delete {path} to start an empty memory")
    return memory
