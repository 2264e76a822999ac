"""Turning user inputs (numpy, lists, CPU torch tensors, str/bytes/int/array states) into the typed,
contiguous arrays the engine reads in place. Errors name the field and, where there is one, the first
offending row. No per-row Python loop runs for str, bytes, int or array states."""

from __future__ import annotations

import json
import re
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


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _is_int_type(t: type) -> bool:
    """Python and numpy integers; bool is not an integer here (``True`` in a list of ids is a mistake)."""
    return issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_))


def _is_text_type(t: type) -> bool:
    return issubclass(t, (str, bytes))


def _kind_name(value: Any) -> str:
    return type(value).__name__


def _first_of_other_kind(items: Sequence[Any], same_kind: Callable[[type], bool]) -> int:
    return next(i for i, v in enumerate(items) if not same_kind(type(v)))


def _int64_or_raise(items: Sequence[Any], name: str, what: str) -> np.ndarray:
    """A list of Python/numpy integers as int64, exactly: a value outside int64 raises ValueError naming
    its row (numpy would otherwise fall back to float64 or object and lose or wrap it)."""
    try:
        return np.array(items, dtype=np.int64)
    except OverflowError:
        bad = next(i for i, v in enumerate(items) if not _INT64_MIN <= v <= _INT64_MAX)
        raise ValueError(f"{name} row {bad}: {what} {items[bad]} does not fit in int64") from None


def _check_uint64(array: np.ndarray, name: str, what: str) -> None:
    """uint64 values >= 2**63 have no int64 equal; casting would wrap them onto negative values."""
    if array.dtype.kind == "u" and array.dtype.itemsize == 8 and array.size:
        bad = np.argwhere(array > np.uint64(_INT64_MAX))
        if len(bad):
            raise ValueError(f"{name} row {bad[0][0]}: {what} {array[tuple(bad[0])]} does not fit in int64")


def text_ids(items: Sequence[Any], num_threads: int = 0) -> np.ndarray:
    """int64 ids of str/bytes ids (e.g. verl's uuid ``uid``): the low 64 bits of their 128-bit fingerprint,
    so equal strings give equal ids in every call and process, a str is its UTF-8 bytes, and two different
    strings share an id with probability 2**-64 (about n**2 / 2**65 for n distinct ids)."""
    return np.ascontiguousarray(_core.fingerprint_buffers(items, num_threads)[:, 0]).view(np.int64)


def _ids_from_list(items: Sequence[Any], name: str) -> np.ndarray:
    """Ids given as a Python sequence: all integers, all str/bytes, or all floats holding integers."""
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64)
    types = set(map(type, items))
    if all(_is_int_type(t) for t in types):
        return _int64_or_raise(items, name, "id")
    if all(_is_text_type(t) for t in types):
        return text_ids(items)
    if all(issubclass(t, (float, np.floating)) for t in types):
        return _float_ids(np.asarray(items, dtype=np.float64), name)
    first = items[0]
    for same_kind in (_is_int_type, _is_text_type, lambda t: issubclass(t, (float, np.floating))):
        if same_kind(type(first)):
            bad = _first_of_other_kind(items, same_kind)
            raise TypeError(f"{name} row {bad}: {items[bad]!r} ({_kind_name(items[bad])}) among "
                            f"{_kind_name(first)} ids; ids must all be integers or all strings")
    raise TypeError(f"{name} row 0: {first!r} ({_kind_name(first)}) is not an id; "
                    "ids must be integers or strings (str/bytes, hashed)")


def _float_ids(array: np.ndarray, name: str) -> np.ndarray:
    """Floats that hold integers within int64 (e.g. ids that went through a float tensor)."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(array) | (array != np.floor(array)) | (array < -(2.0**63)) | (array >= 2.0**63)
    if bad.any():
        row = _first_row(bad)
        raise ValueError(f"{name} row {row}: {array[row].item()!r} is not an integer id within int64")
    return np.ascontiguousarray(array, dtype=np.int64)


def as_ids(value: Any, name: str) -> np.ndarray:
    """One-dimensional int64 ids: integers as they are, str/bytes hashed (see :func:`text_ids`), floats only
    when they hold integers. Out-of-range or fractional ids raise ValueError naming the row; bools and mixed
    element types raise TypeError. Nothing is converted silently."""
    value = to_numpy(value, name)
    if isinstance(value, (list, tuple)):
        return _ids_from_list(value, name)
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    kind = array.dtype.kind
    if array.size == 0 and kind in "iufbO":
        return np.zeros(0, dtype=np.int64)
    if kind == "i":
        return np.ascontiguousarray(array, dtype=np.int64)
    if kind == "u":
        _check_uint64(array, name, "id")
        return np.ascontiguousarray(array, dtype=np.int64)
    if kind == "f":
        return _float_ids(array, name)
    if kind in "US":
        return text_ids(array.tolist())
    if kind == "O":
        return _ids_from_list(array.tolist(), name)
    if kind == "b":
        raise TypeError(f"{name} must hold integer or string ids, got booleans")
    raise TypeError(f"{name} must hold integer or string ids, got dtype {array.dtype}")


def as_flags(value: Any, name: str) -> np.ndarray:
    """Per-row booleans as uint8 0/1: bools, or numbers that are exactly 0 or 1 (``success=2`` is an error,
    not True)."""
    array = np.asarray(to_numpy(value, name))
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "b":
        return np.ascontiguousarray(array).view(np.uint8)  # numpy bools are bytes holding 0 or 1
    if array.dtype.kind in "iuf":
        bad = (array != 0) & (array != 1)
        if bad.any():
            row = _first_row(bad)
            raise ValueError(f"{name} must be boolean; row {row} is {array[row].item()!r} (expected True/False or 0/1)")
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
    if probe is not None and probe.dtype.kind in "iu":
        return as_ids(probe, name)
    if probe is not None and probe.dtype.kind == "b":
        return np.ascontiguousarray(probe, dtype=np.int64)
    items = list(array)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        return _int64_or_raise(items, name, "action")
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


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


#: "<field> row <n>: ..." -- the form of every per-row state error (the engine's binding says "state").
_ROW_ERROR = re.compile(r"^\w+ row (\d+): ")


def fingerprints(states: Any, name: str, *, key: Callable[[Any], Any] | None = None,
                 num_threads: int = 0, check_only: bool = False, allow_none: bool = False) -> np.ndarray:
    """Fingerprints of states as a (n, 2) uint64 array (see graphgpo.fingerprint for the accepted kinds).

    ``check_only`` validates the kinds of states (same errors) but skips hashing and returns zeros: GRPO
    never looks at states, so it should not pay for hashing them. ``allow_none`` (next_state) lets a row's
    state be None, "no state": its fingerprint is the reserved {0, 0}, which the engine reads as absent.
    Errors name the field and the first offending row.
    """
    if allow_none and isinstance(states, np.ndarray) and states.dtype.kind == "O":
        states = states.tolist()
    if key is not None:
        # User canonicalization: one call per state, by design (never on a missing next state).
        states = [None if allow_none and s is None else key(s) for s in states]
    try:
        return _fingerprints(states, name, num_threads, check_only)
    except (TypeError, ValueError) as err:
        match = _ROW_ERROR.match(str(err))
        if match is None:
            raise
        row = int(match.group(1))
        if allow_none and states[row] is None:
            # Rare, so the fast paths never scan for None: redo with the gaps filled, then zero them.
            return _fingerprints_with_gaps(states, name, num_threads, check_only)
        message = f"{name} row {row}: {str(err)[match.end():]}"
        if states[row] is None:
            message += "; None means 'no state' and is accepted only in next_state"
        raise type(err)(message) from None


def _fingerprints_with_gaps(states: Sequence[Any], name: str, num_threads: int, check_only: bool) -> np.ndarray:
    missing = np.fromiter((s is None for s in states), dtype=bool, count=len(states))
    if missing.all():
        return np.zeros((len(states), 2), dtype=np.uint64)
    filler = states[int(np.argmin(missing))]  # a state of the same kind keeps errors' row numbers right
    out = fingerprints([filler if s is None else s for s in states], name, num_threads=num_threads,
                       check_only=check_only)
    out[missing] = 0
    return out


def _fingerprints(states: Any, name: str, num_threads: int, check_only: bool) -> np.ndarray:
    if check_only:
        n = len(states)
        if isinstance(states, (list, tuple)) and n and isinstance(states[0], (str, bytes)):
            _core.fingerprint_buffers(states, num_threads, check_only=True)
        else:
            _fingerprints(states[:1] if n else states, name, num_threads, False)  # kind errors only
        return np.zeros((n, 2), dtype=np.uint64)
    states = to_numpy(states, name)
    if isinstance(states, np.ndarray):
        return _array_fingerprints(states, name, num_threads)
    if isinstance(states, (list, tuple)):
        if len(states) == 0:
            return np.zeros((0, 2), dtype=np.uint64)
        first = states[0]
        if isinstance(first, (str, bytes)):
            return _core.fingerprint_buffers(states, num_threads)
        if _is_int_type(type(first)):
            return _int_list_fingerprints(states, name, num_threads)
        if isinstance(first, (list, tuple, np.ndarray)) or (_is_tensor(first) and getattr(first, "ndim", 0) == 1):
            return _sequence_fingerprints(states, name, num_threads)
        raise TypeError(
            f"{name} row 0: unsupported state type {type(first).__name__!r}; states must be str, bytes, int, "
            "a 2-D array, fingerprints, or sequences of ints (pass key= to map other states to one of these)")
    raise TypeError(f"{name}: unsupported states container {type(states).__name__!r}")


def _int_list_fingerprints(states: Sequence[Any], name: str, num_threads: int) -> np.ndarray:
    """A list of integer states; a float or bool among them is an error, never cast (12.5 is not 12)."""
    if not all(_is_int_type(t) for t in set(map(type, states))):
        bad = _first_of_other_kind(states, _is_int_type)
        raise TypeError(f"{name} row {bad}: unsupported state {states[bad]!r} ({_kind_name(states[bad])}) "
                        "in a list of integers")
    return _core.fingerprint_int64(_int64_or_raise(states, name, "integer state"), num_threads)


def _array_fingerprints(array: np.ndarray, name: str, num_threads: int) -> np.ndarray:
    if _is_fingerprints(array):
        if array.ndim != 1:
            raise ValueError(f"{name} fingerprints must be one-dimensional")
        return np.ascontiguousarray(array).view(np.uint64).reshape(-1, 2)
    kind = array.dtype.kind
    if array.ndim == 1:
        if kind in "iub":
            _check_uint64(array, name, "integer state")
            return _core.fingerprint_int64(np.ascontiguousarray(array, dtype=np.int64), num_threads)
        if kind in "USO":
            return _fingerprints(array.tolist(), name, num_threads, False)
        raise TypeError(f"{name}: states of dtype {array.dtype} are not supported "
                        "(float states have no exact identity; use integers, text, or key=)")
    if array.ndim == 2:
        # One canonical dtype per kind, so int32 and int64 token ids fingerprint the same.
        if kind in "iu":
            _check_uint64(array, name, "integer")
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
    """Ragged integer sequences (token ids as lists, arrays or 1-D CPU tensors): each hashed as int64 bytes,
    matching the rows of a 2-D integer array."""
    buffers = []
    for i, row in enumerate(states):
        if isinstance(row, (list, tuple)) and not all(_is_int_type(t) for t in set(map(type, row))):
            raise TypeError(f"{name} row {i}: sequences must hold integers only")
        row = np.asarray(to_numpy(row, name))
        if row.ndim != 1 or (row.size and row.dtype.kind not in "iub"):
            raise TypeError(f"{name} row {i}: sequences must be one-dimensional integers")
        if row.dtype.kind == "u" and row.dtype.itemsize == 8 and row.size and row.max() > _INT64_MAX:
            raise ValueError(f"{name} row {i}: token {row.max()} does not fit in int64")
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
