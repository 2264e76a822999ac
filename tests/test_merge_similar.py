"""merge="similar" (SPEC "Merging similar states"): the engine against the official-style difflib reference on
random text batches (near-duplicate observations, several thresholds, ratios sitting exactly on the
threshold, str and bytes), the SPEC example, graphs and diagnostics, and bad input."""

import contextlib
import difflib
import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.testing.reference_similar import graph_canonical_states, reference_similar_advantages
from graphgpo.testing.strategies import batches, options

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRAPH_METHODS = ("gigpo", "graphgpo", "progpo")

# SPEC example: K, H, P are a kitchen, a hallway and a pantry, t a turn counter.
K = "You are in the kitchen. A fridge, a table. Turn {}.".format
H = "You are in the hallway. A door, a coat rack. Turn {}.".format
P = "You are in the pantry. Shelves, a sack. Turn {}.".format
SPEC_EXAMPLE = {
    "group": [0] * 9,
    "trajectory": [0, 0, 1, 1, 1, 1, 2, 2, 2],
    "state": [K(1), H(2), K(1), P(2), K(3), H(4), K(1), P(2), P(3)],
    "next_state": [H(2), "X", P(2), K(3), H(4), H(5), P(2), P(3), P(4)],
    "success": [1, 1, 0, 0, 0, 0, 0, 0, 0],
}
SPEC_EXPECTED = {
    ("graphgpo", "exact"): [2.918534, 1.763834, -1.081303, -0.503953, -0.503953, -0.503953, -1.081303, -0.503953,
                            -0.503953],
    ("graphgpo", "similar"): [2.918534, 1.763834, -1.081303, 0.203153, -0.503953, -0.503953, -1.081303, -1.211058,
                              -0.503953],
    ("gigpo", "similar"): [3.263833, 2.47094, -1.003952, -0.503953, -1.003952, -1.211059, -1.003952, -0.503953,
                           -0.503953],
}


@pytest.mark.parametrize(("method", "merge"), list(SPEC_EXPECTED))
@pytest.mark.parametrize("as_bytes", [False, True])
def test_spec_example(method, merge, as_bytes):
    batch = dict(SPEC_EXAMPLE)
    if as_bytes:
        batch["state"] = [s.encode() for s in batch["state"]]
        batch["next_state"] = [s.encode() for s in batch["next_state"]]
    got = graphgpo.advantages(method, omega=0.5, merge=merge, **batch)
    np.testing.assert_allclose(got, SPEC_EXPECTED[method, merge], atol=1e-6)
    np.testing.assert_allclose(got, reference_similar_advantages(method, omega=0.5, **batch) if merge == "similar"
                               else graphgpo.advantages(method, omega=0.5, **batch), rtol=1e-9, atol=1e-9)


def test_spec_example_ratios():
    """The page's claims about the example: same room >= 0.978, different rooms <= 0.71."""
    rooms = [K, H, P]
    for a, b in itertools.product(range(3), repeat=2):
        for s, t in itertools.product(range(1, 6), repeat=2):
            r = difflib.SequenceMatcher(None, rooms[a](s), rooms[b](t)).ratio()
            assert (r >= 0.978) if a == b else (r <= 0.71)


# ----------------------------------------------------------------------------------------- random text batches

ROOMS = [
    "You are in the kitchen. You see a fridge 1, a table 1 and a sink. Exits: north, east.",
    "You are in the hallway. You see a door 2, a coat rack and a lamp. Exits: south, west.",
    "You are in the pantry. You see shelves, a sack of rice and a jar 3. Exits: west.",
    "You are in the kitchen. You see a fridge 1, a table 2 and a sink. Exits: north, east.",
    "ab" * 120,  # long and repetitive: difflib's popular-element heuristic decides
    "ba" * 119 + "c",
    "Ünïcödé rööm: ⛵ ☕ 中文 " * 3,
    "Ünïcödé rööm: ⛵ ☕ 中文 " * 2 + "\U0001F600 emoji room",
]


@st.composite
def text_of(draw, base_index):
    """One observation of hidden state `base_index`: a room text with a counter, sometimes an edit."""
    text = ROOMS[base_index % len(ROOMS)]
    detail = draw(st.sampled_from(["", "", " You hear a noise.", " Turn {}.", " [{}]", "{}"]))
    if "{}" in detail:
        detail = detail.format(draw(st.integers(0, 12)))
    if draw(st.integers(0, 4)) == 0 and len(text) > 2:  # a small edit somewhere
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(["x", "", "99", "é"])) + text[at + 1:]
    return text + detail


@st.composite
def text_batches(draw):
    """An integer batch (tests/batches.py) whose every state occurrence becomes a near-duplicate text."""
    batch = draw(batches(max_groups=3, max_trajectories=4, max_length=6, num_states=5))
    bases = draw(st.lists(st.integers(0, len(ROOMS) - 1), min_size=5, max_size=5))
    batch["state"] = [draw(text_of(bases[s])) for s in batch["state"]]
    if batch["next_state"] is not None:
        # Given next states are their own observations (not always the next row's state).
        batch["next_state"] = [draw(text_of(bases[s])) for s in batch["next_state"]]
    if draw(st.booleans()):
        batch["state"] = [s.encode() for s in batch["state"]]
        if batch["next_state"] is not None:
            batch["next_state"] = [s.encode() for s in batch["next_state"]]
    return batch


@st.composite
def thresholds(draw, batch):
    """Common thresholds, or one sitting exactly on the ratio of two states of the batch (or one ulp off)."""
    kind = draw(st.sampled_from(["fixed", "on", "on"]))
    if kind == "fixed":
        return draw(st.sampled_from([0.3, 0.6, 0.8, 0.9, 0.95, 0.97, 0.99]))
    states = batch["state"] + (batch["next_state"] or [])
    a, b = draw(st.sampled_from(states)), draw(st.sampled_from(states))
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    if not 0.0 < ratio < 1.0:
        return 0.95
    return draw(st.sampled_from([ratio, np.nextafter(ratio, 0.0), np.nextafter(ratio, 1.0)]))


@pytest.mark.parametrize("method", GRAPH_METHODS)
@SETTINGS
@given(data=st.data())
def test_engine_matches_reference(method, data):
    batch = data.draw(text_batches())
    similarity = float(data.draw(thresholds(batch)))
    opts = data.draw(options(method))
    expected = reference_similar_advantages(method, **batch, similarity=similarity, **opts)
    got = graphgpo.advantages(method, **batch, merge="similar", similarity=similarity, **opts)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_expected_distance_on_merged_graph(data):
    batch = data.draw(text_batches())
    batch["action"] = [i % 3 for i in range(len(batch["state"]))]
    similarity = float(data.draw(thresholds(batch)))
    expected = reference_similar_advantages("graphgpo", **batch, similarity=similarity, distance="expected")
    got = graphgpo.advantages("graphgpo", **batch, merge="similar", similarity=similarity, distance="expected")
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=text_batches(), threads=st.integers(2, 6))
def test_bit_identical_for_any_thread_count(batch, threads):
    for method in GRAPH_METHODS:
        one = graphgpo.advantages(method, **batch, merge="similar", num_threads=1)
        many = graphgpo.advantages(method, **batch, merge="similar", num_threads=threads)
        assert one.tobytes() == many.tobytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=text_batches())
def test_grpo_ignores_merge(batch):
    exact = graphgpo.advantages("grpo", **batch)
    assert graphgpo.advantages("grpo", **batch, merge="similar").tobytes() == exact.tobytes()


def test_key_results_are_the_compared_texts():
    batch = dict(SPEC_EXAMPLE, state=[s.upper() for s in SPEC_EXAMPLE["state"]])
    got = graphgpo.advantages("graphgpo", omega=0.5, merge="similar", key=str.lower, **batch)
    np.testing.assert_allclose(got, SPEC_EXPECTED["graphgpo", "similar"], atol=1e-6)


def test_numpy_string_arrays():
    batch = dict(SPEC_EXAMPLE, state=np.array(SPEC_EXAMPLE["state"]), next_state=np.array(SPEC_EXAMPLE["next_state"]))
    got = graphgpo.advantages("graphgpo", omega=0.5, merge="similar", **batch)
    np.testing.assert_allclose(got, SPEC_EXPECTED["graphgpo", "similar"], atol=1e-6)


# --------------------------------------------------------------------------------------- graphs and diagnostics

def test_merged_graph_and_labels():
    graphs = graphgpo.build_graphs(merge="similar", **SPEC_EXAMPLE)
    exact = graphgpo.build_graphs(**SPEC_EXAMPLE)
    kinds = graphs.node_kinds(0)
    # SUCCESS, then kitchen, hallway, pantry (the first of each), then one node per failed... none here.
    assert kinds.tolist() == [1, 0, 0, 0]
    assert graphs.num_exact_states(0) == exact.num_exact_states(0) == int((exact.node_kinds(0) == 0).sum()) == 8
    labels = graphs.node_labels(0, max_chars=200)
    assert labels == ["SUCCESS", K(1), H(2), P(2)]
    dot = graphs.to_dot(0)
    assert "kitchen" in dot and "Turn 3" not in dot
    # Distances on the merged graph: kitchen 2 and hallway 1 steps from SUCCESS, pantry 3.
    np.testing.assert_allclose(graphs.distances(0), [0, 2, 1, 3])
    maps = graph_canonical_states(SPEC_EXAMPLE["group"], SPEC_EXAMPLE["trajectory"], SPEC_EXAMPLE["state"],
                                  SPEC_EXAMPLE["success"], SPEC_EXAMPLE["next_state"], 0.95)
    assert len(set(maps[0].values())) == 3


def test_diagnostics_count_merged_states():
    exact = graphgpo.diagnostics(**SPEC_EXAMPLE)
    merged = graphgpo.diagnostics(merge="similar", **SPEC_EXAMPLE)
    assert exact["mean_merged_states_per_group"] == 0
    assert merged["mean_merged_states_per_group"] == 5  # 8 distinct states, 3 representatives
    assert merged["mean_nodes_per_group"] == 4 < exact["mean_nodes_per_group"]


# ------------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("method", graphgpo.METHODS)
def test_non_text_states_raise_type_error_naming_the_row(method):
    base = {"group": [0, 0, 0], "trajectory": [0, 0, 0], "success": [1, 1, 1]}
    with pytest.raises(TypeError, match="state row 0"):
        graphgpo.advantages(method, state=[1, 2, 3], merge="similar", **base)
    with pytest.raises(TypeError, match="state row 2"):
        graphgpo.advantages(method, state=["a", "b", 3], merge="similar", **base)
    with pytest.raises(TypeError, match="state row 0"):
        graphgpo.advantages(method, state=np.arange(3), merge="similar", **base)
    with pytest.raises(TypeError, match="state row 0"):
        graphgpo.advantages(method, state=graphgpo.fingerprint(["a", "b", "c"]), merge="similar", **base)
    with pytest.raises(TypeError, match="next_state row 1"):
        graphgpo.advantages(method, state=["a", "b", "c"], next_state=["b", 7, "d"], merge="similar", **base)


@pytest.mark.parametrize("method", graphgpo.METHODS)
def test_mixed_str_and_bytes_raise_type_error_naming_the_first_row_of_the_other_kind(method):
    base = {"group": [0, 0, 0], "trajectory": [0, 0, 0], "success": [1, 1, 1]}
    with pytest.raises(TypeError, match="state row 1: bytes"):
        graphgpo.advantages(method, state=["a", b"b", "c"], merge="similar", **base)
    with pytest.raises(TypeError, match="next_state row 0: str"):
        graphgpo.advantages(method, state=[b"a", b"b", b"c"], next_state=["b", "c", "d"], merge="similar", **base)
    # Exact merging keeps the engine's rule: a str is its UTF-8 bytes.
    graphgpo.advantages(method, state=["a", b"b", "c"], **base)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5, float("nan"), float("inf")])
def test_similarity_outside_the_open_interval(bad):
    with pytest.raises(ValueError, match="similarity"):
        graphgpo.advantages("graphgpo", merge="similar", similarity=bad, **SPEC_EXAMPLE)


@pytest.mark.parametrize("bad", ["fuzzy", "Similar", "", 1])
def test_unknown_merge_values(bad):
    with pytest.raises(ValueError, match="merge"):
        graphgpo.advantages("gigpo", merge=bad, **SPEC_EXAMPLE)
    with pytest.raises(ValueError, match="merge"):
        graphgpo.build_graphs(merge=bad, **SPEC_EXAMPLE)


def test_engine_refuses_similar_without_texts():
    """The compiled entry point itself: fingerprints alone cannot be compared."""
    from graphgpo import _core
    from graphgpo._api import prepare_batch
    b = prepare_batch(**SPEC_EXAMPLE)
    args = (b.group, b.trajectory, b.state, b.next_state, b.success, None, None, None, None)
    with pytest.raises(TypeError, match="text states"):
        _core.advantages("graphgpo", *args, '{"merge": "similar"}')
    with pytest.raises(TypeError, match="text states"):
        _core.advantages("gigpo", *args, '{"merge": "similar"}', SPEC_EXAMPLE["state"])


def test_readme_example_is_the_spec_example():
    """The README's merge="similar" block (tests/test_docs.py checks that it prints what it shows) computes
    SPEC's worked example."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if 'merge="similar"' in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own README
    first = out.getvalue().splitlines()[0]
    printed = [float(x) for x in first.strip("[]").split()]
    np.testing.assert_allclose(printed, SPEC_EXPECTED["graphgpo", "similar"], atol=5e-4)


def test_diagnostics_with_sparse_group_ids():
    """Group ids are ids, not indexes (a batch of groups 5 and 70)."""
    d = graphgpo.diagnostics(group=[5, 5, 70, 70], trajectory=[0, 0, 1, 1], state=["ab", "xy", "ab", "ac"],
                             success=[1, 1, 0, 0], merge="similar", similarity=0.5)
    assert d["num_groups"] == 2 and d["mean_merged_states_per_group"] == 0.5  # "ac" joins "ab" in group 70
