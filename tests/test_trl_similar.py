"""merge="similar" through the TRL layer: the trainer keeps the state texts (and gathers them), rows carry
them to the engine, and the result is the plain-Python difflib reference's (graphgpo.testing.reference_similar).

The end-to-end run uses LineWorld with text observations that carry a turn counter, so no state repeats
exactly and only similar-state merging joins the visits of one cell.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

import trl_helpers as H  # noqa: E402

from graphgpo.testing.reference_similar import reference_similar_advantages  # noqa: E402
from graphgpo.trl._steps import batch_advantages, records_from_traces  # noqa: E402

ROOMS = (
    "a dusty hallway with a red rug and a coat rack",
    "a bright kitchen with a steel sink and a fridge",
    "a quiet library full of old books and a desk",
    "a sunny garden by the gate, with roses and a bench",
)


def room(cell: int, turn: int) -> str:
    """A cell's observation: one room per cell; the turn counter changes on every visit."""
    return f"Turn {turn}. You are in {ROOMS[cell]}. Exits lead east and west; nothing else moves here."


def _rows(traces, successes, num_generations):
    """The rows the trainer must build, written out independently: one per step; a rollout without steps
    is one step from its group's first state to a stop terminal of its own (a text nothing resembles)."""
    rows = {k: [] for k in ("group", "trajectory", "state", "next_state", "success", "valid")}
    initial = {}
    for b, trace in enumerate(traces):
        if trace:
            initial.setdefault(b // num_generations, trace[0][0])
    for b, trace in enumerate(traces):
        steps = trace or [(initial[b // num_generations], f"\x00stop {b} " + "#@!" * 20, True)]
        for s, n, v in steps:
            for key, value in zip(rows, (b // num_generations, b, s, n, successes[b], v), strict=True):
                rows[key].append(value)
    return rows


def _text_traces():
    # Group 0: rollout 0 walks hallway -> kitchen -> garden (success), rollout 1 goes back and forth and
    # revisits the kitchen with another turn counter, rollout 2 answers without a step, rollout 3 reaches
    # the kitchen at turn 5 (only merging tells it is the kitchen that leads to the garden).
    # Group 1: nobody succeeds.
    traces = [
        [(room(0, 1), room(1, 2), True), (room(1, 2), room(3, 3), True)],
        [(room(0, 1), room(1, 2), True), (room(1, 2), room(0, 3), True), (room(0, 3), room(1, 4), True),
         (room(1, 4), room(2, 5), False)],
        [],
        [(room(0, 1), room(1, 5), True), (room(1, 5), room(2, 6), False)],
        [(room(0, 1), room(1, 2), True)],
        [(room(0, 1), room(0, 2), False)],
        None,
        [(room(0, 1), room(2, 2), True), (room(2, 2), room(1, 3), True)],
    ]
    return traces, [True, False, False, False, False, False, False, False]


@pytest.mark.parametrize("method", ["graphgpo", "gigpo", "progpo", "grpo"])
@pytest.mark.parametrize("kind", [str, bytes])
def test_batch_advantages_with_merge_similar_match_the_difflib_reference(method, kind):
    traces, successes = _text_traces()
    if kind is bytes:
        traces = [t and [(s.encode(), n.encode(), v) for s, n, v in t] for t in traces]
    options = {"omega": 0.5, "merge": "similar", "similarity": 0.9}
    records = records_from_traces(traces, successes, texts=True)
    result = batch_advantages(records, [0.0] * 8, num_generations=4, method=method, options=options)
    rows = _rows(traces, successes, 4)
    if kind is bytes:
        rows["next_state"] = [t.encode() if isinstance(t, str) else t for t in rows["next_state"]]
    expected = reference_similar_advantages(method, **rows, omega=0.5, similarity=0.9)
    np.testing.assert_allclose(np.concatenate(result.steps), expected, atol=1e-9)
    if method in ("graphgpo", "progpo"):  # the merging matters here: exact matching gives other values
        exact = batch_advantages(records, [0.0] * 8, num_generations=4, method=method, options={"omega": 0.5})
        assert not np.allclose(np.concatenate(exact.steps), expected, atol=1e-6)
    assert result.metrics["graph/mean_merged_states_per_group"] > 0


def test_merge_similar_refuses_keys_that_are_not_texts_and_mixed_kinds():
    with pytest.raises(TypeError, match=r"rollout 1, step 0: merge='similar' compares state texts.*int"):
        records_from_traces([[("a", "b", True)], [(3, "b", True)]], [True, False], texts=True)
    records_from_traces([[("a", "b", True)], [(3, "b", True)]], [True, False])  # exact: int keys are fine
    records = records_from_traces([[("a", "b", True)], [(b"a", b"c", True)]], [True, False], texts=True)
    with pytest.raises(TypeError, match=r"rollout 1, step 0 has a bytes state but rollout 0's are str"):
        batch_advantages(records, [0.0, 0.0], num_generations=2, method="graphgpo",
                         options={"merge": "similar"})
    without_texts = records_from_traces([[("a", "b", True)], [("a", "c", True)]], [True, False])
    with pytest.raises(ValueError, match="rollout 0 was recorded without them"):
        batch_advantages(without_texts, [0.0, 0.0], num_generations=2, method="graphgpo",
                         options={"merge": "similar"})


class TextLineWorld(H.LineWorld):
    """LineWorld whose trace states are room descriptions with a turn counter (never an exact repeat)."""

    def reset(self, **kwargs) -> str:
        self.turn = 0
        return super().reset(**kwargs)

    def move(self, direction: str) -> str:
        """Move one cell along the line.

        Args:
            direction: "left" or "right".
        """
        result = super().move(direction)
        before, after, valid = self.graphgpo_trace[-1]
        self.graphgpo_trace[-1] = (room(before, self.turn), room(after, self.turn + 1), valid)
        self.turn += 1
        return result


def test_trainer_merges_similar_text_states(tmp_path):
    """GraphGPOTrainer with merge="similar": the token advantages are the difflib reference's on the
    recorded traces, laid out per turn exactly as test_trl checks for exact merging."""
    import test_trl as T

    trainer = H.scripted_line_world_trainer(
        str(tmp_path), per_device=8, max_completion_length=T.MAX_COMPLETION, env_class=TextLineWorld,
        merge="similar", similarity=0.9,
    )
    assert trainer.args.estimator_options()["merge"] == "similar"
    trainer.train()
    record = trainer.recorded[0]
    traces = record["environments_traces"]
    assert all(isinstance(s, str) for t in traces for s, _, _ in t) and any(traces)

    def expected(reference):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(T, "reference_advantages", reference)
            return T._expected_token_advantages(
                record, trainer.processing_class, record["environments_success"], num_generations=4, omega=0.5
            )

    exact_reference = T.reference_advantages
    merged = expected(lambda method, **rows: reference_similar_advantages(method, **rows, similarity=0.9))
    torch.testing.assert_close(record["advantages"].double(), merged, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(merged, expected(exact_reference), atol=1e-3)  # merging changed the credit
    logged = next(h for h in trainer.state.log_history if "graph/mean_merged_states_per_group" in h)
    assert logged["graph/mean_merged_states_per_group"] > 0
