"""Shared pieces of the TRL tests: the scripted LineWorld pieces (now public in
:mod:`graphgpo.trl.testing`) and a trainer that records what it hands to the loss.

The tiny random model cannot write tool calls, so the multi-turn tests script the text instead, as
TRL's own tool tests do: every rollout's turns are chosen from what the prompt says (its environment
slot and goal) and how many tool results it has seen, never from model randomness.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from graphgpo.trl.testing import (  # noqa: E402, F401  (re-exported for the tests)
    LineWorld,
    ScriptedGenerate,
    line_world_factory,
    line_world_script,
    success_reward,
    tool_call_text,
)


def recording_trainer_class():
    """GraphGPOTrainer that keeps a CPU copy of every dict `_generate_and_score_completions` returns."""
    from graphgpo.trl import GraphGPOTrainer

    class RecordingTrainer(GraphGPOTrainer):
        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            record = {k: (v.detach().cpu().clone() if hasattr(v, "detach") else v) for k, v in out.items()}
            envs = self.environments or []
            record["environments_traces"] = [list(e.graphgpo_trace) for e in envs]
            record["environments_success"] = [bool(e.graphgpo_success) for e in envs]
            self.recorded = [*getattr(self, "recorded", []), record]
            return out

    return RecordingTrainer


def scripted_line_world_trainer(
    output_dir: str,
    *,
    per_device: int,
    max_completion_length: int,
    estimator: str = "graphgpo",
    bad_keys: bool = False,
    script=None,
    env_class=None,
    **config,
):
    """The recording trainer on two LineWorld tasks x 4 scripted rollouts (tiny model, one step), as the
    in-process and the torchrun tests both run it; generation is scripted by :class:`ScriptedGenerate`
    (``script(slot, goal) -> turns``, default :func:`line_world_script`); ``env_class`` replaces
    :class:`LineWorld`; ``config`` overrides config fields (any of them)."""
    from datasets import Dataset

    from graphgpo.trl import GraphGPOConfig
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(
        [LineWorld.move], corpus=[" Slot 1. You are at 0; the goal is at 3.", "You are at 2."]
    )
    model = tiny_model(tok)
    data = Dataset.from_dict(
        {"prompt": [[{"role": "user", "content": "Walk to the goal."}]] * 2, "goal": [2, 3]}
    )
    args = GraphGPOConfig(
        **{
            "output_dir": output_dir,
            "max_steps": 1,
            "per_device_train_batch_size": per_device,
            "num_generations": 4,
            "max_completion_length": max_completion_length,
            "learning_rate": 0.1,
            "use_cpu": True,
            "bf16": False,
            "report_to": "none",
            "save_strategy": "no",
            "logging_steps": 1,
            "advantage_estimator": estimator,
            "omega": 0.5,
            "episode_reward": "success",  # the expectations use SPEC's episode reward (success_reward)
            "seed": 0,
            "disable_tqdm": True,
            **config,
        }
    )
    trainer = recording_trainer_class()(
        model,
        reward_funcs=success_reward,
        args=args,
        train_dataset=data,
        processing_class=tok,
        environment_factory=line_world_factory(bad_keys=bad_keys, env_class=env_class),
    )
    trainer.model.generate = ScriptedGenerate(tok) if script is None else ScriptedGenerate(tok, script)
    return trainer


def fail_after_first_step(trainer) -> None:
    """Script the trainer's generation so that the first step plays :func:`line_world_script` and every later
    step fails (copies 0-1 move right once and give up, copy 2 bumps the wall first, copy 3 never calls a
    tool): the case graph memory is for, since only earlier steps' edges can reach the goal."""

    def script(slot: int, goal: int) -> list[str]:
        copy = slot % 4
        if trainer.state.global_step == 0:
            return line_world_script(goal, copy)
        if copy < 2:
            return [tool_call_text("move", direction="right"), "I give up."]
        return line_world_script(goal, copy)

    trainer.model.generate = ScriptedGenerate(trainer.processing_class, script)
