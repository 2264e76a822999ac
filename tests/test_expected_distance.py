"""distance="expected" is near-linear in a group's size: many actions or outcomes per state, long corridors
and high-probability self-loops. Values stay SPEC's fixed point (checked against the plain-Python
reference, which runs SPEC's Jacobi backups literally)."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.testing.reference import next_nodes, reference_advantages, reference_distances


def sticky_group(k):
    """A corridor of k states to SUCCESS (so D is about k) and a state A whose one action loops back to A
    k/2 times for each time it reaches B, next to SUCCESS. A's expected distance (about k/2 + 2) is below D;
    SPEC's Jacobi backups approach it by a factor 1 - 2/k per sweep over all ~k nodes (~k^2 log k work:
    24,000 rows took seconds before)."""
    rows = [(0, f"c{i}", f"c{i + 1}", 0, 1) for i in range(k)] + [(0, f"c{k}", "W", 0, 1)]
    rows += [(1, "A", "B", 0, 1), (1, "B", "W", 1, 1)]
    rows += [(t, "A", "A", 0, 0) for t in range(2, 2 + k // 2)]
    trajectory, state, next_state, action, success = (list(c) for c in zip(*rows))
    return dict(group=[0] * len(rows), trajectory=trajectory, state=state, next_state=next_state, action=action,
                success=success)


def fan_group(k):
    """One state with k distinct actions and one action with k distinct outcomes (the model build searched
    them linearly: quadratic)."""
    state = ["S"] * (2 * k) + ["G"]
    next_state = [f"t{i}" for i in range(k)] + [f"u{i}" for i in range(k)] + ["W"]
    action = list(range(k)) + [k] * k + [0]
    trajectory = list(range(2 * k)) + [2 * k]
    success = [0] * (2 * k) + [1]
    # Each u_i then moves to G, so the fan's big action reaches SUCCESS in two steps.
    state += [f"u{i}" for i in range(k)]
    next_state += ["G"] * k
    action += [1] * k
    trajectory += [3 * k + i for i in range(k)]
    success += [0] * k
    return dict(group=[0] * len(state), trajectory=trajectory, state=state, next_state=next_state, action=action,
                success=success)


def assert_matches_reference(batch, omega):
    """Each row's d(next state) and advantage equal the reference's (SPEC's Jacobi backups, in Python)."""
    graphs = graphgpo.build_graphs(**batch, distance="expected")
    src, dst, row = graphs.edges(0)
    got_next = np.empty(len(row))
    got_next[row] = graphs.distances(0)[dst]
    dist = reference_distances(**batch, distance="expected")[0]
    want_next = [dist[t] for t in next_nodes(batch["state"], batch["next_state"], batch["success"],
                                             batch["trajectory"])]
    np.testing.assert_allclose(got_next, want_next, rtol=1e-9, atol=1e-9)
    got = graphgpo.advantages("graphgpo", **batch, distance="expected", omega=omega)
    want = reference_advantages("graphgpo", **batch, distance="expected", omega=omega)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("make", [sticky_group, fan_group])
def test_matches_the_reference_on_the_hard_shapes(make):
    assert_matches_reference(make(60), omega=0.9)


@pytest.mark.parametrize("make, k", [(sticky_group, 16_000), (fan_group, 8_000)])
def test_twenty_four_thousand_rows_in_one_group_take_well_under_a_second(make, k):
    batch = make(k)
    assert 23_000 <= len(batch["group"]) <= 25_000
    start = time.perf_counter()
    expected = graphgpo.graphgpo(**batch, distance="expected", num_threads=1)
    elapsed = time.perf_counter() - start
    shortest = graphgpo.graphgpo(**batch, num_threads=1)
    assert np.isfinite(expected).all() and expected.shape == shortest.shape
    # Before: seconds to minutes (quadratic or worse); now a few milliseconds. Generous for shared machines.
    assert elapsed < 1.0, elapsed


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 30), steps=st.integers(1, 60), walkers=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_random_sticky_corridors_match_the_reference(k, steps, walkers, seed):
    """Walkers on a corridor of k states: "go" moves on with probability 0.3 (else stays: a self-loop),
    "back" moves back; reaching state k is a success."""
    rng = np.random.default_rng(seed)
    batch = {name: [] for name in ("group", "trajectory", "state", "next_state", "action", "success")}
    for t in range(walkers):
        rows, pos = [], 0
        for _ in range(steps):
            a = int(rng.integers(0, 2))
            new = (pos + 1 if rng.random() < 0.3 else pos) if a == 0 else max(pos - 1, 0)
            rows.append((pos, new, a))
            pos = new
            if pos == k:
                break
        for state, new, a in rows:
            for name, value in zip(batch, (0, t, state, new, a, int(pos == k))):
                batch[name].append(value)
    assert_matches_reference(batch, omega=0.7)
