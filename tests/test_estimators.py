"""The engine against the plain-Python reference of SPEC on random batches, for every method and option."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.testing.reference import reference_advantages
from graphgpo.testing.strategies import batches, options

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_matches_reference(method, batch, opts):
    expected = reference_advantages(method, **batch, **opts)
    got = graphgpo.advantages(method, **batch, **opts)
    assert got.dtype == np.float64 and got.shape == (len(batch["group"]),)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    return got


@pytest.mark.parametrize("method", graphgpo.METHODS)
@SETTINGS
@given(data=st.data())
def test_engine_matches_reference(method, data):
    batch = data.draw(batches())
    opts = data.draw(options(method))
    assert_matches_reference(method, batch, opts)


@pytest.mark.parametrize("method", ["graphgpo", "progpo"])
@SETTINGS
@given(data=st.data())
def test_expected_distance_matches_reference(method, data):
    batch = data.draw(batches(with_action=True))
    opts = data.draw(options(method))
    assert_matches_reference(method, batch, {**opts, "distance": "expected"})


@settings(max_examples=100, deadline=None)
@given(batch=batches(), threads=st.integers(2, 8))
def test_bit_identical_for_any_thread_count(batch, threads):
    for method in graphgpo.METHODS:
        one = graphgpo.advantages(method, **batch, num_threads=1)
        many = graphgpo.advantages(method, **batch, num_threads=threads)
        assert one.tobytes() == many.tobytes()


@settings(max_examples=100, deadline=None)
@given(batch=batches())
def test_state_kinds_agree(batch):
    """Integer states, their text, their bytes and their fingerprints are the same graph."""
    ints = graphgpo.advantages("graphgpo", **batch)
    for convert in (lambda xs: [f"state {x}" for x in xs], lambda xs: [bytes([x]) * 3 for x in xs],
                    lambda xs: graphgpo.fingerprint(np.asarray(xs)), lambda xs: np.asarray(xs)[:, None]):
        other = dict(batch, state=convert(batch["state"]))
        if batch["next_state"] is not None:
            other["next_state"] = convert(batch["next_state"])
        np.testing.assert_array_equal(graphgpo.advantages("graphgpo", **other), ints)


def test_large_batch_threads_and_reference():
    """A batch big enough to run several threads over many groups, against the reference."""
    rng = np.random.default_rng(7)
    group, traj, state, success = [], [], [], []
    t = 0
    for g in range(64):
        for _ in range(8):
            length = int(rng.integers(1, 30))
            s = rng.integers(0, 12, size=length)
            group += [g] * length
            traj += [t] * length
            state += (s + 100 * g).tolist()
            success += [bool(rng.random() < 0.4)] * length
            t += 1
    batch = {"group": group, "trajectory": traj, "state": state, "success": success}
    for method in graphgpo.METHODS:
        got = graphgpo.advantages(method, **batch, num_threads=2)
        np.testing.assert_allclose(got, reference_advantages(method, **batch), rtol=1e-9, atol=1e-9)
        assert got.tobytes() == graphgpo.advantages(method, **batch, num_threads=1).tobytes()


def test_empty_batch_gives_empty_result():
    for method in graphgpo.METHODS:
        out = graphgpo.advantages(method, group=[], trajectory=[], state=[], success=[])
        assert out.shape == (0,) and out.dtype == np.float64


def test_torch_inputs():
    torch = pytest.importorskip("torch")
    batch = {"group": [0, 0, 0, 0], "trajectory": [0, 0, 1, 1], "state": [1, 2, 1, 3],
             "success": [1, 1, 0, 0]}
    expected = graphgpo.advantages("graphgpo", **batch)
    got = graphgpo.advantages("graphgpo", group=torch.tensor(batch["group"]),
                              trajectory=torch.tensor(batch["trajectory"]), state=torch.tensor(batch["state"]),
                              success=torch.tensor(batch["success"], dtype=torch.bool))
    np.testing.assert_array_equal(got, expected)


def test_group_without_success_credits_only_invalid_actions():
    batch = {"group": [0] * 4, "trajectory": [0, 0, 1, 1], "state": [1, 2, 1, 3], "success": [0] * 4,
             "valid": [1, 1, 0, 1]}
    adv = graphgpo.advantages("graphgpo", step_weight=1.0, episode_weight=0.0, **batch)
    # Every node has d = 1, so the two rows leaving state 1 differ only by the invalid penalty.
    assert adv[0] > 0 > adv[2] and adv[1] == 0 and adv[3] == 0


def test_key_canonicalizes_states():
    batch = {"group": [0] * 4, "trajectory": [0, 0, 1, 1], "success": [1, 1, 0, 0]}
    a = graphgpo.advantages("graphgpo", state=["A", "b", "a", "C"], key=str.lower, **batch)
    b = graphgpo.advantages("graphgpo", state=["a", "b", "a", "c"], **batch)
    np.testing.assert_array_equal(a, b)


def _advantages_in_child(queue, batch):
    queue.put(graphgpo.advantages("graphgpo", **batch, num_threads=2).tolist())


def test_worker_pool_survives_fork():
    """Workers persist between calls; a forked child (DataLoader workers, torchrun) must get its own."""
    import multiprocessing as mp

    rng = np.random.default_rng(3)
    n = 40_000
    batch = {"group": np.repeat(np.arange(n // 400), 400), "trajectory": np.repeat(np.arange(n // 40), 40),
             "state": rng.integers(0, 50, n), "success": np.repeat(rng.random(n // 40) < 0.5, 40)}
    expected = graphgpo.advantages("graphgpo", **batch, num_threads=2)  # the parent's pool is now running
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_advantages_in_child, args=(queue, batch))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)


def test_concurrent_callers_from_python_threads():
    """The GIL is released: several Python threads may run the engine at once, each getting its own result."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    batches = []
    for k in range(6):
        n = 20_000
        batches.append({"group": np.repeat(np.arange(n // 200), 200), "trajectory": np.repeat(np.arange(n // 20), 20),
                        "state": rng.integers(0, 30 + k, n), "success": np.repeat(rng.random(n // 20) < 0.5, 20)})
    expected = [graphgpo.advantages("gigpo", **b, num_threads=1) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: graphgpo.advantages("gigpo", **b, num_threads=2), batches * 3))
    for i, g in enumerate(got):
        np.testing.assert_array_equal(g, expected[i % len(batches)])


_AFFINITY_CHILD = """
import json, os, sys
import numpy as np
import graphgpo
if len(sys.argv) > 1:
    os.sched_setaffinity(0, {int(sys.argv[1])})
n = 40_000
batch = {"group": np.repeat(np.arange(n // 400), 400), "trajectory": np.repeat(np.arange(n // 40), 40),
         "state": np.arange(n) % 50, "success": np.repeat(np.arange(n // 40) % 2 == 0, 40)}
for _ in range(3):
    graphgpo.advantages("graphgpo", **batch, num_threads=2)
workers = [int(t) for t in os.listdir("/proc/self/task")
           if open(f"/proc/self/task/{t}/comm").read().strip() == "graphgpo-worker"]
print(json.dumps({"caller": sorted(os.sched_getaffinity(0)),
                  "workers": [sorted(os.sched_getaffinity(t)) for t in workers]}))
"""


def _worker_affinity(*args: str) -> dict:
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _AFFINITY_CHILD, *args], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(proc.stdout)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and at least 2 CPUs")
def test_workers_run_beside_the_caller_within_its_cpus():
    """Workers are kept off the caller's CPU (a woken worker must not queue behind the caller), never
    outside the CPUs the caller may use; a caller pinned to one CPU leaves them where they are."""
    seen = _worker_affinity()
    allowed = set(seen["caller"])
    assert len(seen["workers"]) == 1
    worker_cpus = set(seen["workers"][0])
    assert worker_cpus < allowed and len(worker_cpus) == len(allowed) - 1

    pinned = min(allowed)
    seen = _worker_affinity(str(pinned))
    assert seen["caller"] == [pinned]
    assert seen["workers"] == [[pinned]]


def test_many_short_parallel_calls_with_pauses():
    """Short jobs that the caller may finish before its helper wakes (the helper then must not run a stale
    job, nor the caller wait for it): pauses of 0 to 1 ms between calls cover both orders."""
    import time

    rng = np.random.default_rng(11)
    n = 12_000
    batch = {"group": np.repeat(np.arange(n // 400), 400), "trajectory": np.repeat(np.arange(n // 40), 40),
             "state": rng.integers(0, 40, n), "success": np.repeat(rng.random(n // 40) < 0.5, 40)}
    expected = {m: graphgpo.advantages(m, **batch, num_threads=1) for m in ("grpo", "gigpo", "graphgpo")}
    for i in range(150):
        method = ("grpo", "gigpo", "graphgpo")[i % 3]
        time.sleep(float(rng.choice([0.0, 0.0001, 0.0003, 0.001])))
        np.testing.assert_array_equal(graphgpo.advantages(method, **batch, num_threads=2), expected[method])
