"""The TRL layer's engine calls per batch, and its vectorized bookkeeping against the plain versions.

One estimator call per batch gives both the step advantages and the episode advantage of text turns
(``return_episode``); these tests count the calls so that a second one cannot come back unnoticed, and check
that the numbers are the ones of the former definition (SPEC grpo with validity ignored, times
``episode_weight`` for the step methods).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("trl")
pytest.importorskip("torch")

import trl_helpers as H  # noqa: E402

import graphgpo  # noqa: E402
from graphgpo.testing.reference import reference_advantages  # noqa: E402
from graphgpo.trl import _engine  # noqa: E402
from graphgpo.trl._steps import batch_advantages, records_from_traces  # noqa: E402
from graphgpo.trl._tokens import (  # noqa: E402
    action_spans,
    assign_steps,
    layout_advantages,
    segment_values,
    turn_advantages,
)


@pytest.fixture
def engine_calls(monkeypatch):
    """Counts of the calls into the engine seam (`graphgpo.trl._engine`), by function name."""
    calls: collections.Counter = collections.Counter()
    for name in ("advantages", "diagnostics", "fingerprint"):
        fn = getattr(_engine, name)

        def counted(*args, _name=name, _fn=fn, **kwargs):
            calls[_name] += 1
            return _fn(*args, **kwargs)

        monkeypatch.setattr(_engine, name, counted)
    return calls


def _traces():
    # Two groups of three; invalid steps, an episode without steps, a shared start state per group.
    traces = [
        [("A", "B", True), ("B", "C", False), ("C", "X", True)],
        [("A", "C", True), ("C", "Y", True)],
        [],
        [("P", "Q", False), ("Q", "Q", False)],
        [("P", "R", True)],
        [("P", "Q", True), ("Q", "Z", True)],
    ]
    return traces, [True, True, False, False, None, True]


def _former_text(records, rewards, method, options, episode_reward, num_generations):
    """The text-turn value as the TRL layer computed it with a second engine call: SPEC grpo on the batch's
    rows with every row valid (the reference, not the engine), one value per rollout, times episode_weight."""
    result = batch_advantages(records, rewards, num_generations=num_generations, method="grpo",
                              options={}, episode_reward=episode_reward)
    counts = [len(s) for s in result.steps]
    traj = np.repeat(np.arange(len(records)), counts)
    reward = None
    if episode_reward == "reward_funcs":
        reward = np.zeros(len(traj))
        reward[np.cumsum(counts) - 1] = np.nan_to_num(np.asarray(rewards, dtype=float))
    grpo_options = {k: v for k, v in options.items() if k in ("episode_stats", "norm", "eps", "success_reward")}
    a_e = reference_advantages("grpo", group=(traj // num_generations).tolist(), trajectory=traj.tolist(),
                               state=list(range(len(traj))), success=result.success[traj].tolist(),
                               reward=None if reward is None else reward.tolist(), **grpo_options)
    first = np.cumsum(counts) - counts
    weight = 1.0 if method == "grpo" else options.get("episode_weight", 1.0)
    return weight * np.asarray(a_e)[first]


@pytest.mark.parametrize("method", graphgpo.METHODS)
@pytest.mark.parametrize("options", [{}, {"episode_weight": 0.3, "invalid_penalty": 1.0},
                                     {"episode_stats": "per_trajectory", "invalid_penalty": 0.5, "norm": "mean"}])
@pytest.mark.parametrize("episode_reward", ["success", "reward_funcs"])
def test_one_estimator_call_gives_steps_and_text(engine_calls, method, options, episode_reward):
    traces, successes = _traces()
    rewards = [1.0, 0.5, 0.0, 0.0, 2.0, 1.0]
    records = records_from_traces(traces, successes)
    assert engine_calls == {"fingerprint": 1}
    for batch in range(2):
        engine_calls.clear()
        result = batch_advantages(records, rewards, num_generations=3, method=method, options=options,
                                  episode_reward=episode_reward)
        # One estimator call and one diagnostics call; the synthetic nodes' fingerprints are computed once.
        assert engine_calls["advantages"] == 1 and engine_calls["diagnostics"] == 1
        assert engine_calls["fingerprint"] == (1 if batch == 0 else 0)
    want = _former_text(records, rewards, method, options, episode_reward, 3)
    np.testing.assert_allclose(result.text, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.concatenate(result.steps), result.rows)
    np.testing.assert_array_equal(result.first_row, np.cumsum(result.num_rows) - result.num_rows)


def test_one_estimator_call_per_trainer_batch(engine_calls, tmp_path):
    trainer = H.scripted_line_world_trainer(str(tmp_path), per_device=8, max_completion_length=200,
                                            invalid_penalty=0.5)
    trainer.train()
    # One generation batch: the records' fingerprints, one estimator call, one diagnostics call (the
    # synthetic nodes' fingerprints at most once per process).
    assert engine_calls["advantages"] == 1 and engine_calls["diagnostics"] == 1
    assert 1 <= engine_calls["fingerprint"] <= 2
    assert len(trainer.recorded) == 1 and trainer.recorded[0]["advantages"].abs().sum() > 0


@st.composite
def _layouts(draw):
    batch = draw(st.integers(1, 6))
    length = draw(st.integers(1, 24))
    completion = np.array(draw(st.lists(st.lists(st.integers(0, 1), min_size=length, max_size=length),
                                        min_size=batch, max_size=batch)), dtype=np.int64)
    tool = np.array(draw(st.lists(st.lists(st.integers(0, 1), min_size=length, max_size=length),
                                  min_size=batch, max_size=batch)), dtype=np.int64)
    num_steps = draw(st.lists(st.integers(0, 5), min_size=batch, max_size=batch))
    steps = np.array(draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=sum(num_steps),
                                   max_size=sum(num_steps))), dtype=np.float64)
    owned = []
    for n in num_steps:
        if draw(st.booleans()):
            owned.append(None)
            continue
        order = draw(st.permutations(range(n)))
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
        parts = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, n])]
        owned.append(parts[: draw(st.integers(0, len(parts)))])
    text = np.array(draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=batch, max_size=batch)))
    return completion, tool, np.array(num_steps, dtype=np.int64), steps, owned, text


@settings(max_examples=200, deadline=None)
@given(layout=_layouts())
def test_turn_advantages_equal_the_per_row_layout(layout):
    completion, tool, num_steps, steps, owned, text = layout
    first = np.cumsum(num_steps) - num_steps
    spans = action_spans(completion, tool)
    got, num_owned = turn_advantages(completion.shape, spans, steps, first, num_steps, owned, text)
    # The plain per-row version the trainer used before (segment_values + layout_advantages).
    rows = [[] for _ in range(len(completion))]
    for r, a, b in zip(*spans):
        rows[r].append((int(a), int(b)))
    values, want_owned = [], 0
    for b, row in enumerate(rows):
        mine = steps[first[b] : first[b] + num_steps[b]]
        turns = assign_steps(len(row), int(num_steps[b])) if owned[b] is None else list(owned[b][: len(row)])
        turns += [()] * (len(row) - len(turns))
        want_owned += sum(len(t) for t in turns)
        values.append(segment_values(mine, turns, text[b]))
    want = layout_advantages(completion.shape, rows, values)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    assert num_owned == want_owned
