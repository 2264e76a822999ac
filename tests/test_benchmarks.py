"""The benchmark harness: its published-style baseline computes SPEC's numbers, and the runner works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if (
    str(ROOT) not in sys.path
):  # `benchmarks` is a top-level folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import data, published_style, timing  # noqa: E402
from graphgpo.testing.reference import reference_advantages  # noqa: E402

OPTION_SETS = [
    {},
    {"omega": 0.5, "gamma": 0.9, "norm": "mean"},
    {"success_reward": 1.0, "invalid_penalty": 0.5, "step_weight": 0.5, "episode_weight": 2.0, "eps": 1e-3},
]


def _small_batches():
    """Small random-walk batches, int and text states, with few states so that states repeat a lot."""
    for seed in range(12):
        rng = np.random.default_rng(seed)
        kind = "int" if seed % 2 else "text"
        shape = data.Shape(
            "t",
            int(rng.integers(1, 4)),
            int(rng.integers(1, 5)),
            int(rng.integers(1, 12)),
            states=kind,
            states_per_group=int(rng.integers(2, 8)),
            text_bytes=64,
            skill=(0.0, 1.0),
            seed=seed,
        )
        yield data.generate(shape)


@pytest.mark.parametrize("method", published_style.METHODS)
@pytest.mark.parametrize("options", OPTION_SETS, ids=["defaults", "omega-gamma-mean", "weights-penalty"])
def test_published_style_equals_reference(method, options):
    for batch in _small_batches():
        states = batch.states()
        states = states.tolist() if isinstance(states, np.ndarray) else states
        for next_state in (None, batch.next_states()):
            rows = {
                "group": batch.group,
                "trajectory": batch.trajectory,
                "state": states,
                "success": batch.success,
                "valid": batch.valid,
                "next_state": next_state,
            }
            got = published_style.advantages(method, **rows, **options)
            want = reference_advantages(
                method,
                **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rows.items()},
                **options,
            )
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_published_style_with_verl_uuid_ids():
    batch = data.generate(data.QUICK_SHAPES["large-text"])
    group, trajectory = batch.uuid_ids()
    states = batch.states()
    for method in published_style.METHODS:
        got = published_style.advantages(
            method, group=group, trajectory=trajectory, state=states, success=batch.success, valid=batch.valid
        )
        want = reference_advantages(
            method,
            group=batch.group.tolist(),
            trajectory=batch.trajectory.tolist(),
            state=states,
            success=batch.success.tolist(),
            valid=batch.valid.tolist(),
        )
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_published_style_spec_worked_example():
    rows = [
        ("0", "A", "B", 1, 1),
        ("0", "B", "C", 1, 1),
        ("0", "C", "X", 1, 1),
        ("1", "A", "C", 1, 1),
        ("1", "C", "Y", 1, 1),
        ("2", "A", "D", 0, 1),
        ("2", "D", "B", 0, 0),
        ("2", "B", "B", 0, 1),
        ("2", "B", "C", 0, 1),
    ]
    got = published_style.advantages(
        "graphgpo",
        omega=0.5,
        group=np.zeros(9, dtype=np.int64),
        trajectory=np.array([int(r[0]) for r in rows]),
        state=[r[1] for r in rows],
        next_state=[r[2] for r in rows],
        success=[r[3] for r in rows],
        valid=[r[4] for r in rows],
    )
    want = [0.625042, 1.42061, 0.84326, 1.934349, 0.84326, -1.922214, -1.068269, -2.204043, -0.471993]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_generator_is_deterministic_and_well_formed():
    shape = data.QUICK_SHAPES["large-int"]
    a, b = data.generate(shape), data.generate(shape)
    np.testing.assert_array_equal(a.state_ids, b.state_ids)
    np.testing.assert_array_equal(a.trajectory, b.trajectory)
    starts = np.r_[0, np.flatnonzero(np.diff(a.trajectory)) + 1]
    assert len(np.unique(a.trajectory)) == len(starts)  # contiguous trajectories
    for lo, hi in zip(starts, np.r_[starts[1:], len(a)], strict=True):
        assert len(set(a.group[lo:hi].tolist())) == 1
        assert len(set(a.success[lo:hi].tolist())) == 1
    assert 0.02 < 1 - a.valid.mean() < 0.25
    sized = data.generate(data.QUICK_SHAPES["huge"])
    assert len(sized) == data.QUICK_SHAPES["huge"].rows
    text = data.generate(data.QUICK_SHAPES["alfworld"])
    assert all(isinstance(s, str) and len(s) > 1500 for s in text.states())
    assert text.states()[0] is not text.states()[0]  # fresh objects each time


@pytest.mark.parametrize("engine", ["graphgpo", "reference"])
def test_quick_run_writes_a_table(tmp_path, engine):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--engine", engine, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert "## Targets" in report and "| implementation | time |" in report
    assert "published style, graphgpo" in report and "linear Python (reference), graphgpo" in report
    assert "engine graphgpo, 2 threads, cold start" in report
    assert "## GPU" in report and "No GPU timings are reported here." in report
    if engine == "reference":
        assert "STAND-IN" in report and "engine graphgpo, 1 thread" in report


def test_interleaved_timing_takes_turns_and_repeats_fast_calls():
    """Round after round, each pair in turn; fast calls get more runs than ``repeat`` (autorange), capped
    by the budget, which counts input preparation too."""
    import time

    order = []

    def item(name, seconds):
        def call(inputs):
            order.append(name)
            time.sleep(seconds)
            return name

        return (lambda: None), call

    timings = timing.best_of_interleaved([item("a", 0.002), item("b", 0.001)], repeat=2, slow_s=10,
                                         budget_s=10, min_total_s=0.05)
    runs = timings[0].runs
    assert 2 < runs <= 17 and all(t.runs == runs for t in timings)  # about 0.05 s / 3 ms per round
    assert order == ["a", "b"] * (runs + 1)
    assert [t.output for t in timings] == ["a", "b"]
    assert timings[0].seconds >= 0.002 and timings[1].seconds >= 0.001

    slow_prepare = timing.best_of_interleaved([((lambda: time.sleep(0.05)), lambda x: x)], repeat=1,
                                              slow_s=10, budget_s=0.2, min_total_s=1.0)
    assert slow_prepare[0].runs <= 4  # the budget counts the 50 ms preparation, not just the call


@pytest.mark.parametrize("cold", [False, True])
def test_timing_regimes(cold):
    """Steady state: the collector is off during the series and never runs between calls; cold start: a
    full collection before every call, outside the timer."""
    import gc

    events = []
    calls = []

    def on_gc(phase, info):
        if phase == "start" and info["generation"] == 2:
            events.append(len(calls))

    def call(inputs):
        calls.append(gc.isenabled())
        return inputs

    gc.callbacks.append(on_gc)
    try:
        result = timing.best_of(lambda: 7, call, repeat=3, slow_s=10, budget_s=10, cold=cold, min_total_s=0)
    finally:
        gc.callbacks.remove(on_gc)
    assert result.output == 7 and result.runs == 3 and result.warmed_up
    assert calls == [False] * 4  # warm-up + 3 runs, collector off in every one
    assert events == ([0, 0, 1, 2, 3] if cold else [0])  # before the series; and before each call if cold
    assert gc.isenabled()


@pytest.mark.parametrize("method", ["gigpo", "graphgpo"])
def test_official_style_merging_equals_the_engine(method):
    """The alfworld-similar baseline (official merging loops) and the engine's merge="similar" agree, on the
    quick shape and on small similar-text batches with several thresholds."""
    import graphgpo

    shapes = [data.QUICK_SHAPES["alfworld-similar"]] + [
        data.Shape("s", 2, 3, 8, states="similar-text", states_per_group=4, text_bytes=300, skill=(0.0, 0.6),
                   seed=seed)
        for seed in range(4)
    ]
    for shape, similarity in zip(shapes, (0.95, 0.6, 0.9, 0.97, 0.99)):
        batch = data.generate(shape)
        rows = {"group": batch.group, "trajectory": batch.trajectory, "state": batch.states(),
                "success": batch.success, "valid": batch.valid}
        official = published_style.advantages(method, similarity=similarity, **rows)
        engine = graphgpo.advantages(method, merge="similar", similarity=similarity, **rows)
        np.testing.assert_allclose(engine, official, rtol=1e-9, atol=1e-9)
        if similarity == 0.95:
            assert not np.allclose(official, published_style.advantages(method, **rows))  # merging matters


def test_merge_similar_is_bit_identical_for_any_thread_count():
    """merge="similar" on an ALFWorld-like batch of 12 groups (enough for every thread to get several):
    the same bits with 1, 2, 3 and 8 threads, for every estimator that merges."""
    import graphgpo

    batch = data.generate(data.Shape("threads", 12, 4, 10, states="similar-text", states_per_group=6,
                                     text_bytes=400, skill=(0.0, 0.6), seed=11))
    rows = {"group": batch.group, "trajectory": batch.trajectory, "state": batch.states(),
            "success": batch.success, "valid": batch.valid}
    for method in ("gigpo", "graphgpo", "progpo"):
        one = graphgpo.advantages(method, merge="similar", num_threads=1, **rows)
        assert not np.allclose(one, graphgpo.advantages(method, num_threads=1, **rows))  # merging matters
        for threads in (2, 3, 8):
            assert graphgpo.advantages(method, merge="similar", num_threads=threads, **rows).tobytes() == (
                one.tobytes()), (method, threads)
