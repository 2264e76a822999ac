"""The estimators on CUDA tensors (optional; needs a build with ``GRAPHGPO_CUDA=ON`` and PyTorch).

``graphgpo.cuda.advantages`` takes the same arguments as :func:`graphgpo.advantages`, but the per-row
fields may be torch CUDA tensors; the result is a float64 CUDA tensor on the same device. Tensors already
on the device are read in place through DLPack (no host round-trip); anything else (lists, numpy arrays,
CPU tensors, text states) is prepared on the host and uploaded once. See docs/cuda.md for what runs on the
device and the parity contract (same numbers as the CPU engine).

States on the device:

- a 1-D integer tensor: integer states (hashed on the device like ``graphgpo.fingerprint`` hashes ints);
- a 2-D tensor: one row per state (integer rows hashed as int64 bytes, bool as uint8, floats as float64,
  exactly like 2-D numpy arrays on the CPU);
- :class:`TokenRows` ``(tokens, lengths)``: ragged token-id sequences padded into a 2-D integer tensor; row
  ``i`` is ``tokens[i, :lengths[i]]`` (the same fingerprint as the list-of-sequences form on the CPU);
- :class:`Fingerprints`: an ``(n, 2)`` int64/uint64 tensor of precomputed fingerprints, e.g.
  ``Fingerprints(torch.from_numpy(graphgpo.fingerprint(texts).view(np.int64)).cuda())``.

Text (str/bytes) states are fingerprinted on the host and uploaded (16 bytes per row).
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._estimators import CUDA_METHODS, ESTIMATORS, check_method
from ._inputs import as_action_ids, as_flags, as_floats, as_ids, fingerprints, row_count, row_length
from ._options import checked_options_json, thread_count

__all__ = ["Fingerprints", "TokenRows", "advantages", "fingerprint", "is_available", "next_state_distances"]

# The device type the batch lives on. Tests without a GPU set it to "cpu" together with a stand-in for
# _core._cuda (tests/test_cuda.py), to exercise this module's conversions end to end.
_DEVICE_TYPE = "cuda"

_NOT_COMPILED = (
    "graphgpo.cuda: this build of graphgpo has no CUDA kernels (graphgpo.cuda_available() is False). "
    "Rebuild from source with nvcc on the PATH: GRAPHGPO_CUDA=ON pip install --no-build-isolation . "
    "(see docs/cuda.md), or use graphgpo.advantages on the CPU."
)


class TokenRows(NamedTuple):
    """Ragged integer sequences padded into ``tokens`` (n, width); row i is ``tokens[i, :lengths[i]]``."""

    tokens: Any
    lengths: Any


class Fingerprints(NamedTuple):
    """Precomputed state fingerprints: an (n, 2) int64 or uint64 tensor of (lo, hi) pairs."""

    values: Any


def is_available() -> bool:
    """True when the CUDA kernels are compiled in, PyTorch is installed and sees a CUDA device."""
    if not _core._cuda.compiled():
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available()) and _core._cuda.device_count() > 0


def _torch():
    if not _core._cuda.compiled():
        raise RuntimeError(_NOT_COMPILED)
    try:
        import torch
    except ImportError as e:
        raise ImportError("graphgpo.cuda needs PyTorch (pip install torch) to hold device arrays") from e
    if _DEVICE_TYPE == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("graphgpo.cuda: PyTorch sees no CUDA device (torch.cuda.is_available() is False)")
    return torch


def _is_tensor(torch, value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _length(value: Any) -> int:
    if isinstance(value, (TokenRows, Fingerprints)):
        value = value[0]
    return row_length(value)


def _on_target(value) -> bool:
    return value.device.type == _DEVICE_TYPE


def _default_device(torch):
    if _DEVICE_TYPE == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(_DEVICE_TYPE)


def _device_context(torch, device):
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _pick_device(torch, device: Any, fields: dict[str, Any]):
    if device is not None:
        device = torch.device(device)
        if device.type != _DEVICE_TYPE:
            raise ValueError(f"device must be a CUDA device, got {device}")
        return device if device.index is not None or device.type != "cuda" else _default_device(torch)
    for value in fields.values():
        for v in (value if isinstance(value, (TokenRows, Fingerprints)) else (value,)):
            if _is_tensor(torch, v) and _on_target(v):
                return v.device
    return _default_device(torch)


def _on_device(torch, value, device, dtype, name):
    """A contiguous tensor of `dtype` on `device` (a no-op for a matching CUDA tensor)."""
    if _on_target(value) and value.device != device:
        raise ValueError(f"{name} is on {value.device} but the batch is on {device}")
    return value.detach().to(device=device, dtype=dtype).contiguous()


def _ids(torch, value, name, device):
    if _is_tensor(torch, value):
        if value.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {tuple(value.shape)}")
        if value.dtype.is_floating_point or value.dtype.is_complex:
            raise TypeError(f"{name} must hold integers, got dtype {value.dtype} (convert with .long())")
        return _on_device(torch, value, device, torch.int64, name)
    ids = as_action_ids(value, name) if name == "action" else as_ids(value, name)
    return torch.from_numpy(ids).to(device)


def _flags(torch, value, name, device):
    if _is_tensor(torch, value):
        if value.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {tuple(value.shape)}")
        if value.dtype != torch.bool:
            bad = (value != 0) & (value != 1)
            if bool(bad.any()):  # one scalar copy, only for non-bool flags (success=2 is an error)
                row = int(torch.nonzero(bad)[0, 0])
                raise ValueError(f"{name} must be boolean; row {row} is {value[row].item()!r} (expected True/False or 0/1)")
        if _on_target(value) and value.device != device:
            raise ValueError(f"{name} is on {value.device} but the batch is on {device}")
        return (value.detach().to(device) != 0).to(torch.uint8).contiguous()
    return torch.from_numpy(as_flags(value, name)).to(device)


def _floats(torch, value, name, device):
    if _is_tensor(torch, value):
        if value.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {tuple(value.shape)}")
        if value.dtype.is_complex:
            raise TypeError(f"{name} must be numeric, got dtype {value.dtype}")
        return _on_device(torch, value, device, torch.float64, name)
    return torch.from_numpy(as_floats(value, name)).to(device)


def _stream(torch, device) -> int:
    return int(torch.cuda.current_stream(device).cuda_stream) if device.type == "cuda" else 0


def _device_fingerprints(torch, states, name, device, key=None, hash_states=True):
    """(n, 2) int64 fingerprints on `device` (hashed on the device when the states are device tensors)."""
    if isinstance(states, Fingerprints):
        values = states.values
        if not _is_tensor(torch, values):
            values = torch.from_numpy(np.ascontiguousarray(values).view(np.int64).reshape(-1, 2))
        if values.ndim != 2 or values.shape[1] != 2:
            raise ValueError(f"{name} fingerprints must have shape (n, 2), got {tuple(values.shape)}")
        if values.dtype not in (torch.int64, torch.uint64):
            raise TypeError(f"{name} fingerprints must be int64 or uint64, got {values.dtype}")
        if _on_target(values) and values.device != device:
            raise ValueError(f"{name} is on {values.device} but the batch is on {device}")
        return values.detach().to(device).contiguous()
    if isinstance(states, TokenRows):
        tokens, lengths = states
        if not _is_tensor(torch, tokens):
            tokens = torch.as_tensor(np.asarray(tokens))
        if not _is_tensor(torch, lengths):
            lengths = torch.as_tensor(np.asarray(lengths))
        if tokens.ndim != 2 or tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise TypeError(f"{name}: TokenRows tokens must be a 2-D integer tensor")
        if lengths.ndim != 1 or lengths.shape[0] != tokens.shape[0]:
            raise ValueError(f"{name}: TokenRows lengths must have one entry per row of tokens")
        if lengths.dtype.is_floating_point:
            raise TypeError(f"{name}: TokenRows lengths must be integers")
        rows = _on_device(torch, tokens, device, torch.int64, name)
        lens = _on_device(torch, lengths, device, torch.int64, name)
        out = torch.empty((rows.shape[0], 2), dtype=torch.int64, device=device)
        if hash_states and rows.shape[0]:
            _core._cuda.fingerprint_rows(rows.__dlpack__(), lens.__dlpack__(), out.__dlpack__(), _stream(torch, device))
        return out
    if _is_tensor(torch, states):
        if key is not None:
            raise TypeError(f"{name}: key= applies to Python states, not to tensors")
        if states.ndim == 1:
            if states.dtype.is_floating_point or states.dtype.is_complex:
                raise TypeError(f"{name}: states of dtype {states.dtype} are not supported "
                                "(float states have no exact identity; use integers, text, or key=)")
            values = _on_device(torch, states, device, torch.int64, name)
            out = torch.empty((values.shape[0], 2), dtype=torch.int64, device=device)
            if hash_states and values.shape[0]:
                _core._cuda.fingerprint_int64(values.__dlpack__(), out.__dlpack__(), _stream(torch, device))
            return out
        if states.ndim == 2:
            # One canonical dtype per kind, as graphgpo.fingerprint does for 2-D arrays.
            if states.dtype == torch.bool:
                rows = _on_device(torch, states, device, torch.uint8, name)
            elif states.dtype.is_floating_point:
                rows = _on_device(torch, states, device, torch.float64, name)
            elif states.dtype.is_complex:
                raise TypeError(f"{name}: 2-D states of dtype {states.dtype} are not supported")
            else:
                rows = _on_device(torch, states, device, torch.int64, name)
            out = torch.empty((rows.shape[0], 2), dtype=torch.int64, device=device)
            if hash_states and rows.shape[0]:
                _core._cuda.fingerprint_rows(rows.__dlpack__(), None, out.__dlpack__(), _stream(torch, device))
            return out
        raise ValueError(f"{name} must be one- or two-dimensional, got shape {tuple(states.shape)}")
    # Python states (text, bytes, lists, numpy): hashed by the CPU engine, uploaded once.
    host = fingerprints(states, name, key=key, check_only=not hash_states, allow_none=name == "next_state")
    return torch.from_numpy(np.ascontiguousarray(host).view(np.int64)).to(device)


def fingerprint(states: Any, *, device: Any = None) -> Any:
    """Fingerprints of states as an (n, 2) int64 CUDA tensor, bit-identical to
    ``graphgpo.fingerprint(...)`` (viewed as int64) for the same states. Accepts the state kinds of
    :func:`advantages`."""
    torch = _torch()
    dev = _pick_device(torch, device, {"state": states})
    with _device_context(torch, dev):
        return _device_fingerprints(torch, states, "states", dev)


class _Rows(NamedTuple):
    n: int
    device: Any
    tensors: dict[str, Any]


def _prepare(torch, fields: dict[str, Any], key, device, hash_states: bool) -> _Rows:
    n = row_count(fields, _length)
    dev = _pick_device(torch, device, fields)
    convert = {"group": _ids, "trajectory": _ids, "action": _ids, "success": _flags, "valid": _flags,
               "reward": _floats, "cost": _floats}
    tensors: dict[str, Any] = {}
    with _device_context(torch, dev):
        for name, value in fields.items():
            if value is None:
                tensors[name] = None
            elif name in ("state", "next_state"):
                tensors[name] = _device_fingerprints(torch, value, name, dev, key, hash_states)
            else:
                tensors[name] = convert[name](torch, value, name, dev)
    return _Rows(n, dev, tensors)


def _capsule(x):
    return None if x is None else x.__dlpack__()


def advantages(method: str, *, group, trajectory, state, success, next_state=None, valid=None, reward=None,
               cost=None, action=None, key=None, device: Any = None, num_threads: int | None = None,
               **options: Any) -> Any:
    """Per-row advantages computed on a CUDA device: the same arguments, options and numbers as
    :func:`graphgpo.advantages`, returned as a float64 tensor on the batch's device (``num_threads`` is
    accepted for compatibility and ignored).

    Raises RuntimeError when this build has no CUDA kernels or PyTorch sees no device, ImportError without
    PyTorch, and ValueError/TypeError for bad input (naming the first offending row, like the CPU engine).
    """
    check_method(method)
    if method not in CUDA_METHODS:
        raise ValueError(f"{method} is not implemented on the CUDA path; use graphgpo.advantages (CPU)")
    thread_count(num_threads)  # ignored here, but held to the same rules as on the CPU
    if options.get("memory") is not None or options.get("task") is not None:
        raise ValueError("memory= (graph memory across calls) runs on the CPU engine only (graphgpo.advantages)")
    torch = _torch()
    encoded = checked_options_json(options)  # unknown options and bad values fail before any work
    if options.get("merge") == "similar" and ESTIMATORS[method].builds_graph:
        raise ValueError("merge='similar' compares texts and runs on the CPU engine only (graphgpo.advantages)")
    fields = {"group": group, "trajectory": trajectory, "state": state, "success": success,
              "next_state": next_state, "valid": valid, "reward": reward, "cost": cost, "action": action}
    # grpo never reads states: their kinds are checked, but they are not hashed.
    rows = _prepare(torch, fields, key, device, hash_states=method != "grpo")
    dev, t = rows.device, rows.tensors
    with _device_context(torch, dev):
        out = torch.empty(rows.n, dtype=torch.float64, device=dev)
        if rows.n == 0:
            return out
        workspace = torch.empty(_core._cuda.workspace_size(method, rows.n, encoded), dtype=torch.uint8, device=dev)
        order = ("group", "trajectory", "state", "next_state", "success", "valid", "reward", "cost", "action")
        _core._cuda.advantages(method, *(_capsule(t[k]) for k in order), encoded, _capsule(out),
                               _capsule(workspace), _stream(torch, dev))
        return out


def next_state_distances(*, group, trajectory, state, success, next_state=None, cost=None, action=None, key=None,
                         device: Any = None, **options: Any) -> Any:
    """Each row's d(next state), the graph distance to SUCCESS that graphgpo raises omega to (SPEC "Graph
    and distance"; ``distance="expected"`` needs ``action``), as a float64 tensor on the device. Equal to
    the CPU graph's distances (:func:`graphgpo.build_graphs`). For diagnostics and tests."""
    torch = _torch()
    encoded = checked_options_json(options)
    if options.get("merge") == "similar":
        raise ValueError("merge='similar' compares texts and runs on the CPU engine only (graphgpo.build_graphs)")
    fields = {"group": group, "trajectory": trajectory, "state": state, "success": success,
              "next_state": next_state, "cost": cost, "action": action}
    rows = _prepare(torch, fields, key, device, hash_states=True)
    dev, t = rows.device, rows.tensors
    with _device_context(torch, dev):
        out = torch.empty(rows.n, dtype=torch.float64, device=dev)
        if rows.n:
            order = ("group", "trajectory", "state", "next_state", "success", "cost", "action")
            _core._cuda.next_state_distances(*(_capsule(t[k]) for k in order), encoded, _capsule(out),
                                             _stream(torch, dev))
        return out
