"""Fingerprints: equal exactly when states are equal, stable across processes, the same for every kind of
container of the same states."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgpo


def as_pairs(fp):
    return [tuple(x) for x in fp.tolist()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=40))
def test_bytes_equal_iff_fingerprints_equal(values):
    fps = as_pairs(graphgpo.fingerprint(values))
    for i in range(len(values)):
        for j in range(len(values)):
            assert (values[i] == values[j]) == (fps[i] == fps[j])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60))
def test_int_fingerprints_collision_free(values):
    fps = as_pairs(graphgpo.fingerprint(np.array(values, dtype=np.int64)))
    assert len(set(fps)) == len(set(values))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_str_is_hashed_as_utf8(texts):
    assert as_pairs(graphgpo.fingerprint(texts)) == as_pairs(graphgpo.fingerprint([t.encode() for t in texts]))


def test_known_values_are_stable():
    """Pinned outputs: a change to the hash is a breaking change for stored fingerprints."""
    fp = graphgpo.fingerprint(["", "a", "graphgpo"])
    again = subprocess.run([sys.executable, "-c", "import graphgpo; print(graphgpo.fingerprint(['', 'a', 'graphgpo']).tolist())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert again == str(fp.tolist())
    assert fp.dtype == graphgpo.FINGERPRINT_DTYPE and fp.shape == (3,)
    assert len({tuple(x) for x in fp.tolist()}) == 3


def test_every_length_and_alignment_distinct():
    """Lengths 0..300 of one byte pattern, and every one-bit flip of a 100-byte string, all distinct."""
    base = bytes(range(256)) + bytes(range(44))
    values = [base[:k] for k in range(301)]
    flips = []
    for bit in range(800):
        b = bytearray(base[:100])
        b[bit // 8] ^= 1 << (bit % 8)
        flips.append(bytes(b))
    fps = as_pairs(graphgpo.fingerprint(values + flips))
    assert len(set(fps)) == len(values) + len(flips)


def test_zero_padding_does_not_collide():
    fps = as_pairs(graphgpo.fingerprint([b"x", b"x\0", b"x\0\0", b"\0x", b"\0" * 16, b"\0" * 17]))
    assert len(set(fps)) == 6


def test_containers_agree():
    ids = np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3]])
    rows = graphgpo.fingerprint(ids)
    assert as_pairs(rows) == as_pairs(graphgpo.fingerprint(ids.astype(np.int32)))
    assert as_pairs(rows) == as_pairs(graphgpo.fingerprint([[1, 2, 3], [4, 5, 6], (1, 2, 3)]))
    ragged = graphgpo.fingerprint([[1, 2, 3], [4, 5], [1, 2, 3]])
    assert as_pairs(ragged)[0] == as_pairs(rows)[0] and as_pairs(ragged)[0] == as_pairs(ragged)[2]
    texts = ["a", "b", "a"]
    assert as_pairs(graphgpo.fingerprint(np.array(texts))) == as_pairs(graphgpo.fingerprint(texts))
    assert as_pairs(graphgpo.fingerprint(np.array(texts, dtype=object))) == as_pairs(graphgpo.fingerprint(texts))
    assert as_pairs(graphgpo.fingerprint([1, 2, 1])) == as_pairs(graphgpo.fingerprint(np.array([1, 2, 1])))


def test_fingerprints_pass_through():
    fp = graphgpo.fingerprint(["a", "b"])
    assert as_pairs(graphgpo.fingerprint(fp)) == as_pairs(fp)


def test_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.tensor([[1, 2], [3, 4], [1, 2]])
    assert as_pairs(graphgpo.fingerprint(t)) == as_pairs(graphgpo.fingerprint(t.numpy()))


def test_threads_do_not_change_fingerprints():
    texts = [f"state {i % 977} " * (i % 50) for i in range(20000)]
    assert graphgpo.fingerprint(texts, num_threads=1).tobytes() == graphgpo.fingerprint(texts, num_threads=2).tobytes()


def test_non_utf8_str_is_an_error():
    with pytest.raises(ValueError, match="row 1"):
        graphgpo.fingerprint(["ok", "\udcff"])


def test_mutable_buffers_are_refused():
    """bytearray could be resized by another thread while the engine reads it."""
    with pytest.raises(TypeError, match="bytearray"):
        graphgpo.fingerprint([bytearray(b"a"), bytearray(b"b")])


def test_large_mixed_lists_across_threads():
    """ASCII str, non-ASCII str and bytes mixed over many parallel chunks hash as their UTF-8 bytes, and the
    first unsupported row is the one reported even when later chunks hold others."""
    texts = [f"state {i}" if i % 7 else f"état {i} ✓" for i in range(50_000)]
    mixed = [t.encode() if i % 5 == 0 else t for i, t in enumerate(texts)]
    want = graphgpo.fingerprint([t.encode() for t in texts], num_threads=1)
    for threads in (1, 2):
        assert graphgpo.fingerprint(mixed, num_threads=threads).tobytes() == want.tobytes()
    bad = list(mixed)
    bad[41_234] = 7
    bad[3_001] = None
    bad[45_000] = 2.5
    with pytest.raises(TypeError, match="^states row 3001: unsupported state type 'NoneType'"):
        graphgpo.fingerprint(bad, num_threads=2)
