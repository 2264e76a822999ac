"""QA red team: merge="similar" (SPEC "Merging similar states") against an independent reading of the SPEC
(tests/qa_ref.py: the official greedy first-fit with difflib itself), on adversarial batches: ratios exactly
at the threshold, autojunk's 200-element boundary, non-ASCII and bytes, empty texts, states seen only as a
next state, given vs implicit next states, keys, several thresholds, ALFWorld-like observations; the bad
input rules through Python and through the C ABI's graphgpo_advantages_batch."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import qa_cabi
import qa_ref

import graphgpo

METHODS = ("gigpo", "graphgpo", "progpo")


def ratio(a, b) -> float:
    return qa_ref.ratio(a, b)


def check(method, kw, **options):
    """The engine equals the independent reference at 1e-9; returns the engine's result."""
    got = graphgpo.advantages(method, **kw, **options)
    want = qa_ref.advantages(method, **kw, **options)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=f"{method} {options}")
    return got


def engine_partition(states, next_states, threshold):
    """Node of each state and each next state as graphgpo's graph sees them (one failed trajectory)."""
    n = len(states)
    graphs = graphgpo.build_graphs(group=[0] * n, trajectory=[0] * n, state=states, next_state=next_states,
                                   success=[0] * n, merge="similar", similarity=threshold)
    src, dst, _ = graphs.edges(0)
    return list(src) + list(dst)


def ref_partition(states, next_states, threshold):
    canon = qa_ref.Canonicalizer(threshold)
    src, dst = [], []
    for s, x in zip(states, next_states):
        src.append(canon.node(s))
        dst.append(canon.node(x))
    return src + dst


def assert_same_partition(a, b):
    assert len(a) == len(b)
    forward, backward = {}, {}
    for x, y in zip(a, b):
        assert forward.setdefault(x, y) == y and backward.setdefault(y, x) == x, (a, b)


# ---------------------------------------------------------------------------------------------------------
# SPEC's worked example


K = "You are in the kitchen. A fridge, a table. Turn {}."
H = "You are in the hallway. A door, a coat rack. Turn {}."
P = "You are in the pantry. Shelves, a sack. Turn {}."


def spec_example():
    rows = [(0, K.format(1), H.format(2)), (0, H.format(2), "X"), (1, K.format(1), P.format(2)),
            (1, P.format(2), K.format(3)), (1, K.format(3), H.format(4)), (1, H.format(4), H.format(5)),
            (2, K.format(1), P.format(2)), (2, P.format(2), P.format(3)), (2, P.format(3), P.format(4))]
    return dict(group=[0] * 9, trajectory=[r[0] for r in rows], state=[r[1] for r in rows],
                next_state=[r[2] for r in rows], success=[r[0] == 0 for r in rows])


def test_spec_example_and_its_ratios():
    kw = spec_example()
    for room in (K, H, P):
        assert all(ratio(room.format(a), room.format(b)) >= 0.978 for a in range(1, 6) for b in range(1, 6))
    assert max(ratio(x.format(1), y.format(2)) for x in (K, H, P) for y in (K, H, P) if x != y) <= 0.71
    expected = {
        ("graphgpo", "exact"): [2.918534, 1.763834, -1.081303, -0.503953, -0.503953, -0.503953, -1.081303,
                                -0.503953, -0.503953],
        ("graphgpo", "similar"): [2.918534, 1.763834, -1.081303, 0.203153, -0.503953, -0.503953, -1.081303,
                                  -1.211058, -0.503953],
        ("gigpo", "similar"): [3.263833, 2.47094, -1.003952, -0.503953, -1.003952, -1.211059, -1.003952,
                               -0.503953, -0.503953],
    }
    for (method, merge), values in expected.items():
        got = check(method, kw, omega=0.5, merge=merge)
        np.testing.assert_allclose(got, values, rtol=0, atol=2e-6)
    # grpo: no effect
    np.testing.assert_array_equal(graphgpo.advantages("grpo", **kw, merge="similar"),
                                  graphgpo.advantages("grpo", **kw))
    check("progpo", kw, omega=0.5, merge="similar")


# ---------------------------------------------------------------------------------------------------------
# Ratios exactly at the threshold: 2 * M / T == threshold in floating point merges; the next double up
# does not. Both codes compare the double ratio with >=.


def threshold_pairs():
    """(new, rep, threshold) with ratio(new, rep) == threshold exactly, for every M/T up to T = 60."""
    out = []
    for total in range(2, 61):
        for m in range(1, total // 2 + 1):
            la = m + (total - 2 * m) // 2
            new, rep = "m" * m + "a" * (la - m), "m" * m + "b" * (total - la - m)
            t = 2 * m / total
            if 0 < t < 1:
                out.append((new, rep, t))
    for t, m, total in ((0.5, 1, 4), (0.9, 9, 20), (0.95, 19, 40), (0.99, 99, 200), (0.95, 95, 200)):
        la = m + (total - 2 * m) // 2
        out.append(("m" * m + "a" * (la - m), "m" * m + "b" * (total - la - m), t))
    return out


def test_threshold_exactly_reached_merges_and_next_double_does_not():
    pairs = threshold_pairs()
    assert any(t == 0.95 for _, _, t in pairs) and any(t == 0.99 for _, _, t in pairs)
    for new, rep, t in pairs:
        assert ratio(new, rep) == t
        # rows: rep (successful), new (failed, then a dissimilar state): gigpo's step group {rep, new} and
        # progpo's d(new) show whether new joined rep
        kw = dict(group=[0, 0, 0], trajectory=[0, 1, 1], state=[rep, new, "#" * 7], success=[1, 0, 0])
        merged = graphgpo.advantages("gigpo", **kw, merge="similar", similarity=t)
        apart = graphgpo.advantages("gigpo", **kw, merge="similar", similarity=math.nextafter(t, 1.0))
        assert merged[1] != apart[1], (new, rep, t)
        assert engine_partition([rep, new], ["#", "#"], t)[:2] == [1, 1] or \
            len(set(engine_partition([rep, new], ["#", "#"], t)[:2])) == 1
        assert len(set(engine_partition([rep, new], ["#", "#"], math.nextafter(t, 1.0))[:2])) == 2


def test_threshold_pairs_parity_all_methods():
    for new, rep, t in threshold_pairs()[::7]:
        kw = dict(group=[0, 0, 0, 0], trajectory=[0, 1, 1, 2], state=[rep, new, "#" * 7, new],
                  next_state=[None, None, rep, "%%"], success=[1, 0, 0, 1])
        for method in METHODS:
            for tt in (t, math.nextafter(t, 1.0), math.nextafter(t, 0.0)):
                check(method, kw, merge="similar", similarity=tt)


# ---------------------------------------------------------------------------------------------------------
# difflib's autojunk: popular elements of a second sequence of >= 200 elements are not indexed.


def repetitive(length, rng, alphabet="ab"):
    return "".join(rng.choice(alphabet) for _ in range(length))


def test_autojunk_boundary_199_200_201():
    rng = random.Random(5)
    for length in (198, 199, 200, 201, 250, 301):
        for _ in range(3):
            base = repetitive(length, rng)
            k = rng.randrange(length)
            variants = [base, base[:k] + "c" + base[k + 1:], base[:k] + base[k + 1:], base + "a", "c" + base,
                        base[::-1], base[: length // 2]]
            for t in (0.5, 0.9, 0.95, 0.99):
                states = variants[1:] + variants[:1]
                nexts = variants[::-1]
                assert_same_partition(engine_partition(states, nexts, t), ref_partition(states, nexts, t))


def test_autojunk_changes_the_decision_as_difflib_does():
    # 250 repetitive characters: both popular, so the ratio collapses to ~0.09 (the notes' example)
    rep = "ab" * 125
    new = "ab" * 62 + "b" + "ab" * 62 + "a"
    r = ratio(new, rep)
    assert r < 0.5 and ratio(new[:199], rep[:199]) > 0.9
    assert len(set(engine_partition([rep, new], ["#", "#"], 0.5)[:2])) == 2
    assert len(set(engine_partition([rep[:199], new[:199]], ["#", "#"], 0.5)[:2])) == 1
    # the order matters: the representative is the second sequence
    a, b = "x" + "ab" * 60, "ab" * 100
    assert (ratio(a, b) >= 0.5) != (ratio(b, a) >= 0.5)
    for first, second in ((a, b), (b, a)):
        merged = ratio(second, first) >= 0.5
        assert (len(set(engine_partition([first, second], ["#", "#"], 0.5)[:2])) == 1) == merged


def few_non_popular(rng, length):
    s = ["a"] * length
    for _ in range(rng.randrange(0, 6)):
        s[rng.randrange(length)] = rng.choice("xyzw")
    return "".join(s)


def test_long_texts_with_few_indexed_elements():
    rng = random.Random(11)
    for _ in range(12):
        pool = [few_non_popular(rng, rng.randrange(195, 420)) for _ in range(8)]
        states = [rng.choice(pool) for _ in range(10)]
        nexts = [rng.choice(pool) for _ in range(10)]
        for t in (0.5, 0.9, 0.95, 0.99):
            assert_same_partition(engine_partition(states, nexts, t), ref_partition(states, nexts, t))


# ---------------------------------------------------------------------------------------------------------
# Code points for str, byte values for bytes


def test_str_compares_code_points_and_bytes_compare_bytes():
    # "é" is one code point but two UTF-8 bytes: the same texts merge as str and not as bytes
    rep, new = "aaaaé", "aaaab"
    t = ratio(new, rep)
    assert ratio(new.encode(), rep.encode()) < t
    assert len(set(engine_partition([rep, new], ["#", "#"], t)[:2])) == 1
    assert len(set(engine_partition([rep.encode(), new.encode()], [b"#", b"#"], t)[:2])) == 2
    # astral code points are one element each (not UTF-16 pairs)
    rep, new = "\U0001F600" * 3 + "x", "\U0001F600" * 3 + "y"
    assert ratio(new, rep) == 0.75
    assert len(set(engine_partition([rep, new], ["#", "#"], 0.75)[:2])) == 1


@pytest.mark.parametrize("alphabet", ["aé\u00ffbc", "a\u4e2d\u20acb\u0100", "a\U0001F600\U00010348b\u00e9",
                                      "ab\x00\x7f\x80"])
def test_non_ascii_partitions(alphabet):
    rng = random.Random(hash(alphabet) % 1000)
    for _ in range(8):
        length = rng.choice([0, 3, 12, 40, 199, 200, 230])
        base = "".join(rng.choice(alphabet) for _ in range(length))
        pool = [base]
        for _ in range(6):
            s = list(rng.choice(pool))
            for _ in range(rng.randrange(0, 4)):
                if s and rng.random() < 0.5:
                    s[rng.randrange(len(s))] = rng.choice(alphabet)
                else:
                    s.insert(rng.randrange(len(s) + 1), rng.choice(alphabet))
            pool.append("".join(s))
        states = [rng.choice(pool) for _ in range(8)]
        nexts = [rng.choice(pool) for _ in range(8)]
        for t in (0.5, 0.9, 0.95, 0.99):
            assert_same_partition(engine_partition(states, nexts, t), ref_partition(states, nexts, t))
            raw = [s.encode() for s in states], [s.encode() for s in nexts]
            assert_same_partition(engine_partition(*raw, t), ref_partition(*raw, t))


def test_empty_texts():
    kw = dict(group=[0] * 5, trajectory=[0, 0, 1, 1, 2], state=["", "a", "", "ab", ""],
              next_state=["a", "", "", None, "b"], success=[1, 1, 0, 0, 0])
    for method in METHODS:
        for t in (0.5, 0.95):
            check(method, kw, merge="similar", similarity=t)
            check(method, {**kw, "state": [s.encode() for s in kw["state"]],
                           "next_state": [None if s is None else s.encode() for s in kw["next_state"]]},
                  merge="similar", similarity=t)


# ---------------------------------------------------------------------------------------------------------
# Visit order: each row's state, then its next state; states seen only as a next state


def test_state_seen_only_as_next_state_is_a_representative_first():
    # row 0's next state "abcdefghij" is created before row 1's state; row 1's states each match it but
    # not each other, so both join it (0.8 >= 0.75) and row 1's step is a self-loop on the merged graph
    a, s1, s2 = "abcdefghij", "abcdefghXY", "XYcdefghij"
    assert ratio(s1, a) == ratio(s2, a) == 0.8 and ratio(s2, s1) == 0.6
    kw = dict(group=[0] * 3, trajectory=[0, 1, 1], state=["Q", s1, s2], next_state=[a, s2, "W"],
              success=[0, 0, 0])
    part = engine_partition(kw["state"], kw["next_state"], 0.75)
    assert part[1] == part[2] == part[3] == part[4]
    for method in METHODS:
        check(method, kw, merge="similar", similarity=0.75)


def test_success_next_state_is_not_a_representative():
    """A successful trajectory's last row leads to SUCCESS: its given next state text is not a node, so it
    does not become a representative (SUCCESS never merges). Reading documented in the QA report."""
    a, s1, s2 = "abcdefghij", "abcdefghXY", "XYcdefghij"
    kw = dict(group=[0] * 3, trajectory=[0, 1, 1], state=["Q", s1, s2], next_state=[a, s2, "W"],
              success=[1, 0, 0])
    got = check("progpo", kw, merge="similar", similarity=0.75)
    # s1 and s2 are two nodes (no self-loop): row 1 has rho = 0 (both ends cannot reach SUCCESS)
    a_e = graphgpo.advantages("grpo", **kw)
    assert got[1] == pytest.approx(a_e[1], abs=1e-12)


def test_given_next_state_equals_implicit():
    rng = random.Random(3)
    rooms = [K, H, P]
    for _ in range(10):
        group, traj, state = [], [], []
        for t in range(5):
            for _ in range(rng.randrange(1, 5)):
                group.append(t % 2)
                traj.append(t)
                state.append(rng.choice(rooms).format(rng.randrange(1, 30)))
        success = [traj_id in (1, 2) for traj_id in traj]
        implicit = dict(group=group, trajectory=traj, state=state, success=success)
        nexts = [state[i + 1] if i + 1 < len(state) and traj[i + 1] == traj[i] else None
                 for i in range(len(state))]
        given = {**implicit, "next_state": nexts}
        for method in METHODS:
            for t in (0.9, 0.95, 0.99):
                a = check(method, implicit, merge="similar", similarity=t)
                np.testing.assert_array_equal(a, graphgpo.advantages(method, **given, merge="similar",
                                                                     similarity=t))


def test_exact_repeats_take_their_node_even_when_long_and_repetitive():
    long = "ab" * 150
    kw = dict(group=[0] * 4, trajectory=[0, 0, 1, 1], state=[long, "x", long, "y"], success=[1, 1, 0, 0])
    for method in METHODS:
        check(method, kw, merge="similar")
    # a self-loop on one long state is a self-loop
    kw = dict(group=[0] * 3, trajectory=[0, 0, 0], state=[long, long, "x"], success=[0, 0, 0])
    assert graphgpo.advantages("progpo", **kw, merge="similar")[0] == -1.0


# ---------------------------------------------------------------------------------------------------------
# Random adversarial batches


def pool_of(rng, kind):
    if kind == "rooms":
        return [room.format(t) for room in (K, H, P) for t in range(1, 13)]
    if kind == "repetitive":
        out = []
        for length in (198, 199, 200, 201, 250):
            base = repetitive(length, rng)
            k = rng.randrange(length)
            out += [base, base[:k] + rng.choice("abc") + base[k + 1:]]
        return out
    if kind == "unicode":
        alphabet = "aé\u00ff\u4e2d\u20ac\U0001F600\U00010348bc"
        base = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))) for _ in range(4)]
        out = list(base) + [""]
        for b in base:
            for _ in range(3):
                s = list(b)
                if s:
                    s[rng.randrange(len(s))] = rng.choice(alphabet)
                out.append("".join(s))
        return out
    if kind == "small":
        return ["".join(rng.choice("abc") for _ in range(rng.randrange(0, 6))) for _ in range(10)]
    items = ["apple", "mug", "knife", "bowl", "spoon", "pan", "towel", "soap", "cd", "pencil"]
    out = []
    for t in range(6):  # ALFWorld-like: ~1-2 KB with a step counter and a shuffled command list
        seen = ", ".join(f"a {x} {i}" for i, x in enumerate(items))
        commands = sorted(f"go to {x} {i}" for i, x in enumerate(items * 3))
        if rng.random() < 0.3:
            rng.shuffle(commands)
        carrying = rng.choice(items) if rng.random() < 0.5 else "nothing"
        out.append(f"Step {t}. You are in the middle of a room. Looking quickly around you, you see {seen}.\n"
                   f"You are carrying: {carrying}.\nAdmissible: " + "; ".join(commands[:rng.randrange(20, 30)]))
    return out


def random_batch(rng, kind, as_bytes):
    pool = pool_of(rng, kind)
    if as_bytes:
        pool = [p.encode() for p in pool]
    trajs = [(g, t) for t, g in enumerate(rng.randrange(3) for _ in range(rng.randrange(1, 9)))]
    rng.shuffle(trajs)  # groups interleaved
    group, traj, state, nxt, success, valid, cost = [], [], [], [], [], [], []
    for g, t in trajs:
        won = rng.random() < 0.4
        for _ in range(rng.randrange(1, 6)):
            group.append(g)
            traj.append(t)
            state.append(rng.choice(pool))
            nxt.append(rng.choice(pool) if rng.random() < 0.7 else None)
            success.append(won)
            valid.append(rng.random() < 0.85)
            cost.append(rng.choice([1.0, 0.5, 2.0, 1.5]))
    kw = dict(group=group, trajectory=traj, state=state, success=success, valid=valid)
    if rng.random() < 0.5:
        kw["next_state"] = nxt
    if rng.random() < 0.4:
        kw["cost"] = cost
    return kw, pool


@pytest.mark.parametrize("kind", ["rooms", "repetitive", "unicode", "small", "alfworld"])
def test_random_batches_match_the_independent_reference(kind):
    rng = random.Random(kind)
    for _ in range({"alfworld": 3, "repetitive": 3}.get(kind, 8)):
        kw, pool = random_batch(rng, kind, as_bytes=rng.random() < 0.3)
        ratios = sorted({ratio(a, b) for a in pool[:5] for b in pool[:5]} - {0.0, 1.0})
        thresholds = [0.5, 0.9, 0.95, 0.99] + rng.sample(ratios, min(2, len(ratios)))
        for t in thresholds:
            options = dict(merge="similar", similarity=t, omega=rng.choice([0.1, 0.5, 0.8]))
            if rng.random() < 0.3:
                options["convention"] = "paper"
            if rng.random() < 0.3:
                options["episode_stats"] = "per_trajectory"
            for method in METHODS:
                check(method, kw, **options)


def test_key_results_are_the_states():
    rng = random.Random(9)
    rows = [{"obs": rng.choice([K, H, P]).format(rng.randrange(1, 9)), "step": i} for i in range(14)]
    kw = dict(group=[0] * 7 + [1] * 7, trajectory=[0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5],
              state=rows, success=[1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1])
    for method in METHODS:
        for t in (0.9, 0.99):
            check(method, kw, key=lambda r: r["obs"], merge="similar", similarity=t)
            check(method, kw, key=lambda r: r["obs"].encode(), merge="similar", similarity=t)
            # a key that strips the counter makes the rooms exact repeats
            check(method, kw, key=lambda r: r["obs"].rsplit(" Turn", 1)[0], merge="similar", similarity=t)


# ---------------------------------------------------------------------------------------------------------
# Bad input


def base_rows(**changes):
    return {**dict(group=[0, 0, 1], trajectory=[0, 0, 1], state=["a", "b", "c"], success=[1, 1, 0]),
            **changes}


@pytest.mark.parametrize("method", ["grpo", *METHODS])
def test_non_text_states_raise_type_error_naming_the_row(method):
    for state, row in (([1, 2, 3], 0), (["a", 5, "c"], 1), (["a", "b", None], 2), (np.array([1, 2, 3]), 0)):
        with pytest.raises(TypeError, match=rf"state row {row}\b"):
            graphgpo.advantages(method, **base_rows(state=state), merge="similar")
    with pytest.raises(TypeError, match=r"next_state row 2\b"):
        graphgpo.advantages(method, **base_rows(next_state=["a", "b", 7]), merge="similar")
    with pytest.raises(TypeError, match=r"state row 1\b"):
        graphgpo.advantages(method, **base_rows(), key=lambda s: len(s) if s == "b" else s, merge="similar")


@pytest.mark.parametrize("method", METHODS)
def test_str_and_bytes_mixed_raise_type_error_naming_the_first_other_row(method):
    with pytest.raises(TypeError, match=r"state row 2\b"):
        graphgpo.advantages(method, **base_rows(state=["a", "b", b"c"]), merge="similar")
    with pytest.raises(TypeError, match=r"next_state row 1\b"):
        graphgpo.advantages(method, **base_rows(next_state=[None, b"b", None]), merge="similar")
    # exact merging: "b" and b"b" are one state, no error
    graphgpo.advantages(method, **base_rows(state=["a", "b", b"c"]))


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, -0.5, 1.5, float("nan"), float("inf"), -float("inf")])
def test_similarity_outside_the_open_interval_raises(value):
    for merge in ("similar", "exact"):
        with pytest.raises(ValueError, match="similarity"):
            graphgpo.advantages("graphgpo", **base_rows(), merge=merge, similarity=value)


@pytest.mark.parametrize("merge", ["Similar", "fuzzy", "", "SIMILAR", " similar"])
def test_unknown_merge_raises(merge):
    with pytest.raises(ValueError, match="merge"):
        graphgpo.advantages("graphgpo", **base_rows(), merge=merge)


# ---------------------------------------------------------------------------------------------------------
# The C ABI


SENTINEL = 12345.0


def test_c_abi_matches_the_reference_on_random_batches():
    rng = random.Random(17)
    for kind in ("rooms", "repetitive", "unicode", "small"):
        for _ in range(3):
            kw, _ = random_batch(rng, kind, as_bytes=rng.random() < 0.4)
            for t in (0.9, 0.95):
                for method in METHODS:
                    want = qa_ref.advantages(method, **kw, merge="similar", similarity=t)
                    status, out, message = qa_cabi.advantages_batch(
                        method, **kw, options=dict(merge="similar", similarity=t),
                        fingerprints=rng.random() < 0.5)
                    assert status == 0, message
                    np.testing.assert_allclose(out, want, rtol=0, atol=1e-9)


def test_c_abi_utf8_compares_code_points_and_bytes_mode_compares_bytes():
    rep, new = "aaaaé", "aaaab"
    t = ratio(new, rep)
    assert ratio(new.encode(), rep.encode()) < t
    outs = []
    kw = dict(group=[0, 0, 0], trajectory=[0, 1, 1], state=[rep, new, "#######"], success=[1, 0, 0])
    for encoding, text_kind in ((1, str), (0, bytes)):
        states = kw["state"] if text_kind is str else [s.encode() for s in kw["state"]]
        want = qa_ref.advantages("gigpo", **{**kw, "state": states}, merge="similar", similarity=t)
        status, out, message = qa_cabi.advantages_batch("gigpo", **{**kw, "state": [s.encode() for s in kw["state"]]},
                                                        encoding=encoding, options=dict(merge="similar", similarity=t))
        assert status == 0, message
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-9)
        outs.append(out)
    assert outs[0][1] != outs[1][1]  # merged with UTF-8 code points, apart as bytes


@pytest.mark.parametrize("method", METHODS)
def test_c_abi_bad_input_writes_nothing(method):
    cases = [
        (dict(options=dict(merge="similar", similarity=0.0)), "similarity"),
        (dict(options=dict(merge="similar", similarity=1.0)), "similarity"),
        (dict(options=dict(merge="similar", similarity=-1)), "similarity"),
        (dict(raw_options=b'{"merge": "similar", "similarity": 2}'), "similarity"),
        (dict(options=dict(merge="fuzzy")), "merge"),
        (dict(state=["a", b"\xff", "c"], encoding=1, options=dict(merge="similar")), "row 1"),
        (dict(next_state=["a", "b", b"\xc3"], encoding=1, options=dict(merge="similar")), "row 2"),
        (dict(state=["a", b"\xed\xa0\x80", "c"], encoding=1, options=dict(merge="similar")), "row 1"),
        (dict(encoding=2, options=dict(merge="similar")), "text_encoding"),
        (dict(trajectory=[0, 1, 0], options=dict(merge="similar")), "row 2"),
        (dict(cost=[1.0, 0.0, 1.0], options=dict(merge="similar")), "row 1"),
    ]
    for changes, needle in cases:
        status, out, message = qa_cabi.advantages_batch(method, **{**base_rows(), **changes})
        assert status != 0, changes
        assert needle in message, (changes, message)
        assert np.all(out == SENTINEL), changes
