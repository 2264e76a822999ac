"""Graph memory across calls (SPEC "Graph memory across calls"): the SPEC example, parity with the
plain-Python reference over sequences of calls (every bound, costs, groups sharing a task, save/load in the
middle), the contents and eviction order, call rules, atomic files, concurrent callers."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.memory import task_keys
from graphgpo.testing.reference import SUCCESS, reference_advantages
from graphgpo.testing.reference_memory import MemoryReference, reference_memory_advantages
from graphgpo.testing.strategies import batches, options

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# SPEC's example (task 7, omega 0.5).
CALL_1 = {"group": [0, 0, 0], "trajectory": [0, 0, 1], "state": ["A", "B", "A"], "next_state": ["B", "W", "C"],
          "success": [1, 1, 0]}
CALL_2 = {"group": [0] * 5, "trajectory": [0, 0, 1, 1, 1], "state": ["A", "B", "A", "C", "C"],
          "next_state": ["B", "D", "C", "C", "E"], "success": [0] * 5}
EXPECTED_1 = [1.284457, 0.57735, -1.861807]
EXPECTED_2_WITHOUT = [0.0] * 5
EXPECTED_2_WITH = [0.707107, 0.0, -0.707107, 0.0, 0.0]


def fp(state) -> tuple[int, int]:
    f = graphgpo.fingerprint([state])[0]
    return int(f["lo"]), int(f["hi"])


def engine_contents(memory: graphgpo.GraphMemory) -> dict:
    """task -> [(u, v, last seen, cost, insertion)] with fingerprints, least recently seen first."""
    out = {}
    for task, edges in memory._engine._edges().items():
        out[task] = [((su, sh), None if to_success else (du, dh), seen, cost, ins)
                     for su, sh, du, dh, to_success, seen, cost, ins in edges]
    return out


def reference_contents(ref: MemoryReference) -> dict:
    out = {}
    for task, edges in ref.tasks.items():
        key = int(task_keys([task], 1)[0])  # str keys hash, int keys stay
        rows = [(fp(u), None if v is SUCCESS else fp(v), seen, cost, ins) for (u, v), (seen, cost, ins) in edges.items()]
        out[key] = sorted(rows, key=lambda r: (r[2], r[4]))
    return out


# ---------------------------------------------------------------------------------------------------------
# The SPEC example and the basic contract.


def test_spec_example():
    assert np.allclose(graphgpo.advantages("graphgpo", omega=0.5, **CALL_1), EXPECTED_1, atol=1e-6)
    assert np.allclose(graphgpo.advantages("graphgpo", omega=0.5, **CALL_2), EXPECTED_2_WITHOUT, atol=1e-6)
    memory = graphgpo.GraphMemory()
    got_1 = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[7] * 3, **CALL_1)
    got_2 = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[7] * 5, **CALL_2)
    np.testing.assert_allclose(got_1, EXPECTED_1, atol=1e-6)
    np.testing.assert_allclose(got_2, EXPECTED_2_WITH, atol=1e-6)
    assert memory.stats()["tasks"] == 1 and memory.stats()["edges"] == 6 and memory.stats()["calls"] == 2
    ref = MemoryReference()
    np.testing.assert_allclose(reference_memory_advantages(ref, "graphgpo", omega=0.5, task=[7] * 3, **CALL_1),
                               EXPECTED_1, atol=1e-6)
    np.testing.assert_allclose(reference_memory_advantages(ref, "graphgpo", omega=0.5, task=[7] * 5, **CALL_2),
                               EXPECTED_2_WITH, atol=1e-6)


def test_default_task_is_the_group_id():
    a, b = graphgpo.GraphMemory(), graphgpo.GraphMemory()
    for call in (CALL_1, CALL_2):
        x = graphgpo.advantages("graphgpo", omega=0.5, memory=a, **call)
        y = graphgpo.advantages("graphgpo", omega=0.5, memory=b, task=[0] * len(call["group"]), **call)
        np.testing.assert_array_equal(x, y)
    assert list(a._engine._edges()) == [0]


def test_str_and_int_task_keys():
    memory = graphgpo.GraphMemory()
    graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=["pick up the key"] * 3, **CALL_1)
    other = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=["open the door"] * 5, **CALL_2)
    same = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=np.array(["pick up the key"] * 5), **CALL_2)
    np.testing.assert_allclose(other, EXPECTED_2_WITHOUT, atol=1e-6)
    np.testing.assert_allclose(same, EXPECTED_2_WITH, atol=1e-6)
    # str keys are their UTF-8 bytes, hashed the same way in every process.
    assert task_keys(["pick up the key"], 1)[0] == task_keys([b"pick up the key"], 1)[0]
    script = "from graphgpo.memory import task_keys; print(int(task_keys(['pick up the key'], 1)[0]))"
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(child.stdout) == int(task_keys(["pick up the key"], 1)[0])


def test_groups_of_one_task_in_one_call_do_not_see_each_other():
    """Group 1 succeeds with A->B->SUCCESS; group 2 (same task, same call) only knows A->B and A->C, and
    must not see group 1's edges: it has no success, so its step returns are all equal."""
    batch = {"group": [1, 1, 2, 2], "trajectory": [0, 0, 1, 2], "state": ["A", "B", "A", "A"],
             "next_state": ["B", "W", "B", "C"], "success": [1, 1, 0, 0]}
    memory = graphgpo.GraphMemory()
    got = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[5] * 4, **batch)
    alone = graphgpo.advantages("graphgpo", omega=0.5, **batch)
    np.testing.assert_array_equal(got, alone)
    # The next call sees both groups' edges: A->B leads to success, A->C does not.
    again = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[5] * 2, group=[3, 3],
                                trajectory=[0, 1], state=["A", "A"], next_state=["B", "C"], success=[0, 0])
    assert again[0] > 0 > again[1]


def test_stored_edges_with_costs_use_dijkstra():
    """Stored costs count in later calls, also in a call without costs of its own."""
    memory = graphgpo.GraphMemory()
    first = {"group": [0] * 3, "trajectory": [0, 0, 1], "state": ["A", "B", "A"], "next_state": ["B", "W", "W"],
             "success": [1, 1, 1], "cost": [1.0, 1.0, 5.0]}
    graphgpo.advantages("graphgpo", omega=0.5, memory=memory, **first)
    second = {"group": [0] * 2, "trajectory": [0, 1], "state": ["A", "A"], "next_state": ["B", "X"],
              "success": [0, 0]}
    ref = MemoryReference()
    reference_memory_advantages(ref, "graphgpo", omega=0.5, **first)
    expected = reference_memory_advantages(ref, "graphgpo", omega=0.5, **second)
    got = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, **second)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got[0] > 0 > got[1]


def test_terminal_nodes_are_never_stored_and_repeats_keep_the_last_cost():
    memory = graphgpo.GraphMemory()
    batch = {"group": [0] * 5, "trajectory": [0, 0, 0, 1, 1], "state": [1, 2, 1, 1, 2], "success": [0] * 5,
             "cost": [1.0, 2.0, 3.0, 4.0, 5.0]}
    graphgpo.advantages("graphgpo", memory=memory, **batch)
    edges = engine_contents(memory)[0]
    # Rows: 1->2, 2->1, 1->terminal, 1->2, 2->terminal: two distinct stored edges, 1->2 last seen with cost 4.
    assert [(e[0], e[1], e[3]) for e in edges] == [(fp(1), fp(2), 4.0), (fp(2), fp(1), 2.0)]
    assert [e[4] for e in edges] == [0, 1]


def test_empty_batch_is_a_call():
    memory = graphgpo.GraphMemory(max_age=1)
    graphgpo.advantages("graphgpo", memory=memory, **CALL_1)
    assert memory.stats()["edges"] == 3
    out = graphgpo.advantages("graphgpo", memory=memory, group=[], trajectory=[], state=[], success=[])
    assert out.shape == (0,)
    assert memory.stats() == {"tasks": 0, "edges": 0, "bytes": memory.stats()["bytes"], "calls": 2}


def test_bounds_and_eviction_order():
    """SPEC's order: max_age, then max_edges_per_task, then max_edges, least recently seen first, ties by
    first insertion; checked edge by edge against the reference."""
    calls = [
        {"group": [0, 0, 1, 1], "trajectory": [0, 0, 1, 1], "state": [1, 2, 5, 6], "next_state": [2, 3, 6, 7],
         "success": [0] * 4, "task": [10, 10, 20, 20]},
        {"group": [0, 0], "trajectory": [0, 0], "state": [3, 1], "next_state": [4, 2], "success": [0, 0],
         "task": [10, 10]},
        {"group": [0, 0, 0], "trajectory": [0, 0, 0], "state": [7, 8, 9], "next_state": [8, 9, 1], "success": [1] * 3,
         "task": [20] * 3},
    ]
    for bounds in ({"max_age": 2}, {"max_edges_per_task": 2}, {"max_edges": 3},
                   {"max_age": 2, "max_edges_per_task": 2, "max_edges": 3}, {"max_age": 0}, {"max_edges": 0}):
        memory, ref = graphgpo.GraphMemory(**bounds), MemoryReference(**bounds)
        for call in calls:
            np.testing.assert_allclose(graphgpo.advantages("graphgpo", memory=memory, **call),
                                       reference_memory_advantages(ref, "graphgpo", **call), atol=1e-9)
            assert engine_contents(memory) == reference_contents(ref), bounds
        assert memory.stats()["edges"] == ref.num_edges


def test_bad_memory_calls_raise_and_change_nothing():
    memory = graphgpo.GraphMemory(max_edges=100)
    graphgpo.advantages("graphgpo", memory=memory, task=[7] * 3, **CALL_1)
    before = memory._engine.to_bytes()
    bad_calls = [
        (ValueError, "graph-based", dict(method="gigpo")),
        (ValueError, "graph-based", dict(method="grpo")),
        (ValueError, "distance='shortest'", dict(distance="expected", action=[0, 0, 0, 0, 0])),
        (ValueError, "merge='exact'", dict(merge="similar")),
        (ValueError, "row 3: task differs", dict(task=[7, 7, 7, 8, 8])),
        (ValueError, "unequal lengths: task", dict(task=[7, 7])),
        (TypeError, "task row 2", dict(task=[7, 7, "x", 7, 7])),
        (TypeError, "task row 1", dict(task=[7, None, 7, 7, 7])),
        (TypeError, "task must hold", dict(task=np.array([1.5] * 5))),
        (ValueError, "row 1: success is not constant", dict(success=[0, 1, 0, 0, 0])),
        (ValueError, "row 0: cost must be > 0", dict(cost=[0.0, 1, 1, 1, 1])),
        (ValueError, "option 'omega'", dict(omega=1.5)),
        (ValueError, "unknown option", dict(colour="red")),
    ]
    for error, message, change in bad_calls:
        call = {"method": "graphgpo", **CALL_2, "task": [7] * 5, **change}
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            graphgpo.advantages(call.pop("method"), memory=memory, **call)
        assert memory._engine.to_bytes() == before, change
    with pytest.raises(ValueError, match="task is only used with memory"):
        graphgpo.advantages("graphgpo", task=[7] * 5, **CALL_2)
    with pytest.raises(TypeError, match="memory must be a graphgpo.GraphMemory"):
        graphgpo.advantages("graphgpo", memory={}, **CALL_2)


@pytest.mark.parametrize("bound", ["max_edges_per_task", "max_edges", "max_age"])
def test_bad_bounds(bound):
    with pytest.raises(ValueError, match=bound):
        graphgpo.GraphMemory(**{bound: -1})
    for value in (1.5, True, "3"):
        with pytest.raises(TypeError, match=bound):
            graphgpo.GraphMemory(**{bound: value})
    memory = graphgpo.GraphMemory(**{bound: np.int64(3)})
    assert getattr(memory, bound) == 3
    assert getattr(graphgpo.GraphMemory(), bound) is None


# ---------------------------------------------------------------------------------------------------------
# Parity with the plain-Python reference over sequences of calls.


@st.composite
def call_sequences(draw):
    bounds = {"max_edges_per_task": draw(st.none() | st.integers(0, 12)),
              "max_edges": draw(st.none() | st.integers(0, 30)),
              "max_age": draw(st.none() | st.integers(0, 4))}
    num_tasks = draw(st.integers(1, 4))  # few tasks: groups share a task within a call and across calls
    str_tasks = draw(st.booleans())
    calls = []
    for _ in range(draw(st.integers(1, 6))):
        batch = draw(batches(max_groups=3, max_trajectories=3, max_length=5, num_states=5, with_action=False,
                             next_state_gaps=draw(st.booleans())))
        task_of = {g: draw(st.integers(0, num_tasks - 1)) for g in batch["group"]}
        batch["task"] = [(f"task {task_of[g]}" if str_tasks else task_of[g] * 1000 - 7) for g in batch["group"]]
        if draw(st.booleans()):
            batch.pop("task")  # default: the group id
        method = draw(st.sampled_from(["graphgpo", "graphgpo", "progpo"]))
        calls.append((batch, draw(options(method)), method))
    save_at = draw(st.none() | st.integers(0, len(calls) - 1))
    return bounds, str_tasks, calls, save_at


@SETTINGS
@given(call_sequences())
def test_sequences_of_calls_match_the_reference(sequence):
    bounds, _, calls, save_at = sequence
    memory, ref = graphgpo.GraphMemory(**bounds), MemoryReference(**bounds)
    with tempfile.TemporaryDirectory() as tmp:
        for k, (batch, opts, method) in enumerate(calls):
            if k == save_at:
                path = Path(tmp) / "memory.bin"
                memory.save(path)
                memory = graphgpo.GraphMemory.load(path)
            expected = reference_memory_advantages(ref, method, **batch, **opts)
            got = graphgpo.advantages(method, memory=memory, **batch, **opts)
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
            assert engine_contents(memory) == reference_contents(ref)
            stats = memory.stats()
            assert (stats["tasks"], stats["edges"], stats["calls"]) == (len(ref.tasks), ref.num_edges, ref.calls)
            # bytes depend on the contents only: a copy through the file format reports the same
            assert pickle.loads(pickle.dumps(memory)).stats() == stats


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call_sequences(), st.integers(1, 3))
def test_thread_count_and_copies_change_nothing(sequence, threads):
    bounds, _, calls, _ = sequence
    one, many = graphgpo.GraphMemory(**bounds), graphgpo.GraphMemory(**bounds)
    for batch, opts, method in calls:
        a = graphgpo.advantages(method, memory=one, num_threads=1, **batch, **opts)
        b = graphgpo.advantages(method, memory=many, num_threads=threads, **batch, **opts)
        assert a.tobytes() == b.tobytes()
        many = pickle.loads(pickle.dumps(many))
    assert one._engine.to_bytes() == many._engine.to_bytes()


def test_memory_without_memory_edges_equals_plain_graphgpo():
    """The first call on an empty memory is plain graphgpo, whatever the batch."""
    rng = np.random.default_rng(4)
    n = 3000
    batch = {"group": np.repeat(np.arange(n // 100), 100), "trajectory": np.repeat(np.arange(n // 10), 10),
             "state": rng.integers(0, 20, n), "success": np.repeat(rng.random(n // 10) < 0.5, 10),
             "cost": rng.uniform(0.5, 2, n)}
    np.testing.assert_array_equal(graphgpo.advantages("graphgpo", memory=graphgpo.GraphMemory(), **batch),
                                  graphgpo.advantages("graphgpo", **batch))
    np.testing.assert_allclose(graphgpo.advantages("graphgpo", **batch),
                               reference_advantages("graphgpo", **{k: list(v) for k, v in batch.items()}),
                               atol=1e-9)


def test_insertion_numbers_are_renumbered_before_they_run_out():
    batch = {"group": [0, 0, 1, 1], "trajectory": [0, 0, 1, 1], "state": [1, 2, 3, 4], "next_state": [2, 3, 4, 5],
             "success": [0] * 4}
    memory, ref = graphgpo.GraphMemory(max_edges=5), MemoryReference(max_edges=5)
    reference_memory_advantages(ref, "graphgpo", **batch)
    graphgpo.advantages("graphgpo", memory=memory, **batch)
    memory._engine._set_next_insertion(2**32 - 3)
    for k in range(4):
        shifted = {**batch, "state": [s + k for s in batch["state"]], "next_state": [s + k + 1 for s in batch["state"]]}
        np.testing.assert_allclose(graphgpo.advantages("graphgpo", memory=memory, **shifted),
                                   reference_memory_advantages(ref, "graphgpo", **shifted), atol=1e-12)
        got = {t: [e[:4] for e in edges] for t, edges in engine_contents(memory).items()}
        want = {t: [e[:4] for e in edges] for t, edges in reference_contents(ref).items()}
        assert got == want
    assert max(e[4] for edges in engine_contents(memory).values() for e in edges) < 2**32 - 3


# ---------------------------------------------------------------------------------------------------------
# Files.


def test_save_load_roundtrip(tmp_path):
    memory = graphgpo.GraphMemory(max_edges_per_task=50, max_age=9)
    graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[7] * 3, **CALL_1)
    path = tmp_path / "memory.ggm"
    memory.save(path)
    loaded = graphgpo.GraphMemory.load(str(path))
    assert (loaded.max_edges_per_task, loaded.max_edges, loaded.max_age) == (50, None, 9)
    assert loaded.stats() == memory.stats()
    assert loaded._engine.to_bytes() == memory._engine.to_bytes() == path.read_bytes()
    got = graphgpo.advantages("graphgpo", omega=0.5, memory=loaded, task=[7] * 5, **CALL_2)
    np.testing.assert_allclose(got, EXPECTED_2_WITH, atol=1e-6)
    memory.save(path)  # over an existing file
    assert [p.name for p in tmp_path.iterdir()] == ["memory.ggm"]  # no temporary file left behind


def test_bad_files_raise(tmp_path):
    memory = graphgpo.GraphMemory()
    graphgpo.advantages("graphgpo", memory=memory, task=[7] * 3, **CALL_1)
    good = memory._engine.to_bytes()
    path = tmp_path / "m.bin"
    cases = {
        "truncated": [good[:n] for n in (0, 10, 16, 60, len(good) // 2, len(good) - 1)],
        "corrupt": [good[:k] + bytes([good[k] ^ 0x10]) + good[k + 1:] for k in (20, 90, len(good) // 2,
                                                                             len(good) - 20, len(good) - 1)]
        + [good + b"\0"],
        "not a graphgpo memory file": [b"PK\x03\x04" + good[4:], b"{}", pickle.dumps({"edges": []})],
        "unsupported format version": [good[:16] + (2).to_bytes(4, "little") + good[20:]],
    }
    for message, contents in cases.items():
        for data in contents:
            path.write_bytes(data)
            with pytest.raises(ValueError, match=message if data else "not a graphgpo|truncated"):
                graphgpo.GraphMemory.load(path)
    with pytest.raises(FileNotFoundError):
        graphgpo.GraphMemory.load(tmp_path / "missing.bin")
    with pytest.raises(OSError):
        graphgpo.GraphMemory.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        memory.save(tmp_path / "no such dir" / "m.bin")


_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    import graphgpo
    path, generation = sys.argv[1], 0
    rng = np.random.default_rng(0)
    memory = graphgpo.GraphMemory()
    n = 200_000
    group = np.repeat(np.arange(n // 100), 100)
    batch = {"group": group, "trajectory": np.repeat(np.arange(n // 10), 10), "success": np.zeros(n, bool)}
    while True:
        generation += 1
        state = rng.integers(0, 1 << 40, n)
        graphgpo.advantages("graphgpo", memory=memory, state=state, next_state=state + 1, **batch)
        memory.save(path)
        print(generation, memory.stats()["edges"], flush=True)
""")


def test_a_process_killed_while_saving_leaves_a_loadable_file(tmp_path):
    """A saver SIGKILLed while its temporary file exists (mid-save: the file is tens of MB, written and
    fsync'ed before the rename): the path still holds the last complete save."""
    path = tmp_path / "memory.bin"
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        generation, edges = map(int, proc.stdout.readline().split())  # one complete save
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(".tmp-" in p.name for p in tmp_path.iterdir()):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.0002)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name], "the saver was not killed mid-save"
    loaded = graphgpo.GraphMemory.load(path)
    assert loaded.stats()["calls"] >= generation and loaded.stats()["edges"] >= edges
    assert loaded.stats()["edges"] == 200_000 * loaded.stats()["calls"]  # whole calls only


# ---------------------------------------------------------------------------------------------------------
# Concurrency.


def test_concurrent_calls_on_one_memory_are_serialized():
    """Threads calling on one memory (disjoint tasks) get what they would get alone, and the memory ends
    up with every call's edges; its file loads."""
    rng = np.random.default_rng(8)
    n = 20_000
    batches_ = []
    for k in range(8):
        group = np.repeat(np.arange(n // 200), 200)
        batches_.append({"group": group, "task": group + 1000 * k, "trajectory": np.repeat(np.arange(n // 20), 20),
                         "state": rng.integers(0, 40, n), "success": np.repeat(rng.random(n // 20) < 0.5, 20)})
    expected = []
    for b in batches_:
        alone = graphgpo.GraphMemory()
        expected.append([graphgpo.advantages("graphgpo", memory=alone, **b) for _ in range(3)])
    shared = graphgpo.GraphMemory()
    results: dict[int, list] = {k: [] for k in range(len(batches_))}
    errors = []

    def work(k):
        try:
            for _ in range(3):
                results[k].append(graphgpo.advantages("graphgpo", memory=shared, num_threads=2, **batches_[k]))
                shared.stats()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches_))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(len(batches_)):
        for got, want in zip(results[k], expected[k]):
            np.testing.assert_array_equal(got, want)
    expected_edges = 0
    for b in batches_:
        alone = graphgpo.GraphMemory()
        graphgpo.advantages("graphgpo", memory=alone, **b)
        expected_edges += alone.stats()["edges"]
    assert shared.stats()["edges"] == expected_edges
    assert shared.stats()["calls"] == 3 * len(batches_)
    copy = pickle.loads(pickle.dumps(shared))
    assert copy._engine.to_bytes() == shared._engine.to_bytes()


def test_repr_and_stats():
    memory = graphgpo.GraphMemory(max_edges=10)
    assert repr(memory) == "GraphMemory(max_edges_per_task=None, max_edges=10, max_age=None; 0 tasks, 0 edges, 0 calls)"
    graphgpo.advantages("graphgpo", memory=memory, task=["a"] * 3, **CALL_1)
    stats = memory.stats()
    assert set(stats) == {"tasks", "edges", "bytes", "calls"}
    assert stats["tasks"] == 1 and stats["edges"] == 3 and stats["calls"] == 1 and stats["bytes"] > 0
    assert "GraphMemory" in graphgpo.__all__ and graphgpo.MEMORY_METHODS == ("graphgpo", "progpo")


@pytest.mark.skipif(os.environ.get("GRAPHGPO_SLOW_TESTS") != "1", reason="set GRAPHGPO_SLOW_TESTS=1")
def test_million_edges_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    memory = graphgpo.GraphMemory()
    n = 250_000
    for k in range(4):
        group = np.repeat(np.arange(n // 100), 100) + k * (n // 100)
        state = rng.integers(0, 1 << 40, n)
        graphgpo.advantages("graphgpo", memory=memory, group=group, trajectory=np.repeat(np.arange(n // 10), 10),
                            state=state, next_state=state + 1, success=np.zeros(n, bool))
    assert memory.stats()["edges"] == 1_000_000
    memory.save(tmp_path / "m.bin")
    assert graphgpo.GraphMemory.load(tmp_path / "m.bin").stats()["edges"] == 1_000_000


def test_the_cuda_path_refuses_memory():
    from graphgpo import cuda

    with pytest.raises(ValueError, match="CPU engine only"):
        cuda.advantages("graphgpo", memory=graphgpo.GraphMemory(), **CALL_1)
    with pytest.raises(ValueError, match="CPU engine only"):
        cuda.advantages("graphgpo", task=[1, 1, 1], **CALL_1)


def test_memory_benchmark_quick_run(tmp_path):
    """benchmarks/memory.py runs and writes its section (timings are not judged here: the machine is shared)."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "RESULTS.md"
    out.write_text("# results\n\nbefore\n")
    for _ in range(2):  # the second run replaces the section
        subprocess.run([sys.executable, "-m", "benchmarks.memory", "--quick", "--out", str(out)], cwd=root,
                       check=True, capture_output=True, timeout=600)
    text = out.read_text()
    assert text.startswith("# results\n\nbefore\n") and text.count("<!-- memory benchmark: begin -->") == 1
    assert text.count("| PASS |") + text.count("| FAIL |") == 5
    bytes_line = next(line for line in text.splitlines() if line.startswith("| at most 48 bytes per stored edge |"))
    assert bytes_line.endswith("| PASS |")


# ---------------------------------------------------------------------------------------------------------
# The demo's memory row (issue 13 item 5), end to end with the real memory.


def test_demo_memory_row_keeps_one_memory_keyed_by_level(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from graphgpo import demo

    made = []

    class Recording(graphgpo.GraphMemory):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(graphgpo, "GraphMemory", Recording)
    row = demo.Estimator("graphgpo+memory", "graphgpo", {"omega": 0.8}, memory=True)
    cfg = demo.DemoConfig(quick=True, seeds=2, estimators=("graphgpo", row), out=str(tmp_path), progress=False,
                          jobs=1)
    results = demo.run_demo(cfg)
    assert len(made) == 3  # the preflight check of the row (one call), then one memory per (row, seed) run
    assert made[0].stats()["calls"] == 1
    for memory in made[1:]:
        stats = memory.stats()
        # every training iteration is one call; tasks are the levels (at most num_levels of them)
        assert stats["calls"] == cfg.iterations and 1 <= stats["tasks"] <= cfg.num_levels and stats["edges"] > 0
    runs = results["runs"]["graphgpo+memory"]
    assert len(runs) == 2 and all(len(r["success"]) == cfg.iterations for r in runs)
