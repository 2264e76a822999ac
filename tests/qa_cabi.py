"""ctypes access to the C ABI's graphgpo_advantages_batch (QA red team), independent of the bindings."""

from __future__ import annotations

import ctypes
import json

import numpy as np

from graphgpo._paths import get_library


class Fingerprint(ctypes.Structure):
    _fields_ = [("lo", ctypes.c_uint64), ("hi", ctypes.c_uint64)]


class Batch(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("n", ctypes.c_size_t),
        ("group", ctypes.POINTER(ctypes.c_int64)), ("trajectory", ctypes.POINTER(ctypes.c_int64)),
        ("state", ctypes.POINTER(Fingerprint)), ("next_state", ctypes.POINTER(Fingerprint)),
        ("success", ctypes.POINTER(ctypes.c_uint8)), ("valid", ctypes.POINTER(ctypes.c_uint8)),
        ("reward", ctypes.POINTER(ctypes.c_double)), ("cost", ctypes.POINTER(ctypes.c_double)),
        ("action", ctypes.POINTER(ctypes.c_int64)), ("task", ctypes.POINTER(ctypes.c_int64)),
        ("state_text", ctypes.POINTER(ctypes.c_char_p)), ("state_text_size", ctypes.POINTER(ctypes.c_size_t)),
        ("next_state_text", ctypes.POINTER(ctypes.c_char_p)),
        ("next_state_text_size", ctypes.POINTER(ctypes.c_size_t)),
        ("text_encoding", ctypes.c_int32),
    ]


_LIB = None


def lib():
    global _LIB
    if _LIB is None:
        _LIB = ctypes.CDLL(get_library())
        _LIB.graphgpo_advantages_batch.restype = ctypes.c_int
        _LIB.graphgpo_advantages_batch.argtypes = [ctypes.c_char_p, ctypes.POINTER(Batch), ctypes.c_char_p,
                                                   ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]
        _LIB.graphgpo_last_error.restype = ctypes.c_char_p
        _LIB.graphgpo_fingerprint_bytes.restype = ctypes.c_int
        _LIB.graphgpo_fingerprint_bytes.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Fingerprint)]
        _LIB.graphgpo_memory_create.restype = ctypes.c_int
        _LIB.graphgpo_memory_create.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        _LIB.graphgpo_memory_free.restype = None
        _LIB.graphgpo_memory_free.argtypes = [ctypes.c_void_p]
        _LIB.graphgpo_memory_save.restype = ctypes.c_int
        _LIB.graphgpo_memory_save.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        _LIB.graphgpo_memory_load.restype = ctypes.c_int
        _LIB.graphgpo_memory_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        _LIB.graphgpo_memory_stats.restype = ctypes.c_int
        _LIB.graphgpo_memory_stats.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(ctypes.c_uint64)] * 4
    return _LIB


class Memory:
    """A graphgpo_memory_t handle (freed with the object)."""

    def __init__(self, options: dict | None = None, *, handle=None):
        self.handle = handle
        if handle is None:
            h = ctypes.c_void_p()
            status = lib().graphgpo_memory_create(json.dumps(options or {}).encode(), ctypes.byref(h))
            if status:
                raise ValueError(lib().graphgpo_last_error().decode())
            self.handle = h

    @classmethod
    def load(cls, path) -> tuple[int, Memory | None, str]:
        h = ctypes.c_void_p()
        status = lib().graphgpo_memory_load(str(path).encode(), ctypes.byref(h))
        if status:
            return status, None, lib().graphgpo_last_error().decode()
        return 0, cls(handle=h), ""

    def save(self, path) -> tuple[int, str]:
        status = lib().graphgpo_memory_save(self.handle, str(path).encode())
        return status, lib().graphgpo_last_error().decode() if status else ""

    def stats(self) -> dict:
        values = [ctypes.c_uint64() for _ in range(4)]
        assert lib().graphgpo_memory_stats(self.handle, *[ctypes.byref(v) for v in values]) == 0
        return dict(zip(("tasks", "edges", "bytes", "calls"), (v.value for v in values)))

    def __del__(self):
        if self.handle is not None and _LIB is not None:
            _LIB.graphgpo_memory_free(self.handle)
            self.handle = None


def _arr(ctype, values):
    return (ctype * len(values))(*values) if values is not None else None


def _texts(values):
    """(array of char*, array of sizes, keepalive) for a list of str / bytes."""
    raw = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]
    ptrs = (ctypes.c_char_p * len(raw))(*raw)
    sizes = (ctypes.c_size_t * len(raw))(*[len(r) for r in raw])
    return ptrs, sizes, raw


def fingerprint(value) -> tuple[int, int]:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    fp = Fingerprint()
    assert lib().graphgpo_fingerprint_bytes(raw, len(raw), ctypes.byref(fp)) == 0
    return fp.lo, fp.hi


def advantages_batch(method, *, group, trajectory, state, success, next_state=None, valid=None, reward=None,
                     cost=None, action=None, options=None, encoding=None, fingerprints=False,
                     next_fingerprints=None, sentinel=12345.0, struct_size=None, raw_options=None, task=None,
                     memory: Memory | None = None):
    """Call graphgpo_advantages_batch with texts. Returns (status, out array, error message)."""
    n = len(group)
    keep = []
    b = Batch()
    b.struct_size = ctypes.sizeof(Batch) if struct_size is None else struct_size
    b.n = n
    for name, ctype, values in (("group", ctypes.c_int64, group), ("trajectory", ctypes.c_int64, trajectory),
                                ("success", ctypes.c_uint8, [int(bool(s)) for s in success]),
                                ("valid", ctypes.c_uint8, None if valid is None else [int(bool(v)) for v in valid]),
                                ("reward", ctypes.c_double, reward), ("cost", ctypes.c_double, cost),
                                ("action", ctypes.c_int64, action), ("task", ctypes.c_int64, task)):
        if values is not None:
            a = _arr(ctype, list(values))
            keep.append(a)
            setattr(b, name, ctypes.cast(a, ctypes.POINTER(ctype)))
    if encoding is None:
        encoding = 0 if state and isinstance(state[0], bytes) else 1
    b.text_encoding = encoding
    if state is not None:
        ptrs, sizes, raw = _texts(state)
        keep += [ptrs, sizes, raw]
        b.state_text = ctypes.cast(ptrs, ctypes.POINTER(ctypes.c_char_p))
        b.state_text_size = ctypes.cast(sizes, ctypes.POINTER(ctypes.c_size_t))
        if fingerprints:
            fps = (Fingerprint * n)(*[Fingerprint(*fingerprint(s)) for s in state])
            keep.append(fps)
            b.state = ctypes.cast(fps, ctypes.POINTER(Fingerprint))
    if next_state is not None:
        ptrs, sizes, raw = _texts([b"" if s is None else s for s in next_state])
        keep += [ptrs, sizes, raw]
        b.next_state_text = ctypes.cast(ptrs, ctypes.POINTER(ctypes.c_char_p))
        b.next_state_text_size = ctypes.cast(sizes, ctypes.POINTER(ctypes.c_size_t))
        if fingerprints or any(s is None for s in next_state):
            fps = (Fingerprint * n)(*[Fingerprint(0, 0) if s is None else Fingerprint(*fingerprint(s))
                                      for s in next_state])
            keep.append(fps)
            b.next_state = ctypes.cast(fps, ctypes.POINTER(Fingerprint))
    out = (ctypes.c_double * max(n, 1))(*([sentinel] * max(n, 1)))
    opts = raw_options if raw_options is not None else json.dumps(options or {}).encode()
    status = lib().graphgpo_advantages_batch(method.encode(), ctypes.byref(b), opts,
                                             None if memory is None else memory.handle, out)
    message = lib().graphgpo_last_error().decode("utf-8", "replace") if status else ""
    return status, np.array(out[:n]), message
