"""QA red team: graph memory across calls (SPEC "Graph memory across calls") against an independent reading
of the SPEC (tests/qa_ref_memory.py): sequences of calls with recurring tasks, every bound and its eviction
order and tie-breaks, costs, groups sharing a task in one call, calls that raise, save/load and pickling
mid-sequence, bad files, and the C ABI's memory handle."""

from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo

GraphMemory = getattr(graphgpo, "GraphMemory", None)
pytestmark = pytest.mark.skipif(GraphMemory is None, reason="graphgpo.GraphMemory is not available")

import qa_cabi  # noqa: E402
import qa_ref_memory as qm  # noqa: E402

SQ = 0.7071067811865476  # 1 / sqrt(2): a two-row step group with two different returns (eps aside)



def contents_of(stats):
    """What a memory holds; 'bytes' is its allocation, which a reload may size differently."""
    return {key: value for key, value in stats.items() if key != "bytes"}


def contents(memory):
    return contents_of(memory.stats())

def call(memory, method="graphgpo", **kw):
    return graphgpo.advantages(method, **kw, memory=memory)


# ---------------------------------------------------------------------------------------------------------
# SPEC's example, and each bound on it


CALL1 = dict(group=[0, 0, 0], trajectory=[0, 0, 1], state=["A", "B", "A"], next_state=["B", "W", "C"],
             success=[1, 1, 0], task=[7] * 3, omega=0.5)
CALL2 = dict(group=[5] * 5, trajectory=[0, 0, 1, 1, 1], state=["A", "B", "A", "C", "C"],
             next_state=["B", "D", "C", "C", "E"], success=[0] * 5, task=[7] * 5, omega=0.5)
WITH_MEMORY = [0.707107, 0, -0.707107, 0, 0]


def test_spec_example():
    memory = GraphMemory()
    np.testing.assert_allclose(call(memory, **CALL1), [1.284457, 0.57735, -1.861807], atol=2e-6)
    np.testing.assert_allclose(graphgpo.advantages("graphgpo", **{k: v for k, v in CALL2.items() if k != "task"}),
                               [0] * 5, atol=1e-12)
    np.testing.assert_allclose(call(memory, **CALL2), WITH_MEMORY, atol=2e-6)
    assert memory.stats()["calls"] == 2


@pytest.mark.parametrize("bounds, remembers", [
    (dict(max_age=0), False),             # (call - last seen) = 0 >= 0: nothing survives a call
    (dict(max_age=1), True),              # the previous call's edges are still there
    (dict(max_edges_per_task=1), False),  # A->B, B->W, A->C all seen in call 1: the earliest two go
    (dict(max_edges_per_task=2), True),   # A->B goes first (earliest insertion): B->W stays
    (dict(max_edges=1), False),
    (dict(max_edges=2), True),
    (dict(max_edges_per_task=0), False),
    (dict(max_edges=0), False),
])
def test_spec_example_under_each_bound(bounds, remembers):
    memory = GraphMemory(**bounds)
    call(memory, **CALL1)
    got = call(memory, **CALL2)
    np.testing.assert_allclose(got, WITH_MEMORY if remembers else [0] * 5, atol=2e-6)


def test_global_bound_evicts_least_recently_seen_then_earliest_inserted():
    def probe(memory):  # task 7, two failed rows from A: A->B gets credit iff B->SUCCESS is stored
        return call(memory, group=[0, 0], trajectory=[0, 1], state=["A", "A"], next_state=["B", "Z"],
                    success=[0, 0], task=[7, 7])

    for max_edges, survives in ((3, False), (4, True)):
        memory = GraphMemory(max_edges=max_edges)
        # call 1, task 7: B->SUCCESS is inserted before A->B (row order)
        call(memory, group=[0, 0], trajectory=[0, 1], state=["B", "A"], next_state=[None, "B"],
             success=[1, 0], task=[7, 7])
        call(memory, group=[1], trajectory=[0], state=["P"], success=[1], task=[8])  # call 2: P->SUCCESS
        call(memory, group=[1], trajectory=[0], state=["X"], next_state=["Y"], success=[0], task=[8])  # call 3
        # 4 edges; with max_edges 3 the call-1 edge inserted first (B->SUCCESS) goes, not A->B
        assert memory.stats()["edges"] == min(4, max_edges)
        np.testing.assert_allclose(probe(memory), [SQ, -SQ] if survives else [0, 0], atol=1e-5)


def test_an_edge_seen_again_takes_the_new_call_and_cost():
    memory = GraphMemory(max_age=2)
    call(memory, group=[0] * 2, trajectory=[0, 1], state=["B", "C"], success=[1, 1], cost=[5.0, 3.0], task=[7, 7])
    call(memory, group=[0], trajectory=[0], state=["B"], success=[1], cost=[1.0], task=[7])  # B->S again, cost 1
    call(memory, group=[0], trajectory=[0], state=["Q"], success=[1], task=[9])  # call 3: C->S (call 1) ages out
    # B->SUCCESS now costs 1 and was seen in call 2; C->SUCCESS (call 1) is gone: d(B) = 1, d(C) = D
    kw = dict(group=[0] * 3, trajectory=[0, 1, 2], state=["A"] * 3, next_state=["B", "C", "Z"], success=[0] * 3,
              task=[7] * 3, omega=0.5)
    want = qm.QaMemory(max_age=2)
    for rows in (dict(group=[0] * 2, trajectory=[0, 1], state=["B", "C"], success=[1, 1], cost=[5.0, 3.0],
                      task=[7, 7]),
                 dict(group=[0], trajectory=[0], state=["B"], success=[1], cost=[1.0], task=[7]),
                 dict(group=[0], trajectory=[0], state=["Q"], success=[1], task=[9])):
        qm.advantages("graphgpo", want, **rows)
    got = call(memory, **kw)
    np.testing.assert_allclose(got, qm.advantages("graphgpo", want, **kw), atol=1e-9)
    assert got[0] > 0 and got[1] == pytest.approx(got[2])


def test_groups_of_one_task_in_one_call_do_not_see_each_other():
    memory = GraphMemory()
    kw = dict(group=[0, 1, 1], trajectory=[0, 1, 2], state=["B", "A", "A"], next_state=[None, "B", "Z"],
              success=[1, 0, 0], task=[7, 7, 7])
    got = call(memory, **kw)
    np.testing.assert_allclose(got[1:], [0, 0], atol=1e-12)  # group 1 does not see group 0's B->SUCCESS
    got = call(memory, **kw)
    assert got[1] > 0 > got[2]  # the next call does


def test_task_keys_str_and_bytes_are_one_key_and_default_is_the_group():
    def run(first_task, first_group, second_task, second_group=3):
        memory = GraphMemory()
        call(memory, group=[first_group], trajectory=[0], state=["B"], success=[1], task=first_task)
        return call(memory, group=[second_group] * 2, trajectory=[0, 1], state=["A", "A"], next_state=["B", "Z"],
                    success=[0, 0], task=second_task)

    assert run(["t"], 0, ["t", "t"])[0] > 0
    assert run(["t"], 0, [b"t", b"t"])[0] > 0
    assert run(None, 3, None)[0] > 0
    assert run([3], 0, None)[0] > 0
    assert run(None, 3, [3, 3])[0] > 0
    assert run([4], 0, None)[0] == 0


# ---------------------------------------------------------------------------------------------------------
# Random sequences against the independent reference


def call_batch(rng, tasks, str_tasks):
    gids = rng.sample(range(-5, 50), rng.randrange(1, 4))
    gtask = {g: rng.choice(tasks) for g in gids}  # groups often share a task
    trajs = [g for g in gids for _ in range(rng.randrange(1, 4))]
    rng.shuffle(trajs)
    kw: dict = {k: [] for k in ("group", "trajectory", "state", "next_state", "success", "valid", "cost")}
    task = []
    for tid, g in enumerate(trajs):
        won = rng.random() < 0.35
        cur = rng.randrange(5)
        for _ in range(rng.randrange(1, 5)):
            nxt = rng.randrange(5) if rng.random() < 0.85 else cur
            for name, value in (("group", g), ("trajectory", tid), ("state", f"s{cur}"),
                                ("next_state", f"s{nxt}" if rng.random() < 0.8 else None), ("success", won),
                                ("valid", rng.random() < 0.85), ("cost", rng.choice([1.0, 0.5, 2.0, 3.0]))):
                kw[name].append(value)
            task.append(f"task-{gtask[g]}" if str_tasks else gtask[g])
            cur = nxt
    for name, p in (("next_state", 0.5), ("cost", 0.5), ("valid", 0.3)):
        if rng.random() < p:
            del kw[name]
    return kw, task


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_random_sequences_match_the_independent_reference(tmp_path, rng):
    bounds = dict(max_edges_per_task=rng.choice([None, None, 0, 1, 2, 3, 5]),
                  max_edges=rng.choice([None, None, 0, 1, 3, 6, 10]), max_age=rng.choice([None, None, 0, 1, 2, 3]))
    ref, memory = qm.QaMemory(**bounds), GraphMemory(**bounds)
    tasks = rng.sample(range(100), rng.randrange(1, 4))
    str_tasks = rng.random() < 0.3
    method = rng.choice(["graphgpo", "progpo"])
    options = {name: rng.choice(values) for name, values in (
        ("omega", [0.5, 0.8]), ("convention", ["paper"]), ("normalize_distance", [True]),
        ("episode_stats", ["per_trajectory"])) if rng.random() < 0.35}
    for _ in range(rng.randrange(3, 9)):
        kw, task = call_batch(rng, tasks, str_tasks)
        if not str_tasks and rng.random() < 0.3:
            kw["group"], task = list(task), None  # default: the group id is the task
        before = memory.stats()
        r = rng.random()
        if r < 0.15:  # calls that raise change nothing
            with pytest.raises(ValueError):
                graphgpo.advantages(method, **kw, memory=memory, task=task, distance="expected",
                                    action=[0] * len(kw["group"]), **options)
            bad_cost = [1.0] * (len(kw["group"]) - 1) + [0.0]
            with pytest.raises(ValueError):
                graphgpo.advantages(method, **{**kw, "cost": bad_cost}, memory=memory, task=task, **options)
            with pytest.raises(ValueError):
                graphgpo.advantages("gigpo", **kw, memory=memory, task=task, **options)
            assert memory.stats() == before
        elif r < 0.3:
            path = tmp_path / "memory.bin"
            memory.save(path)
            memory = GraphMemory.load(path)
            assert contents(memory) == contents_of(before)
        elif r < 0.4:
            memory = pickle.loads(pickle.dumps(memory))
        got = graphgpo.advantages(method, **kw, memory=memory, task=task, **options)
        want = qm.advantages(method, ref, task=task, **kw, **options)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        stats = memory.stats()
        assert (stats["calls"], stats["edges"], stats["tasks"]) == (ref.calls, ref.num_edges(), len(ref.tasks))


# ---------------------------------------------------------------------------------------------------------
# Bad input and files


@pytest.mark.parametrize("method, options", [
    ("grpo", {}), ("gigpo", {}), ("graphgpo", {"merge": "similar"}),
    ("graphgpo", {"distance": "expected", "action": [0, 0, 0]}), ("progpo", {"merge": "similar"}),
])
def test_unsupported_options_raise_and_change_nothing(method, options):
    memory = GraphMemory()
    call(memory, **CALL1)
    before = memory.stats()
    with pytest.raises(ValueError):
        graphgpo.advantages(method, **CALL1, memory=memory, **options)
    assert memory.stats() == before


def test_row_errors_raise_and_change_nothing():
    memory = GraphMemory()
    call(memory, **CALL1)
    before = memory.stats()
    for changes, match in ((dict(task=[7, 8, 7]), "row 1"), (dict(cost=[1, 1, 0]), "row 2"),
                           (dict(trajectory=[0, 1, 0]), "row 2"), (dict(success=[1, 0, 0]), "row 1")):
        with pytest.raises(ValueError, match=match):
            graphgpo.advantages("graphgpo", **{**CALL1, **changes}, memory=memory)
    with pytest.raises(ValueError, match="task"):
        graphgpo.advantages("graphgpo", **CALL1)  # task without memory
    assert memory.stats() == before
    np.testing.assert_allclose(call(memory, **CALL2), WITH_MEMORY, atol=2e-6)


def test_save_load_restores_exactly_and_bad_files_raise(tmp_path):
    memory = GraphMemory(max_edges_per_task=4, max_edges=7, max_age=3)
    rng = random.Random(1)
    for _ in range(4):
        kw, task = call_batch(rng, [1, 2], False)
        call(memory, **kw, task=task)
    path = tmp_path / "m.bin"
    memory.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.bin"]  # no temporary file left behind
    loaded = GraphMemory.load(path)
    assert (loaded.max_edges_per_task, loaded.max_edges, loaded.max_age) == (4, 7, 3)
    assert contents(loaded) == contents(memory)
    for _ in range(3):  # both continue identically
        kw, task = call_batch(rng, [1, 2], False)
        np.testing.assert_array_equal(call(loaded, **kw, task=task), call(memory, **kw, task=task))
    raw = path.read_bytes()
    bad_files = {"truncated": raw[:-1], "half": raw[: len(raw) // 2], "empty": b"", "foreign": b'{"edges": []}\n',
                 "pickle": pickle.dumps(memory), "appended": raw + b"\0"}
    for i in range(0, len(raw), max(1, len(raw) // 40)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x10
        bad_files[f"flip{i}"] = bytes(flipped)
    for name, data in bad_files.items():
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(ValueError):
            GraphMemory.load(bad)
    with pytest.raises(OSError):
        GraphMemory.load(tmp_path / "missing.bin")
    with pytest.raises(OSError):
        memory.save(tmp_path / "no" / "such" / "dir.bin")


# ---------------------------------------------------------------------------------------------------------
# The C ABI


def test_c_abi_memory_matches_the_reference(tmp_path):
    rng = random.Random(2)
    for _ in range(25):
        bounds = dict(max_edges_per_task=rng.choice([None, 1, 3]), max_edges=rng.choice([None, 2, 6]),
                      max_age=rng.choice([None, 1, 2]))
        ref, memory = qm.QaMemory(**bounds), qa_cabi.Memory(bounds)
        method = rng.choice(["graphgpo", "progpo"])
        tasks = rng.sample(range(100), 2)
        for k in range(5):
            kw, task = call_batch(rng, tasks, False)
            if k == 2:
                assert memory.save(tmp_path / "c.bin") == (0, "")
                status, memory, _ = qa_cabi.Memory.load(tmp_path / "c.bin")
                assert status == 0
            status, out, message = qa_cabi.advantages_batch(method, **kw, task=task, memory=memory)
            assert status == 0, message
            np.testing.assert_allclose(out, qm.advantages(method, ref, task=task, **kw), rtol=0, atol=1e-9)
            assert memory.stats()["edges"] == ref.num_edges()
            assert memory.stats()["calls"] == ref.calls


def test_c_abi_memory_errors_write_nothing_and_change_nothing(tmp_path):
    memory = qa_cabi.Memory()
    kw = {k: v for k, v in CALL1.items() if k not in ("task", "omega")}
    assert qa_cabi.advantages_batch("graphgpo", **kw, memory=memory)[0] == 0
    before = memory.stats()
    for method, extra in (("grpo", {}), ("gigpo", {}), ("graphgpo", dict(options=dict(merge="similar"))),
                          ("graphgpo", dict(options=dict(distance="expected"), action=[0, 0, 0])),
                          ("graphgpo", dict(task=[1, 2, 1])), ("graphgpo", dict(cost=[1.0, 1.0, 0.0]))):
        status, out, message = qa_cabi.advantages_batch(method, **kw, **extra, memory=memory)
        assert status != 0 and message
        assert np.all(out == 12345.0)
        assert memory.stats() == before
    path = tmp_path / "m.bin"
    assert memory.save(path)[0] == 0
    path.with_name("t.bin").write_bytes(path.read_bytes()[:-3])
    assert qa_cabi.Memory.load(path.with_name("t.bin"))[0] == 1  # INVALID_ARGUMENT
    assert qa_cabi.Memory.load(tmp_path / "missing.bin")[0] == 6  # IO_ERROR
    # files are one format: Python reads what C wrote
    assert contents(GraphMemory.load(path)) == contents_of(before)
    for options in ({"max_age": -1}, {"max_age": 1.5}, {"max_edges": "3"}, {"foo": 1}):
        with pytest.raises(ValueError):
            qa_cabi.Memory(options)
