"""Graph memory across calls (SPEC "Graph memory across calls"): per task, the edges of earlier calls, so a
task whose rollouts all failed this time still has distances to success.

The memory lives in the C++ engine; this module is its Python face and the conversion of task keys.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _core
from ._estimators import ESTIMATORS
from ._inputs import to_numpy

#: Estimators that accept ``memory=`` (those whose credit comes from distances on the group's graph; the
#: engine's estimator registry says which).
MEMORY_METHODS = tuple(name for name, e in ESTIMATORS.items() if e.supports_memory)


def _bound(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be None or an integer >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be None (unbounded) or an integer >= 0, got {value}")
    return int(value)


class GraphMemory:
    """Per task, the distinct edges (u, v) between states seen in earlier calls, within bounds.

    Pass it to :func:`graphgpo.advantages` with ``memory=`` (``"graphgpo"`` or ``"progpo"``,
    ``distance="shortest"``, ``merge="exact"``): each
    group's graph is then its rows' edges plus its task's stored edges (as the memory was before the call),
    and after the call the memory stores the call's edges. Bounds (``None``: unbounded), applied after each
    call in this order:

    - ``max_age``: edges not seen in the last ``max_age`` calls are dropped;
    - ``max_edges_per_task``: a task keeps its ``max_edges_per_task`` most recently seen edges;
    - ``max_edges``: the whole memory keeps its ``max_edges`` most recently seen edges.

    Ties go by order of first insertion (the earliest goes first). Calls on one memory from several threads
    run one after the other. :meth:`save` writes a checksummed file atomically; :meth:`load` reads it back.
    """

    __slots__ = ("_engine",)

    def __init__(self, max_edges_per_task: int | None = None, max_edges: int | None = None,
                 max_age: int | None = None) -> None:
        self._engine = _core.GraphMemory(_bound("max_edges_per_task", max_edges_per_task),
                                         _bound("max_edges", max_edges), _bound("max_age", max_age))

    @classmethod
    def _wrap(cls, engine: _core.GraphMemory) -> GraphMemory:
        memory = cls.__new__(cls)
        memory._engine = engine
        return memory

    @property
    def max_edges_per_task(self) -> int | None:
        return self._engine.max_edges_per_task

    @property
    def max_edges(self) -> int | None:
        return self._engine.max_edges

    @property
    def max_age(self) -> int | None:
        return self._engine.max_age

    def stats(self) -> dict[str, int]:
        """``tasks`` (holding at least one edge), ``edges``, ``bytes`` the contents take (every array at its
        exact size, as between calls, so a saved and loaded memory reports the same), and ``calls`` made so far."""
        return self._engine.stats()

    def save(self, path: str | os.PathLike) -> None:
        """Write the memory to ``path``: a versioned file with a checksum, written to a temporary file beside
        it, flushed to disk and renamed over ``path``, so a crash leaves the old file or the new one.
        Bounds, call count and every edge are saved. Raises OSError if the file cannot be written."""
        self._engine.save(os.fsdecode(os.fspath(path)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> GraphMemory:
        """The memory saved at ``path``, exactly (bounds included). Raises ValueError for a truncated, corrupt
        or foreign file and OSError if it cannot be read."""
        return cls._wrap(_core.GraphMemory.load(os.fsdecode(os.fspath(path))))

    def __getstate__(self) -> bytes:
        return self._engine.to_bytes()

    def __setstate__(self, state: bytes) -> None:
        self._engine = _core.GraphMemory.from_bytes(state)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"GraphMemory(max_edges_per_task={self.max_edges_per_task}, max_edges={self.max_edges}, "
                f"max_age={self.max_age}; {s['tasks']} tasks, {s['edges']} edges, {s['calls']} calls)")


def task_keys(task: Any, n: int) -> np.ndarray:
    """Per-row task keys as int64: integers as they are, str (or bytes) through a stable 64-bit hash."""
    value = to_numpy(task, "task")
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"task must be one-dimensional, got shape {value.shape}")
        if value.dtype.kind in "US":
            value = value.tolist()
        elif value.dtype.kind == "O":
            value = list(value)
        elif value.dtype.kind in "iu":
            if len(value) != n:
                raise ValueError(f"unequal lengths: task has {len(value)} rows but group has {n}")
            if value.dtype.kind == "u" and value.size and int(value.max()) > np.iinfo(np.int64).max:
                bad = int(np.flatnonzero(value > np.iinfo(np.int64).max)[0])
                raise ValueError(f"task row {bad}: {value[bad]} does not fit in int64")
            return np.ascontiguousarray(value, dtype=np.int64)
        else:
            raise TypeError(f"task must hold int64 or str keys, got dtype {value.dtype}")
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"task must be a sequence of int or str keys, got {type(value).__name__}")
    if len(value) != n:
        raise ValueError(f"unequal lengths: task has {len(value)} rows but group has {n}")
    if n == 0:
        return np.zeros(0, dtype=np.int64)

    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    def is_text(v: Any) -> bool:
        return isinstance(v, (str, bytes, np.str_, np.bytes_))

    first_is_int = is_int(value[0])
    for i, v in enumerate(value):
        if not (is_int(v) or is_text(v)):
            raise TypeError(f"task row {i}: {v!r} ({type(v).__name__}) is not an int or str key")
        if is_int(v) != first_is_int:
            raise TypeError(f"task row {i}: {v!r} mixes {'str' if first_is_int else 'int'} and "
                            f"{'int' if first_is_int else 'str'} keys (row 0 is {value[0]!r})")
    if first_is_int:
        try:
            return np.asarray(value, dtype=np.int64)
        except OverflowError:
            bad = next(i for i, v in enumerate(value) if not -(2**63) <= int(v) < 2**63)
            raise ValueError(f"task row {bad}: {value[bad]} does not fit in int64") from None
    # str (as UTF-8) or bytes: the low half of the key's fingerprint, stable across processes and runs.
    return _core.fingerprint_buffers(list(value))[:, 0].copy().view(np.int64)
