"""The size-prefixed graphgpo_batch_t entry points of the C ABI, through ctypes: texts for merge="similar"
(bytes, and UTF-8 compared as code points), fingerprints derived from texts, struct_size, errors."""

import ctypes
import json

import numpy as np
import pytest
from test_merge_similar import SPEC_EXAMPLE, SPEC_EXPECTED

import graphgpo

P = ctypes.c_void_p


class Batch(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("n", ctypes.c_size_t),
        ("group", P), ("trajectory", P), ("state", P), ("next_state", P), ("success", P), ("valid", P),
        ("reward", P), ("cost", P), ("action", P), ("task", P),
        ("state_text", P), ("state_text_size", P), ("next_state_text", P), ("next_state_text_size", P),
        ("text_encoding", ctypes.c_int32),
    ]


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(graphgpo.get_library())
    lib.graphgpo_last_error.restype = ctypes.c_char_p
    lib.graphgpo_advantages_batch.argtypes = [ctypes.c_char_p, ctypes.POINTER(Batch), ctypes.c_char_p, P, P]
    lib.graphgpo_graphs_build_batch.argtypes = [ctypes.POINTER(Batch), ctypes.c_char_p, ctypes.POINTER(P)]
    lib.graphgpo_graphs_group_info.argtypes = [P, ctypes.c_size_t, P, P, P]
    lib.graphgpo_graphs_free.argtypes = [P]
    return lib


class CBatch:
    """A graphgpo_batch_t over numpy arrays and byte strings that stay alive with this object."""

    def __init__(self, rows, *, texts=True, encoding=0, fingerprints=False, struct_size=None):
        n = len(rows["group"])
        self.keep = []
        self.b = Batch()
        self.b.struct_size = ctypes.sizeof(Batch) if struct_size is None else struct_size
        self.b.n = n
        self.b.group = self.array(rows["group"], np.int64)
        self.b.trajectory = self.array(rows["trajectory"], np.int64)
        self.b.success = self.array(rows["success"], np.uint8)
        self.b.text_encoding = encoding
        for name in ("state", "next_state"):
            values = rows.get(name)
            if values is None:
                continue
            raw = [v.encode() if isinstance(v, str) else v for v in values]
            if texts:
                buffers = [ctypes.create_string_buffer(r, len(r)) for r in raw]
                self.keep.append(buffers)
                setattr(self.b, f"{name}_text", self.array([ctypes.addressof(x) for x in buffers], np.uintp))
                setattr(self.b, f"{name}_text_size", self.array([len(r) for r in raw], np.uintp))
            if fingerprints or not texts:
                fp = graphgpo.fingerprint(raw).view(np.uint64)
                setattr(self.b, name, self.array(fp, np.uint64))

    def array(self, values, dtype):
        a = np.ascontiguousarray(np.asarray(values, dtype=dtype))
        self.keep.append(a)
        return a.ctypes.data


def run(lib, method, batch: CBatch, options):
    out = np.full(batch.b.n, 7.0)
    status = lib.graphgpo_advantages_batch(method.encode(), ctypes.byref(batch.b), json.dumps(options).encode(),
                                           None, out.ctypes.data)
    return status, out


@pytest.mark.parametrize(("method", "merge"), list(SPEC_EXPECTED))
@pytest.mark.parametrize("encoding", [0, 1])
@pytest.mark.parametrize("fingerprints", [False, True])
def test_spec_example_through_the_batch_struct(lib, method, merge, encoding, fingerprints):
    status, out = run(lib, method, CBatch(SPEC_EXAMPLE, encoding=encoding, fingerprints=fingerprints),
                      {"omega": 0.5, "merge": merge})
    assert status == 0, lib.graphgpo_last_error()
    np.testing.assert_allclose(out, SPEC_EXPECTED[method, merge], atol=1e-6)


def test_utf8_compares_code_points_and_bytes_compare_bytes(lib):
    """Where str and bytes ratios differ, encoding 1 agrees with Python str and encoding 0 with bytes."""
    a, b = "Zimmer: ä ö ü ß é è ê " * 2, "Zimmer: a o u s e e e " * 2
    rows = {"group": [0, 0, 0, 0], "trajectory": [0, 0, 1, 1], "success": [1, 1, 0, 0],
            "state": ["start", a, "start", b]}
    for threshold in (0.5, 0.6, 0.7):
        for encoding, states in ((0, [s.encode() for s in rows["state"]]), (1, rows["state"])):
            expected = graphgpo.advantages("graphgpo", **dict(rows, state=states), merge="similar",
                                           similarity=threshold)
            status, out = run(lib, "graphgpo", CBatch(rows, encoding=encoding),
                              {"merge": "similar", "similarity": threshold})
            assert status == 0, lib.graphgpo_last_error()
            np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_invalid_utf8_names_the_row_and_writes_nothing(lib):
    rows = dict(SPEC_EXAMPLE, state=[s.encode() for s in SPEC_EXAMPLE["state"]])
    rows["state"][4] = b"caf\xc3"  # truncated sequence
    status, out = run(lib, "graphgpo", CBatch(rows, encoding=1), {"merge": "similar"})
    assert status == 1
    assert b"row 4" in lib.graphgpo_last_error() and b"UTF-8" in lib.graphgpo_last_error()
    assert (out == 7.0).all()
    for bad in (b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xff"):  # surrogate, overlong, > U+10FFFF
        rows["state"][4] = bad
        assert run(lib, "graphgpo", CBatch(rows, encoding=1), {"merge": "similar"})[0] == 1
    rows["state"][4] = "ok ✓ \U0001F600".encode()
    assert run(lib, "graphgpo", CBatch(rows, encoding=1), {"merge": "similar"})[0] == 0


def test_similar_without_texts_is_a_type_error(lib):
    status, out = run(lib, "gigpo", CBatch(SPEC_EXAMPLE, texts=False), {"merge": "similar"})
    assert status == 2 and b"text" in lib.graphgpo_last_error()
    assert (out == 7.0).all()
    # An older caller's struct ends before the text fields: they read as NULL.
    short = CBatch(SPEC_EXAMPLE, fingerprints=True, struct_size=Batch.task.offset)
    assert run(lib, "gigpo", short, {"merge": "similar"})[0] == 2
    status, out = run(lib, "gigpo", short, {})
    assert status == 0
    np.testing.assert_allclose(out, graphgpo.advantages("gigpo", **SPEC_EXAMPLE), atol=1e-12)


def test_bad_options_and_struct(lib):
    batch = CBatch(SPEC_EXAMPLE)
    assert run(lib, "graphgpo", batch, {"merge": "similar", "similarity": 1.0})[0] == 1
    assert b"similarity" in lib.graphgpo_last_error()
    assert run(lib, "graphgpo", batch, {"merge": "fuzzy"})[0] == 1
    batch.b.text_encoding = 3
    assert run(lib, "graphgpo", batch, {"merge": "similar"})[0] == 1
    batch.b.text_encoding = 0
    batch.b.struct_size = 0
    assert run(lib, "graphgpo", batch, {})[0] == 1 and b"struct_size" in lib.graphgpo_last_error()


def test_graphs_build_batch_merges_nodes(lib):
    handle, batch = P(), CBatch(SPEC_EXAMPLE)
    status = lib.graphgpo_graphs_build_batch(ctypes.byref(batch.b), b'{"merge": "similar"}', ctypes.byref(handle))
    assert status == 0, lib.graphgpo_last_error()
    group_id, nodes, edges = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
    assert lib.graphgpo_graphs_group_info(handle, 0, ctypes.byref(group_id), ctypes.byref(nodes),
                                          ctypes.byref(edges)) == 0
    assert (nodes.value, edges.value) == (4, 9)
    lib.graphgpo_graphs_free(handle)
