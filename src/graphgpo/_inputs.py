"""Turning user inputs (numpy, lists, CPU torch tensors, str/bytes/int/array states) into the typed,
contiguous arrays the engine reads in place. Errors name the field and, where there is one, the first
offending row. No per-row Python loop runs for str, bytes, int or array states."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _core

#: dtype of a fingerprint array returned by :func:`graphgpo.fingerprint`: one 128-bit value per state.
FINGERPRINT_DTYPE = np.dtype([("lo", "<u8"), ("hi", "<u8")])


def to_numpy(value: Any, name: str) -> Any:
    """CPU torch tensors become numpy views; CUDA tensors are refused with a hint."""
    if type(value).__module__.startswith("torch"):
        if getattr(value, "is_cuda", False) or str(getattr(value, "device", "cpu")) != "cpu":
            raise TypeError(f"{name} is a tensor on {value.device}; move it to the CPU with .cpu() first")
        return value.detach().numpy()
    return value


REQUIRED_FIELDS = ("group", "trajectory", "state", "success")


def row_length(value: Any) -> int:
    """Rows of one field: the first dimension of an array or tensor, else len()."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(value)


def row_count(fields: dict[str, Any], length: Callable[[Any], int] = row_length) -> int:
    """The number of rows of a batch's fields (None = absent); every given field must have that many.
    ``length`` measures one field (the CUDA layer unwraps its state wrappers first)."""
    for name in REQUIRED_FIELDS:
        if fields.get(name) is None:
            raise ValueError(f"{name} is required")
    lengths = {}
    for name, value in fields.items():
        if value is None:
            continue
        try:
            lengths[name] = length(value)
        except TypeError:
            raise TypeError(f"{name} must be a sequence, array or tensor, got {type(value).__name__}") from None
    n = lengths["group"]
    for name, length in lengths.items():
        if length != n:
            raise ValueError(f"unequal lengths: {name} has {length} rows but group has {n}")
    return n


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def as_ids(value: Any, name: str) -> np.ndarray:
    """One-dimensional int64 ids."""
    value = to_numpy(value, name)
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "iu":
        return np.ascontiguousarray(array, dtype=np.int64)
    if array.dtype.kind == "b":
        return np.ascontiguousarray(array, dtype=np.int64)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            raise TypeError(f"{name} must hold integers; row {_first_row(bad)} is {array[_first_row(bad)]!r}")
        return np.ascontiguousarray(array, dtype=np.int64)
    if array.dtype.kind == "O":
        for i, v in enumerate(array):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"{name} must hold integers; row {i} is {v!r} ({type(v).__name__})")
        return np.ascontiguousarray(array.astype(np.int64))
    raise TypeError(f"{name} must hold integers, got dtype {array.dtype}"
                    + ("; map string ids to integers first, e.g. np.unique(ids, return_inverse=True)[1]"
                       if array.dtype.kind in "US" else ""))


def as_flags(value: Any, name: str) -> np.ndarray:
    """Per-row booleans as uint8 0/1 (bool, integer, or 0.0/1.0 floats)."""
    array = np.asarray(to_numpy(value, name))
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "b":
        return np.ascontiguousarray(array).view(np.uint8)  # numpy bools are bytes holding 0 or 1
    if array.dtype.kind in "iu":
        return np.ascontiguousarray(array != 0, dtype=np.uint8)
    if array.dtype.kind == "f":
        bad = (array != 0) & (array != 1)
        if bad.any():
            raise ValueError(f"{name} must be boolean; row {_first_row(bad)} is {array[_first_row(bad)]!r}")
        return np.ascontiguousarray(array != 0, dtype=np.uint8)
    if array.size == 0:
        return np.zeros(0, dtype=np.uint8)
    raise TypeError(f"{name} must be boolean, got dtype {array.dtype}")


def as_floats(value: Any, name: str) -> np.ndarray:
    """Per-row float64 (finiteness is checked by the engine, which names the row)."""
    array = np.asarray(to_numpy(value, name))
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def as_action_ids(value: Any, name: str = "action") -> np.ndarray:
    """Action identities as int64: integers pass through; other hashables are numbered by first appearance."""
    array = to_numpy(value, name)
    probe = np.asarray(array) if not isinstance(array, (list, tuple)) else None
    if probe is not None and probe.dtype.kind in "iub":
        return as_ids(probe, name)
    items = list(array)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        return as_ids(np.asarray(items, dtype=np.int64), name)
    codes: dict[Any, int] = {}
    out = np.empty(len(items), dtype=np.int64)
    for i, v in enumerate(items):
        try:
            out[i] = codes.setdefault(v, len(codes))
        except TypeError:
            raise TypeError(f"{name} row {i}: unhashable action {v!r}") from None
    return out


def _is_fingerprints(array: np.ndarray) -> bool:
    return array.dtype == FINGERPRINT_DTYPE


def fingerprints(states: Any, name: str, *, key: Callable[[Any], Any] | None = None,
                 num_threads: int = 0, check_only: bool = False) -> np.ndarray:
    """Fingerprints of states as a (n, 2) uint64 array (see graphgpo.fingerprint for the accepted kinds).

    ``check_only`` validates the kinds of states (same errors) but skips hashing and returns zeros: GRPO
    never looks at states, so it should not pay for hashing them.
    """
    if check_only:
        n = len(states)
        if key is None and isinstance(states, (list, tuple)) and n and isinstance(states[0], (str, bytes)):
            _core.fingerprint_buffers(states, num_threads, check_only=True)
        elif key is None:
            fingerprints(states[:1] if n else states, name, num_threads=num_threads)  # kind errors only
        return np.zeros((n, 2), dtype=np.uint64)
    if key is not None:
        states = [key(s) for s in states]  # user canonicalization: one call per state, by design
    states = to_numpy(states, name)
    if isinstance(states, np.ndarray):
        return _array_fingerprints(states, name, num_threads)
    if isinstance(states, (list, tuple)):
        if len(states) == 0:
            return np.zeros((0, 2), dtype=np.uint64)
        first = states[0]
        if isinstance(first, (str, bytes)):
            return _core.fingerprint_buffers(states, num_threads)
        if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            try:
                values = np.asarray(states, dtype=np.int64)
            except (TypeError, ValueError, OverflowError):
                bad = next(i for i, v in enumerate(states)
                           if not isinstance(v, (int, np.integer)) or isinstance(v, bool))
                raise TypeError(f"{name} row {bad}: unsupported state {states[bad]!r} in a list of integers") from None
            return _core.fingerprint_int64(values, num_threads)
        if isinstance(first, (list, tuple, np.ndarray)):
            return _sequence_fingerprints(states, name, num_threads)
        raise TypeError(
            f"{name} row 0: unsupported state type {type(first).__name__!r}; states must be str, bytes, int, "
            "a 2-D array, fingerprints, or sequences of ints (pass key= to map other states to one of these)")
    raise TypeError(f"{name}: unsupported states container {type(states).__name__!r}")


def _array_fingerprints(array: np.ndarray, name: str, num_threads: int) -> np.ndarray:
    if _is_fingerprints(array):
        if array.ndim != 1:
            raise ValueError(f"{name} fingerprints must be one-dimensional")
        return np.ascontiguousarray(array).view(np.uint64).reshape(-1, 2)
    kind = array.dtype.kind
    if array.ndim == 1:
        if kind in "iub":
            return _core.fingerprint_int64(np.ascontiguousarray(array, dtype=np.int64), num_threads)
        if kind in "USO":
            return fingerprints(array.tolist(), name, num_threads=num_threads)
        raise TypeError(f"{name}: states of dtype {array.dtype} are not supported "
                        "(float states have no exact identity; use integers, text, or key=)")
    if array.ndim == 2:
        # One canonical dtype per kind, so int32 and int64 token ids fingerprint the same.
        if kind in "iu":
            array = np.ascontiguousarray(array, dtype=np.int64)
        elif kind == "b":
            array = np.ascontiguousarray(array, dtype=np.uint8)
        elif kind == "f":
            array = np.ascontiguousarray(array, dtype=np.float64)
        else:
            raise TypeError(f"{name}: 2-D states of dtype {array.dtype} are not supported")
        return _core.fingerprint_rows(array, num_threads)
    raise ValueError(f"{name} must be one- or two-dimensional, got shape {array.shape}")


def _sequence_fingerprints(states: Sequence[Any], name: str, num_threads: int) -> np.ndarray:
    """Ragged integer sequences (e.g. token ids): each hashed as int64 bytes, matching 2-D int rows."""
    buffers = []
    for i, row in enumerate(states):
        row = np.asarray(to_numpy(row, name))
        if row.ndim != 1 or (row.size and row.dtype.kind not in "iub"):
            raise TypeError(f"{name} row {i}: sequences must be one-dimensional integers")
        buffers.append(np.ascontiguousarray(row, dtype=np.int64).tobytes())
    return _core.fingerprint_buffers(buffers, num_threads, as_rows=True)


def options_json(options: dict[str, Any]) -> str:
    """Options as the JSON the engine parses (numpy scalars become plain numbers)."""
    plain = {}
    for k, v in options.items():
        if isinstance(v, np.generic):
            v = v.item()
        elif type(v).__module__.startswith("torch") and getattr(v, "ndim", None) == 0:
            v = v.item()
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise TypeError(f"option {k!r} must be a number, bool or string, got {type(v).__name__}")
        plain[k] = v
    return json.dumps(plain)
