"""The engine's difflib ratio against Python's difflib.SequenceMatcher(None, a, b).ratio(), on the cases where
an implementation can go wrong: repetitive text where autojunk drops popular elements (len(b) >= 200), ties
between equally long matches, non-ASCII (UCS-2 and UCS-4) text, mixed str kinds, empty sequences, bytes, and
thresholds sitting exactly on the ratio."""

import difflib
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graphgpo import _core

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small alphabets make repeats, long matches and popular elements likely; the wide ones mix str kinds.
ALPHABETS = ["ab", "abc", "ab ", "abcdefgh \n", "the quick brown fox, 0123456789", "xyzé", "aé中",
             "a\U0001F600b\u4e2d", "\u00ff\u0100\uffff\U00010000"]


def difflib_ratio(a, b):
    return difflib.SequenceMatcher(None, a, b).ratio()


@st.composite
def texts(draw, max_size=450):
    alphabet = draw(st.sampled_from(ALPHABETS))
    return draw(st.text(alphabet=alphabet, max_size=max_size))


@st.composite
def edited(draw, base):
    """A near-duplicate of `base`: a few replacements, insertions, deletions and a moved slice."""
    out = list(base)
    pool = sorted(set(base)) or ["a"]
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "move"]))
        pos = draw(st.integers(0, len(out)))
        if op == "insert" or not out:
            out.insert(pos, draw(st.sampled_from(pool + ["#", "7"])))
        elif op == "replace":
            out[min(pos, len(out) - 1)] = draw(st.sampled_from(pool + ["#"]))
        elif op == "delete":
            del out[min(pos, len(out) - 1)]
        else:
            end = draw(st.integers(pos, min(len(out), pos + 40)))
            piece = out[pos:end]
            del out[pos:end]
            at = draw(st.integers(0, len(out)))
            out[at:at] = piece
    return "".join(out)


@st.composite
def pairs(draw):
    kind = draw(st.sampled_from(["random", "edited", "repeated", "template"]))
    if kind == "random":
        a, b = draw(texts()), draw(texts())
    elif kind == "edited":
        a = draw(texts())
        b = draw(edited(a))
    elif kind == "repeated":
        # Long periodic text: every element is popular once len(b) >= 200.
        unit = draw(st.text(alphabet=draw(st.sampled_from(ALPHABETS)), min_size=1, max_size=12))
        a = unit * draw(st.integers(0, 60))
        b = draw(edited(unit * draw(st.integers(0, 60))))
    else:
        # ALFWorld-like: a template with a turn counter and a detail that change.
        room = draw(st.sampled_from(["kitchen", "hallway", "pantry"]))
        text = (f"You are in the {room}. Looking quickly around you, you see a cabinet 1, a drawer "
                f"{draw(st.integers(1, 9))}, a fridge 1 and a table. ") * draw(st.integers(1, 4))
        a = text + f"Turn {draw(st.integers(0, 200))}."
        b = draw(edited(text)) + f"Turn {draw(st.integers(0, 200))}."
    if draw(st.booleans()):
        a, b = b, a
    return a, b


@SETTINGS
@given(pair=pairs())
def test_ratio_equals_difflib(pair):
    a, b = pair
    assert _core._similarity_ratio(a, b) == difflib_ratio(a, b)


@SETTINGS
@given(pair=pairs())
def test_ratio_of_bytes_equals_difflib(pair):
    """bytes compare byte values: a non-ASCII str and its UTF-8 generally differ."""
    a, b = (s.encode("utf-8") for s in pair)
    assert _core._similarity_ratio(a, b) == difflib_ratio(a, b)
    latin = [s.encode("latin-1", "replace") for s in pair]
    assert _core._similarity_ratio(*latin) == difflib_ratio(*latin)


@SETTINGS
@given(pair=pairs(), where=st.sampled_from(["at", "below", "above", "fixed"]),
       fixed=st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]))
def test_threshold_decision_equals_difflib(pair, where, fixed):
    """`ratio >= threshold` with the threshold exactly on the ratio, one ulp either side, or fixed."""
    a, b = pair
    ratio = difflib_ratio(a, b)
    threshold = {"at": ratio, "below": math.nextafter(ratio, 0.0), "above": math.nextafter(ratio, 1.0),
                 "fixed": fixed}[where]
    assume(0.0 < threshold < 1.0)
    assert _core._similarity_reaches(a, b, threshold) is (ratio >= threshold)
    assert _core._similarity_reaches(a.encode(), b.encode(), threshold) is (
        difflib_ratio(a.encode(), b.encode()) >= threshold)


@pytest.mark.parametrize(("a", "b"), [
    ("", ""), ("a", ""), ("", "abc"), ("abcd", "bcde"), (" abcd", "abcd abcd"), ("abxcd", "abcd"),
    ("ab" * 150, "ba" * 150), ("a" * 250, "a" * 250), ("a" * 250 + "b", "b" + "a" * 250),
    ("x" + "ab" * 120, "ab" * 120 + "x"), ("é" * 300, "e" * 300), ("中" * 199, "中" * 200),
    ("\U0001F600" * 201, "\U0001F600" * 100 + "a" + "\U0001F600" * 100),
    (b"", b""), (b"\x00\xff" * 130, b"\xff\x00" * 130), (bytes(range(256)) * 2, bytes(range(255, -1, -1)) * 2),
])
def test_corner_cases(a, b):
    assert _core._similarity_ratio(a, b) == difflib_ratio(a, b)
    assert _core._similarity_ratio(b, a) == difflib_ratio(b, a)


def test_autojunk_changes_the_ratio_as_difflib_does():
    """The notes' example: on a 250-element repetitive b the popular heuristic drops the ratio sharply."""
    b = "ab" * 125
    a = "b" + "ab" * 124 + "x"
    assert difflib_ratio(a, b) != difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    assert _core._similarity_ratio(a, b) == difflib_ratio(a, b)


def test_str_and_bytes_do_not_mix():
    with pytest.raises(TypeError):
        _core._similarity_ratio("abc", b"abc")
    with pytest.raises(TypeError):
        _core._similarity_reaches(b"abc", "abc", 0.5)
    with pytest.raises(TypeError):
        _core._similarity_ratio(1, 2)


def official_merge(texts, threshold):
    """The official recipe's canonicalizer: exact-match cache, then first-fit against first-seen reps."""
    reps, cache, out = [], {}, []
    for s in texts:
        if s not in cache:
            cache[s] = next((k for k, r in enumerate(reps) if difflib_ratio(s, r) >= threshold), len(reps))
            if cache[s] == len(reps):
                reps.append(s)
        out.append(cache[s])
    return out


@st.composite
def text_lists(draw):
    bases = draw(st.lists(texts(max_size=300), min_size=1, max_size=4))
    out = []
    for _ in range(draw(st.integers(0, 25))):
        base = draw(st.sampled_from(bases + out)) if out and draw(st.booleans()) else draw(st.sampled_from(bases))
        out.append(draw(edited(base)) if draw(st.booleans()) else base)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=text_lists(), threshold=st.sampled_from([0.3, 0.6, 0.8, 0.9, 0.95, 0.99]), as_bytes=st.booleans())
def test_greedy_merge_equals_official_loop(items, threshold, as_bytes):
    if as_bytes:
        items = [s.encode() for s in items]
    got, stats = _core._merge_similar(items, threshold)
    assert got.tolist() == official_merge(items, threshold)
    assert stats["representatives"] == len(set(got.tolist()))
    assert stats["texts"] == len(set(items))
