"""GraphGPOTrainer / GraphGPOConfig: token layout, row assembly, a scripted end-to-end run, TRL contract,
and a 2-process run that must equal the 1-process one.

Expected values are computed with graphgpo.testing.reference from the raw traces, independently of the
trainer's code, so the end-to-end checks also compare the native engine with the reference.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

import trl_helpers as H  # noqa: E402

from graphgpo.testing.reference import reference_advantages  # noqa: E402
from graphgpo.trl._steps import batch_advantages, records_from_traces  # noqa: E402
from graphgpo.trl._tokens import (  # noqa: E402
    action_segments,
    assign_steps,
    batch_action_segments,
    layout_advantages,
    segment_values,
)

TESTS = Path(__file__).resolve().parent


# -- turn segmentation and the per-token layout (no model) ------------------------------------------------


def test_action_segments_split_on_tool_results_and_padding():
    completion = [1] * 10 + [0, 0]
    tool = [1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]  # padding has tool_mask 1, as TRL pads it
    assert action_segments(completion, tool) == [(0, 2), (4, 7), (8, 10)]
    assert action_segments(completion) == [(0, 10)]
    assert action_segments([0] * 4, [1] * 4) == []  # e.g. mask_truncated_completions
    assert action_segments([1, 1, 1], [0, 1, 1]) == [(1, 3)]
    with pytest.raises(ValueError, match="tool_mask"):
        action_segments([1, 1], [1])


def test_assign_steps_gives_one_step_per_turn_in_order():
    assert assign_steps(3, 2) == [range(0, 1), range(1, 2), range(2, 2)]  # a final text turn owns nothing
    assert assign_steps(1, 3) == [range(0, 1)]  # leftover steps stay in the graph without tokens
    assert assign_steps(0, 4) == []
    with pytest.raises(ValueError, match="non-negative"):
        assign_steps(-1, 0)


def test_turn_steps_follow_the_calls_that_appended_steps():
    from graphgpo.trl._calls import CallLog, record_tool_calls, turn_steps

    call = {"type": "function", "function": {"name": "move", "arguments": {}}}
    messages = [
        {"role": "assistant", "tool_calls": [call, call]},  # two calls: one stepped, one failed in TRL
        {"role": "tool"},
        {"role": "tool"},
        {"role": "assistant", "tool_calls": [call]},  # stepped twice
        {"role": "tool"},
        {"role": "assistant", "tool_calls": [call]},  # never ran (iteration limit)
    ]
    got = turn_steps(messages, [CallLog(0, 0, 1), CallLog(3, 1, 3)], trace_length=4)
    assert got.owned == [[0], [1, 2], []]
    assert (got.calls, got.calls_without_step, got.unattributed) == (4, 2, 1)  # trace step 3: no call

    class Env:
        def __init__(self, traced: bool = True):
            if traced:
                self.graphgpo_trace = []

        def move(self, ok: bool) -> str:
            if not ok:
                raise RuntimeError("refused")
            self.graphgpo_trace.append((0, 1, True))
            return "moved"

    env, plain = Env(), Env(traced=False)
    rollouts = [[{"role": "assistant"}], [{"role": "assistant"}]]
    sync = [{"move": env.move}, {"move": plain.move}]
    logs = record_tool_calls((sync, [{}, {}]), [env, plain], rollouts, "graphgpo_trace")
    assert sync[0]["move"](ok=True) == "moved"
    with pytest.raises(RuntimeError, match="refused"):
        sync[0]["move"](ok=False)
    with pytest.raises(TypeError):
        sync[0]["move"](direction="up")  # a wrong argument name fails inside the watched call
    assert logs[0] == [CallLog(0, 0, 1), CallLog(0, 1, 1), CallLog(0, 1, 1)]
    assert sync[1]["move"] == plain.move and logs[1] == []  # no trace: not watched


def test_layout_puts_turn_values_on_action_tokens_and_exact_zeros_elsewhere():
    completion_mask = torch.tensor([[1] * 9 + [0], [1] * 5 + [0] * 5, [0] * 10])
    tool_mask = torch.tensor([[1, 1, 0, 0, 1, 1, 0, 1, 1, 1], [1] * 10, [1] * 10])
    steps = [np.array([0.5, -1.0]), np.array([2.0, 3.0, 4.0]), np.array([7.0])]
    spans, values = [], []
    for b in range(3):
        row = action_segments(completion_mask[b].tolist(), tool_mask[b].tolist())
        owned = [range(0, 2)] if b == 1 else assign_steps(len(row), len(steps[b]))
        spans.append(row)
        values.append(segment_values(steps[b], owned, text_value=9.0))
    adv = torch.from_numpy(layout_advantages((3, 10), spans, values))
    expected = torch.tensor(
        [
            [0.5, 0.5, 0, 0, -1.0, -1.0, 0, 9.0, 9.0, 0],  # two steps, then a text turn, then padding
            [2.5] * 5 + [0] * 5,  # one turn with two parallel calls: their mean; step 3 has no tokens
            [0] * 10,  # fully masked row
        ]
    )
    assert torch.equal(adv, expected)
    assert batch_action_segments(completion_mask.numpy(), tool_mask.numpy()) == spans
    loss_mask = completion_mask * tool_mask
    assert torch.all(adv[loss_mask == 0] == 0)


# -- row assembly (no model) -------------------------------------------------------------------------------


def _worked_example_traces():
    # SPEC worked example 1: t0 A->B->C->X (success), t1 A->C->Y (success), t2 A->D, D->B invalid, B->B, B->C.
    return [
        [("A", "B", True), ("B", "C", True), ("C", "X", True)],
        [("A", "C", True), ("C", "Y", True)],
        [("A", "D", True), ("D", "B", False), ("B", "B", True), ("B", "C", True)],
    ], [True, True, False]


def test_batch_advantages_reproduce_the_spec_worked_example():
    traces, successes = _worked_example_traces()
    records = records_from_traces(traces, successes)
    result = batch_advantages(
        records,
        [0.0, 0.0, 0.0],
        num_generations=3,
        method="graphgpo",
        options={"omega": 0.5},
        episode_reward="success",
    )
    got = np.concatenate(result.steps)
    spec = [0.625042, 1.42061, 0.84326, 1.934349, 0.84326, -1.922214, -1.068269, -2.204043, -0.471993]
    np.testing.assert_allclose(got, spec, atol=2e-6)
    # text turns get the episode advantage A_E, computed with validity ignored
    a_e = reference_advantages(
        "grpo",
        group=[0] * 9,
        trajectory=[0, 0, 0, 1, 1, 2, 2, 2, 2],
        state=list("ABCACADBB"),
        next_state=list("BCXCYDBBC"),
        success=[True] * 5 + [False] * 4,
        omega=0.5,
    )
    np.testing.assert_allclose(result.text, [a_e[0], a_e[3], a_e[5]], atol=1e-12)
    assert not result.synthetic.any()


def test_an_episode_without_steps_is_one_stop_step_from_the_group_start():
    traces = [[(0, 1, True), (1, 2, True)], [], [(0, 0, False)], None]
    records = records_from_traces(traces, [True, None, False, None])
    rewards = [1.0, 0.0, 0.0, 5.0]  # success unknown for rollouts 1 and 3: read from the reward
    result = batch_advantages(
        records, rewards, num_generations=4, method="gigpo", options={}, episode_reward="success"
    )
    assert result.synthetic.tolist() == [False, True, False, True]
    assert result.success.tolist() == [True, False, False, True]
    expected = reference_advantages(
        "gigpo",
        group=[0] * 5,
        trajectory=[0, 0, 1, 2, 3],
        state=[0, 1, 0, 0, 0],
        next_state=[1, 2, ("stop", 1), 0, ("stop", 3)],
        success=[True, True, False, False, True],
        valid=[True, True, True, False, True],
    )
    np.testing.assert_allclose(np.concatenate(result.steps), expected, atol=1e-9)


def test_episode_reward_from_reward_funcs_goes_on_the_last_step():
    traces = [[(0, 1, True), (1, 2, True)], [(0, 3, True)]]
    records = records_from_traces(traces, [True, False])
    result = batch_advantages(
        records,
        [0.7, float("nan")],
        num_generations=2,
        method="gigpo",
        options={},
        episode_reward="reward_funcs",
    )
    expected = reference_advantages(
        "gigpo",
        group=[0, 0, 0],
        trajectory=[0, 0, 1],
        state=[0, 1, 0],
        next_state=[1, 2, 3],
        success=[True, True, False],
        reward=[0.0, 0.7, 0.0],
    )
    np.testing.assert_allclose(np.concatenate(result.steps), expected, atol=1e-9)


def test_keys_are_typed_and_bad_traces_name_the_rollout():
    records = records_from_traces([[(1, "1", True)]], [None])
    assert not np.array_equal(records[0].state, records[0].next_state)  # 1 and "1" are different states
    with pytest.raises(TypeError, match="rollout 1, step 0"):
        records_from_traces([[], [((1, 2), 3, True)]], [None, None])
    with pytest.raises(ValueError, match="rollout 0, step 1"):
        records_from_traces([[(1, 2, True), (2, 3)]], [None])
    with pytest.raises(TypeError, match="valid"):
        records_from_traces([[(1, 2, "yes")]], [None])
    with pytest.raises(ValueError, match="groups of num_generations"):
        batch_advantages(
            records_from_traces([[], [], []], [None] * 3),
            [0, 0, 0],
            num_generations=2,
            method="grpo",
            options={},
        )
    with pytest.raises(ValueError, match="action identity"):
        batch_advantages(
            records_from_traces([[(1, 2, True)], []], [True, None]),
            [0, 0],
            num_generations=2,
            method="graphgpo",
            options={"distance": "expected"},
        )


def test_graded_rewards_count_when_no_episode_succeeds():
    """Rewards [1, .2, .9, 0] without a success: the reward functions rank the episodes; success gives 0."""
    records = records_from_traces([[(0, b + 1, True)] for b in range(4)], [False] * 4)
    rewards = [1.0, 0.2, 0.9, 0.0]
    graded = batch_advantages(
        records, rewards, num_generations=4, method="grpo", options={}, episode_reward="reward_funcs"
    )
    values = np.concatenate(graded.steps)
    assert np.argsort(values).tolist() == [3, 1, 2, 0] and values.std() > 0.5
    flat = batch_advantages(
        records, rewards, num_generations=4, method="grpo", options={}, episode_reward="success"
    )
    assert np.all(np.concatenate(flat.steps) == 0)


# -- the trace recorder of the environment classes ----------------------------------------------------------


def test_one_trace_recorder_serves_the_grid_games_and_the_adapters():
    """Bundled games and adapters share TracedEnvironment: same protocol, their own texts."""
    from graphgpo.envs import SokobanEnvironment
    from graphgpo.envs._trace import TracedEnvironment
    from graphgpo.envs.adapters._common import AdapterEnv, TracedAdapterEnvironment

    class Counter(AdapterEnv):
        """Count to 2; "add" is valid, anything else has no effect."""

        def _reset(self, seed):
            self.value = 0
            return "at 0"

        def _step(self, action):
            valid = action == "add"
            self.value += valid
            return f"at {self.value}", valid, self.value == 2, False, {}

        def _compute_key(self):
            return f"n{self.value}"

    class CounterEnvironment(TracedAdapterEnvironment):
        def __init__(self):
            self._env = Counter(max_steps=5, seed=0)
            super().__init__()

        def _intro(self):
            return "Count."

        def act(self, action: str) -> str:
            """Act.

            Args:
                action: "add".
            """
            return self._act(action)

    env = CounterEnvironment()
    assert isinstance(env, TracedEnvironment) and env.reset(seed=1) == "Count.\n\nat 0"
    assert env.act("nop") == "at 0\n\n(That action had no effect.)"
    assert env.act("add") == "at 1" and not env.done
    assert env.act("add") == "at 2\n\nTask complete!" and env.done and env.get_reward() == 1.0
    assert env.act("add") == TracedAdapterEnvironment.SOLVED_TEXT
    assert env.graphgpo_trace == [("n0", "n0", False), ("n0", "n1", True), ("n1", "n2", True)]
    env.reset()
    assert env.graphgpo_trace == [] and not env.graphgpo_success

    level = "######\n#@ $.#\n######"
    full, inner = SokobanEnvironment(), SokobanEnvironment(border=False)
    assert full.reset(level=level).endswith(level) and inner.reset(level=level).endswith("\n@ $.")
    assert inner.move("right") == "Moved right.\n\n @$." and not inner.done
    assert inner.graphgpo_trace == [(level, "######\n# @$.#\n######", True)]  # keys stay full boards


# -- config -------------------------------------------------------------------------------------------------


def _config(**kw):
    from graphgpo.trl import GraphGPOConfig

    base = dict(
        output_dir="unused",
        use_cpu=True,
        bf16=False,
        report_to="none",
        num_generations=2,
        per_device_train_batch_size=2,
    )
    return GraphGPOConfig(**{**base, **kw})


def test_config_defaults_match_spec_and_validate():
    cfg = _config()
    assert cfg.advantage_estimator == "graphgpo"
    assert cfg.estimator_options() == {
        "omega": 0.1,
        "gamma": 0.95,
        "success_reward": 10.0,
        "invalid_penalty": 0.1,
        "step_weight": 1.0,
        "episode_weight": 1.0,
        "norm": "mean_std",
        "eps": 1e-6,
        "convention": "reference",
        "episode_stats": "per_step",
        "normalize_distance": False,
        "distance": "shortest",
        "merge": "exact",
        "similarity": 0.95,
    }
    assert cfg.epsilon == 0.2  # GRPO's clipping range is untouched by eps
    for bad, match in [
        ({"advantage_estimator": "ppo"}, "advantage_estimator"),
        ({"omega": 1.0}, "omega"),
        ({"omega": 0.0}, "omega"),
        ({"gamma": 1.5}, "gamma"),
        ({"norm": "zscore"}, "norm"),
        ({"convention": "x"}, "convention"),
        ({"episode_stats": "x"}, "episode_stats"),
        ({"distance": "x"}, "distance"),
        ({"eps": -1.0}, "eps"),
        ({"omega": True}, "omega"),
        ({"success_reward": math.nan}, "success_reward"),
        ({"normalize_distance": "yes"}, "normalize_distance"),
        ({"episode_reward": "x"}, "episode_reward"),
    ]:
        with pytest.raises(ValueError, match=match):
            _config(**bad)


def test_config_parses_from_the_command_line():
    from transformers import HfArgumentParser

    from graphgpo.trl import GraphGPOConfig

    (cfg,) = HfArgumentParser(GraphGPOConfig).parse_args_into_dataclasses(
        [
            "--output_dir",
            "unused",
            "--use_cpu",
            "--bf16",
            "False",
            "--advantage_estimator",
            "gigpo",
            "--omega",
            "0.8",
            "--eps",
            "1e-4",
            "--normalize_distance",
            "true",
        ]
    )
    assert (cfg.advantage_estimator, cfg.omega, cfg.eps, cfg.normalize_distance) == (
        "gigpo",
        0.8,
        1e-4,
        True,
    )


def test_episode_reward_auto_follows_the_reward_funcs_and_warns_when_success_also_exists(tmp_path):
    """A new user's reward functions are used; with success flags too, one warning names the choice."""
    import warnings

    from datasets import Dataset

    from graphgpo.trl import GraphGPOTrainer
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer([H.LineWorld.move], corpus=["walk"])
    data = Dataset.from_dict({"prompt": [[{"role": "user", "content": "walk"}]] * 2})

    class Rewarded(H.LineWorld):
        def get_reward(self) -> float:
            return 1.0 if self.graphgpo_success else 0.0

    def build(env_class, reward_funcs=None, **kw):
        args = _config(output_dir=str(tmp_path), max_steps=1, **kw)
        return GraphGPOTrainer(
            tiny_model(tok),
            reward_funcs=reward_funcs,
            args=args,
            train_dataset=data,
            processing_class=tok,
            environment_factory=H.line_world_factory(env_class=env_class),
        )

    with pytest.warns(UserWarning, match="episode reward is TRL's weighted reward"):
        trainer = build(H.LineWorld, H.success_reward)
    assert trainer._episode_reward == "reward_funcs"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # the environment's own get_reward only: success_reward on success, as in SPEC
        assert build(Rewarded)._episode_reward == "success"
        # an explicit choice does not warn
        assert build(H.LineWorld, H.success_reward, episode_reward="success")._episode_reward == "success"
        assert build(H.LineWorld, [H.success_reward], episode_reward="reward_funcs")._episode_reward == (
            "reward_funcs"
        )


def test_trainer_requires_a_graphgpo_config():
    from trl import GRPOConfig

    from graphgpo.trl import GraphGPOTrainer

    with pytest.raises(TypeError, match="GraphGPOConfig"):
        GraphGPOTrainer(
            model=None,
            reward_funcs=H.success_reward,
            args=GRPOConfig(output_dir="unused", use_cpu=True, bf16=False, report_to="none"),
        )


class _NoTrace:
    def reset(self, **kwargs) -> str:
        return "start"

    def move(self, direction: str) -> str:
        """Move.

        Args:
            direction: where.
        """
        return "ok"


def test_missing_traces_fail_at_construction(tmp_path):
    from datasets import Dataset

    from graphgpo.trl import GraphGPOTrainer
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(corpus=["walk"])
    data = Dataset.from_dict({"prompt": [[{"role": "user", "content": "walk"}]] * 2})

    def build(estimator, **kw):
        args = _config(output_dir=str(tmp_path), advantage_estimator=estimator, max_steps=1)
        return GraphGPOTrainer(
            tiny_model(tok),
            reward_funcs=H.success_reward,
            args=args,
            train_dataset=data,
            processing_class=tok,
            **kw,
        )

    with pytest.raises(ValueError, match="neither an environment_factory nor a rollout_func"):
        build("graphgpo")
    with pytest.raises(ValueError, match="_NoTrace has no 'graphgpo_trace'"):
        build("gigpo", environment_factory=_NoTrace)
    build("grpo", environment_factory=_NoTrace)  # GRPO needs no trace: one step per rollout


# -- scripted end-to-end run through TRL's tool loop -------------------------------------------------------

MAX_COMPLETION = 180  # short enough that one rollout's last tool result is rolled back (see below)


@pytest.fixture(scope="module")
def env_run(tmp_path_factory):
    """One GraphGPOTrainer step on LineWorld (2 goals x 4 scripted copies), recording the parent's output."""
    from trl import GRPOTrainer

    parent_outputs = []
    original = GRPOTrainer._generate_and_score_completions

    def recording_parent(self, inputs):
        out = original(self, inputs)
        parent_outputs.append({k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in out.items()})
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(GRPOTrainer, "_generate_and_score_completions", recording_parent)
        trainer = H.scripted_line_world_trainer(
            str(tmp_path_factory.mktemp("trl")), per_device=8, max_completion_length=MAX_COMPLETION
        )
        before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
        trainer.train()
    return {"trainer": trainer, "before": before, "record": trainer.recorded[0], "parent": parent_outputs[0]}


def _well_formed_moves(text: str) -> int:
    """How many of a turn's ``<tool_call>`` blocks call LineWorld's ``move`` with its one argument: only
    those run and record a step (an unknown tool or a wrong argument name fails inside TRL)."""
    import json
    import re

    calls = [json.loads(c) for c in re.findall(r"<tool_call>\s*(.*?)\s*</tool_call>", text, flags=re.S)]
    return sum(c.get("name") == "move" and set(c.get("arguments", {})) == {"direction"} for c in calls)


def _expected_token_advantages(record, tokenizer, successes, num_generations, method="graphgpo", **options):
    """Independent expectation: rows from the recorded traces -> reference -> turns.

    A turn owns as many steps as its decoded text has well-formed ``move`` calls (the trainer counts the
    steps each call recorded instead) and carries their mean; a turn left without steps gets the episode
    advantage.
    """
    traces = record["environments_traces"]
    group, traj, state, nxt, valid, succ = [], [], [], [], [], []
    initial = {}
    for b, trace in enumerate(traces):
        if trace:
            initial.setdefault(b // num_generations, trace[0][0])
    for b, trace in enumerate(traces):
        steps = trace or [
            (initial.get(b // num_generations, ("init", b // num_generations)), ("stop", b), True)
        ]
        for s, n, v in steps:
            group.append(b // num_generations)
            traj.append(b)
            state.append(s)
            nxt.append(n)
            valid.append(v)
            succ.append(successes[b])
    rows = dict(group=group, trajectory=traj, state=state, next_state=nxt, success=succ)
    adv = reference_advantages(method, valid=valid, **rows, **options)
    a_e = reference_advantages("grpo", **rows, **options)
    weight = 1.0 if method == "grpo" else options.get("episode_weight", 1.0)
    expected = torch.zeros_like(record["advantages"], dtype=torch.float64)
    for b in range(len(traces)):
        idx = [i for i, t in enumerate(traj) if t == b]
        spans = action_segments(record["completion_mask"][b].tolist(), record["tool_mask"][b].tolist())
        cursor = 0
        for start, end in spans:
            calls = _well_formed_moves(tokenizer.decode(record["completion_ids"][b, start:end].tolist()))
            mine = idx[cursor : cursor + calls] if traces[b] else idx[:1] if cursor == 0 else []
            cursor += max(calls, 1) if not traces[b] else calls
            value = sum(adv[i] for i in mine) / len(mine) if mine else weight * a_e[idx[0]]
            expected[b, start:end] = value
    return expected


def test_trl_contract_of_generate_and_score_completions(env_run):
    """The private TRL surface GraphGPOTrainer relies on; a TRL upgrade that changes it must fail here."""
    import trl
    from trl import GRPOTrainer

    assert trl.__version__.startswith("1.16."), "graphgpo.trl is pinned to TRL 1.16.x; re-check the hooks"
    parent = env_run["parent"]
    assert {
        "prompt_ids",
        "prompt_mask",
        "completion_ids",
        "completion_mask",
        "advantages",
        "num_items_in_batch",
        "tool_mask",
    } <= set(parent)
    batch, length = parent["completion_ids"].shape
    assert parent["advantages"].shape == (batch,)  # the parent's scalar we replace
    assert parent["tool_mask"].shape == parent["completion_mask"].shape == (batch, length)
    ours = env_run["record"]
    assert set(ours) - {"environments_traces", "environments_success"} == set(parent)
    assert ours["advantages"].shape == (batch, length)
    assert ours["advantages"].dtype == torch.float32
    import inspect

    assert list(inspect.signature(GRPOTrainer._calculate_rewards).parameters) == [
        "self",
        "inputs",
        "prompts",
        "completions",
        "completion_ids_list",
    ]
    assert "advantages.dim() == 1" in inspect.getsource(GRPOTrainer._compute_loss)  # (B, T) is accepted
    # The tool loop: the trainer watches the per-rollout tool dicts and reads the message lists it extends.
    assert list(inspect.signature(GRPOTrainer._tool_call_loop).parameters)[:5] == [
        "self",
        "prompts",
        "prompt_ids",
        "completion_ids",
        "completions",
    ]
    loop = inspect.getsource(GRPOTrainer._tool_call_loop)
    assert "self._sync_tool_dicts[idx_with_tool]" in loop and "self._async_tool_dicts[idx_with_tool]" in loop
    trainer = env_run["trainer"]
    assert isinstance(trainer._logs["advantages"], deque)
    assert len(trainer.environments) == batch


def test_env_run_trains_and_lays_out_step_advantages(env_run):
    trainer, record = env_run["trainer"], env_run["record"]
    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(p, env_run["before"][n])]
    assert len(changed) == len(env_run["before"])

    adv, cmask, tmask = record["advantages"], record["completion_mask"], record["tool_mask"]
    assert torch.all(adv[(cmask * tmask) == 0] == 0)
    assert torch.all(adv[tmask == 0] == 0) and torch.all(adv[cmask == 0] == 0)
    assert (tmask == 0).any()  # the run really had tool results

    traces = record["environments_traces"]
    # slot 1 (goal 2): right, left, right, right: four turns, four different credits (the revisit of 0
    # after "left" is where the graph speaks: "left" gets less than "right").
    spans = action_segments(cmask[1].tolist(), tmask[1].tolist())
    values = [float(adv[1, s]) for s, _ in spans]
    assert len(traces[1]) == 4 and len(spans) == 5
    assert values[1] < values[0] and len(set(np.round(values[:4], 6))) >= 3
    for s, e in spans:
        assert torch.all(adv[1, s:e] == adv[1, s])

    successes = record["environments_success"]
    assert successes == [True, True, False, False] * 2
    # slot 4 (goal 3, copy 0) made two parallel calls in its first turn: 3 steps in 3 turns (the last is
    # "Done."), so its first turn carries the mean of two steps.
    assert len(traces[4]) == 3 and len(action_segments(cmask[4].tolist(), tmask[4].tolist())) == 3
    expected = _expected_token_advantages(
        record, trainer.processing_class, successes, num_generations=4, omega=0.5
    )
    torch.testing.assert_close(adv.double(), expected, atol=1e-5, rtol=1e-5)


def test_rolled_back_tool_result_keeps_its_step_and_its_call_turn(env_run):
    """Slot 5 (goal 3, detour) makes 5 calls; the 5th result does not fit in MAX_COMPLETION and TRL drops it.

    The environment already moved (the trace has 5 steps and the episode succeeded), the 5th call's
    turn is still in the tokens and carries the 5th step's advantage, and no tool result follows it.
    """
    record = env_run["record"]
    trace = record["environments_traces"][5]
    assert len(trace) == 5 and trace[-1][1] == 3
    cmask, tmask, adv = record["completion_mask"][5], record["tool_mask"][5], record["advantages"][5]
    spans = action_segments(cmask.tolist(), tmask.tolist())
    assert len(spans) == 5
    length = int(cmask.sum())
    assert spans[-1][1] == length and length <= MAX_COMPLETION  # ends with the call: its result was dropped
    assert float(adv[spans[-1][0]]) > 0


def test_metrics_and_completions_table_report_the_step_advantages(env_run):
    trainer, record = env_run["trainer"], env_run["record"]
    logged = trainer.state.log_history[0]
    for key in (
        "graph/success_rate",
        "graph/steps_per_episode",
        "graph/shared_state_row_share",
        "graph/mean_nodes_per_group",
        "graph/failed_steps_closer_share",
        "graph/untokenized_steps",
        "advantages/token_mean",
        "advantages/token_std",
        "step_advantage/std",
    ):
        assert key in logged, key
    assert logged["graph/success_rate"] == pytest.approx(0.5)  # copies 0 and 1 of both goals succeed
    assert logged["graph/episodes_without_steps"] == pytest.approx(0.25)
    adv, mask = record["advantages"], record["completion_mask"] * record["tool_mask"]
    means = (adv * mask).sum(1) / mask.sum(1).clamp(min=1)
    assert np.allclose(list(trainer._logs["advantages"])[-len(means) :], means.tolist(), atol=1e-6)


def _failing_calls_script(goal: int, copy: int) -> list[str]:
    """Turns with tool calls that TRL cannot run: a wrong argument name, an unknown tool, and a turn with
    one good and one bad call. None of them reaches the environment, so none records a step."""
    right, left = H.tool_call_text("move", direction="right"), H.tool_call_text("move", direction="left")
    bad_argument, unknown_tool = H.tool_call_text("move", dir="up"), H.tool_call_text("jump", height=2)
    if copy == 0:
        return [bad_argument, *[right] * goal, "Done."]
    if copy == 1:
        return [unknown_tool, right, left, *[right] * goal, "Done."]
    if copy == 2:
        return [right + "\n" + bad_argument, left, "I give up."]
    return [left, "Hello."]


@pytest.fixture(scope="module")
def failing_calls_run(tmp_path_factory):
    trainer = H.scripted_line_world_trainer(
        str(tmp_path_factory.mktemp("trl_fail")),
        per_device=8,
        max_completion_length=400,
        script=lambda slot, goal: _failing_calls_script(goal, slot % 4),
    )
    trainer.train()
    return trainer


def test_failed_tool_calls_own_no_step_and_later_turns_keep_their_own(failing_calls_run):
    """A call TRL could not run records no step: the turns after it keep their own steps' advantages."""
    trainer = failing_calls_run
    record = trainer.recorded[0]
    traces, successes = record["environments_traces"], record["environments_success"]
    assert successes == [True, True, False, False] * 2
    # goal 2: copy 0 made 3 calls (one failed) and 2 steps; copy 1 made 5 calls (one failed) and 4 steps
    assert [len(t) for t in traces[:4]] == [2, 4, 2, 1]
    adv, cmask, tmask = record["advantages"], record["completion_mask"], record["tool_mask"]
    expected = _expected_token_advantages(
        record, trainer.processing_class, successes, num_generations=4, omega=0.5
    )
    torch.testing.assert_close(adv.double(), expected, atol=1e-5, rtol=1e-5)
    # Spelled out for copy 0: the failed first turn carries the episode advantage, the second turn the
    # first step's advantage (not the second step's, as when every call was counted as a step).
    spans = action_segments(cmask[0].tolist(), tmask[0].tolist())
    assert len(spans) == 4
    values = [float(adv[0, s]) for s, _ in spans]
    assert values[0] == pytest.approx(values[3])  # both own no step: the episode advantage
    assert values[1] != pytest.approx(values[2])
    logged = trainer.state.log_history[0]
    # 6 of the batch's 26 calls ran into an error (3 per goal); TRL counts the same failures
    assert logged["graph/calls_without_step_frac"] == pytest.approx(6 / 26)
    assert logged["tools/failure_frequency"] == pytest.approx(6 / 26)
    assert logged["graph/unattributed_steps"] == 0


class _StrayStepLineWorld(H.LineWorld):
    """Records a step in reset(), outside any tool call: the trace no longer matches the turns."""

    def reset(self, goal: int = 3, **kwargs) -> str:
        text = super().reset(goal, **kwargs)
        self.graphgpo_trace.append((-1, 0, True))
        return text


def test_trace_steps_no_call_made_warn_and_calls_past_the_iteration_limit_own_nothing(tmp_path):
    trainer = H.scripted_line_world_trainer(
        str(tmp_path),
        per_device=8,
        max_completion_length=400,
        env_class=_StrayStepLineWorld,
        max_tool_calling_iterations=2,
    )
    with pytest.warns(RuntimeWarning, match=r"8 rollout\(s\) have trace steps that no tool call appended"):
        trainer.train()
    record = trainer.recorded[0]
    traces, successes = record["environments_traces"], record["environments_success"]
    # slot 1 (goal 2): the stray step, right, left; its third call is never run (two tool-loop iterations)
    assert traces[1] == [(-1, 0, True), (0, 1, True), (1, 0, True)] and not successes[1]
    group = {k: [] for k in ("group", "trajectory", "state", "next_state", "success", "valid")}
    for b in range(4):
        for s, n, v in traces[b]:
            for k, x in zip(group, (0, b, s, n, successes[b], v), strict=True):
                group[k].append(x)
    ref = reference_advantages("graphgpo", omega=0.5, **group)
    a_e = reference_advantages("grpo", omega=0.5, **{k: v for k, v in group.items() if k != "valid"})
    adv, cmask, tmask = record["advantages"][1], record["completion_mask"][1], record["tool_mask"][1]
    spans = action_segments(cmask.tolist(), tmask.tolist())
    # the turns own trace steps 1 and 2 of slot 1 (step 0 is the stray one), the third turn owns nothing
    first = len(traces[0])
    np.testing.assert_allclose(
        [float(adv[s]) for s, _ in spans], [ref[first + 1], ref[first + 2], a_e[first]], atol=1e-5
    )
    logged = trainer.state.log_history[0]
    assert logged["graph/unattributed_steps"] == 8
    assert logged["graph/untokenized_steps"] == 8  # the stray steps: in the graph, without tokens


# -- rollout_func path ---------------------------------------------------------------------------------------


def test_rollout_func_traces_and_untokenized_steps(tmp_path):
    """rollout_func owns the tokens: env_mask gives the turns, graphgpo_trace/_success the steps.

    Rollout 0 reports 3 steps but its tokens show 2 turns: the third step is in the graph, not in the tokens.
    """
    from datasets import Dataset

    from graphgpo.trl import GraphGPOConfig
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(corpus=["go right", "ok"])
    turn = tok("go right", add_special_tokens=False)["input_ids"]
    result = tok(" ok ", add_special_tokens=False)["input_ids"]
    eos = [tok.eos_token_id]
    # (turn tokens per episode, trace, success)
    episodes = [
        (2, [(0, 1, True), (1, 2, True), (2, 3, True)], True),
        (2, [(0, 1, True), (1, 0, True)], False),
        (1, [(0, 0, False)], False),
        (1, [], False),
    ]

    def rollout_func(prompts, trainer):
        out = {
            "prompt_ids": [],
            "completion_ids": [],
            "logprobs": None,
            "env_mask": [],
            "graphgpo_trace": [],
            "graphgpo_success": [],
        }
        for i, _ in enumerate(prompts):
            turns, trace, success = episodes[i % 4]
            ids, mask = [], []
            for t in range(turns):
                ids += turn
                mask += [1] * len(turn)
                if t + 1 < turns:
                    ids += result
                    mask += [0] * len(result)
            out["prompt_ids"].append(tok("walk", add_special_tokens=False)["input_ids"])
            out["completion_ids"].append(ids + eos)
            out["env_mask"].append(mask + [1])
            out["graphgpo_trace"].append(trace)
            out["graphgpo_success"].append(success)
        return out

    args = GraphGPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=64,
        learning_rate=0.1,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        advantage_estimator="gigpo",
        episode_reward="success",
        disable_tqdm=True,
    )
    data = Dataset.from_dict({"prompt": ["walk"] * 2})
    trainer = H.recording_trainer_class()(
        tiny_model(tok),
        reward_funcs=lambda completions, **kw: [0.0] * len(completions),
        args=args,
        train_dataset=data,
        processing_class=tok,
        rollout_func=rollout_func,
    )
    trainer.train()
    record = trainer.recorded[0]
    adv, mask = record["advantages"], record["completion_mask"] * record["tool_mask"]
    assert torch.all(adv[mask == 0] == 0)
    rows = dict(
        group=[0] * 7,
        trajectory=[0, 0, 0, 1, 1, 2, 3],
        state=[0, 1, 2, 0, 1, 0, 0],
        next_state=[1, 2, 3, 1, 0, 0, ("stop", 3)],
        success=[True] * 3 + [False] * 4,
    )
    expected = reference_advantages("gigpo", valid=[True] * 5 + [False, True], **rows)
    for b, steps in enumerate([[0, 1], [3, 4], [5], [6]]):
        spans = action_segments(record["completion_mask"][b].tolist(), record["tool_mask"][b].tolist())
        assert len(spans) == len(steps)
        for (start, end), i in zip(spans, steps, strict=True):
            torch.testing.assert_close(
                adv[b, start:end].double(), torch.full((end - start,), expected[i], dtype=torch.float64)
            )
    assert trainer.state.log_history[0]["graph/untokenized_steps"] == 1.0


def test_default_config_trains_on_graded_rewards_of_failed_episodes(tmp_path):
    """The issue's case end to end: rewards [1, .2, .9, 0], every rollout reports success False."""
    from datasets import Dataset

    from graphgpo.trl import GraphGPOConfig
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(corpus=["go right"])
    ids = tok("go right", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]

    def rollout_func(prompts, trainer):
        return {
            "prompt_ids": [ids] * len(prompts),
            "completion_ids": [ids] * len(prompts),
            "logprobs": None,
            "graphgpo_trace": [[(0, b % 4 + 1, True)] for b in range(len(prompts))],
            "graphgpo_success": [False] * len(prompts),
        }

    args = GraphGPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=16,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = H.recording_trainer_class()(
        tiny_model(tok),
        reward_funcs=lambda completions, **kw: [1.0, 0.2, 0.9, 0.0][: len(completions)],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["walk"]}),
        processing_class=tok,
        rollout_func=rollout_func,
    )
    with pytest.warns(UserWarning, match="episode_reward='auto'"):
        trainer.train()
    adv = trainer.recorded[0]["advantages"][:, 0]
    assert adv.argsort().tolist() == [3, 1, 2, 0] and adv.abs().min() > 0.1


def test_a_bad_trace_from_rollout_func_names_the_rollout(tmp_path):
    from datasets import Dataset

    from graphgpo.trl import GraphGPOTrainer
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(corpus=["go right"])

    def rollout_func(prompts, trainer):
        ids = tok("go right", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        traces = [[(0, 1, True)]] * len(prompts)
        traces[1] = [(0, [1], True)]  # a list is not a state key
        return {
            "prompt_ids": [ids] * len(prompts),
            "completion_ids": [ids] * len(prompts),
            "logprobs": None,
            "graphgpo_trace": traces,
        }

    args = _config(output_dir=str(tmp_path), max_steps=1, max_completion_length=16)
    trainer = GraphGPOTrainer(
        tiny_model(tok),
        reward_funcs=lambda completions, **kw: [0.0] * len(completions),
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["walk"] * 2}),
        processing_class=tok,
        rollout_func=rollout_func,
    )
    with pytest.raises(TypeError, match="rollout 1, step 0: .*list"):
        trainer.train()


# -- two processes -------------------------------------------------------------------------------------------


def _pad_cat(parts):
    width = max(p.shape[1] for p in parts)
    return torch.cat([torch.nn.functional.pad(p, (0, width - p.shape[1])) for p in parts])


def _torchrun(out_dir, *args, timeout=300):
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([p for p in sys.path if p] + [os.environ.get("PYTHONPATH", "")]),
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(TESTS / "_trl_ddp_script.py"),
        "--out",
        str(out_dir),
        *args,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_two_processes_equal_one_process(tmp_path):
    import _trl_ddp_script

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _trl_ddp_script.run(str(one), per_device=8)

    proc = _torchrun(two, "--per-device", "4")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    single = torch.load(one / "rank0.pt")
    ranks = [torch.load(two / f"rank{r}.pt") for r in range(2)]
    assert [t for r in ranks for t in r["environments_traces"]] == single["environments_traces"]
    for key in ("completion_ids", "completion_mask"):
        assert torch.equal(
            _pad_cat([r[key] for r in ranks]),
            torch.nn.functional.pad(
                single[key], (0, max(r[key].shape[1] for r in ranks) - single[key].shape[1])
            ),
        )
    got = _pad_cat([r["advantages"] for r in ranks])
    want = single["advantages"]
    width = max(got.shape[1], want.shape[1])
    got = torch.nn.functional.pad(got, (0, width - got.shape[1]))
    want = torch.nn.functional.pad(want, (0, width - want.shape[1]))
    assert torch.equal(got, want)
    assert (want != 0).any()


# -- the example ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_example_trl_sokoban_tiny_runs(tmp_path, capsys):
    """examples/trl_sokoban.py --tiny: the bundled Sokoban environment through GraphGPOTrainer, offline."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("trl_sokoban", TESTS.parent / "examples" / "trl_sokoban.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert (
        example.main(
            # A short warm start keeps the test cheap; the full one (160 levels) is what makes the model play.
            ["--tiny", "--levels", "4", "--warm-start-levels", "32", "--max-completion-length", "32",
             "--output-dir", str(tmp_path)]
        )
        == 0
    )
    assert "graph/success_rate=" in capsys.readouterr().out


@pytest.mark.slow
def test_a_bad_trace_on_one_rank_fails_every_rank_without_hanging(tmp_path):
    """Rank 1's environments report lists as state keys: both ranks must raise (not wait in a gather)."""
    proc = _torchrun(tmp_path, "--per-device", "4", "--bad-trace-rank", "1", timeout=240)
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "rank 1: rollout 0, step 0: state and action keys must be str, int or bytes" in log
    assert log.count("rank 1: rollout 0, step 0") >= 2, log[-5000:]  # raised on rank 0 as well
