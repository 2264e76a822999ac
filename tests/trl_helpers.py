"""Shared pieces of the TRL tests: a tiny line-walking environment, a scripted stand-in for
``model.generate``, and a trainer that records what it hands to the loss.

The tiny random model cannot write tool calls, so the multi-turn tests script the text instead, as
TRL's own tool tests do: every rollout's turns are chosen from what the prompt says (its environment
slot and goal) and how many tool results it has seen, never from model randomness.
"""

from __future__ import annotations

import os
import re
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

from graphgpo.trl.testing import tool_call_text  # noqa: E402

# -- environment ----------------------------------------------------------------------------------------


class LineWorld:
    """Walk on the cells 0..goal of a line; the episode succeeds on reaching the goal.

    Follows the graphgpo step-trace protocol: ``graphgpo_trace`` gets one (state, next_state, valid)
    per ``move`` call; moving left from 0 is invalid and leaves the state unchanged. ``slot`` numbers
    the instances of one factory, which is how the scripted generator tells rollouts apart.
    """

    def __init__(self, slot: int = 0, bad_keys: bool = False):
        self.slot = slot
        self.bad_keys = bad_keys  # report lists as state keys (not allowed), to test error handling
        self.goal = 3
        self.position = 0
        self.graphgpo_trace: list = []
        self.graphgpo_success = False

    def reset(self, goal: int = 3, **kwargs) -> str:
        self.goal = int(goal)
        self.position = 0
        self.graphgpo_trace = []
        self.graphgpo_success = False
        return f" Slot {self.slot}. You are at 0; the goal is at {self.goal}."

    def move(self, direction: str) -> str:
        """Move one cell along the line.

        Args:
            direction: "left" or "right".
        """
        before = self.position
        step = {"left": -1, "right": 1}.get(direction)
        valid = step is not None and 0 <= before + step <= self.goal
        if valid:
            self.position = before + step
        self.graphgpo_trace.append(([before] if self.bad_keys else before, self.position, valid))
        if self.position == self.goal:
            self.graphgpo_success = True
        return f"You are at {self.position}."


def line_world_factory(bad_keys: bool = False, env_class=None):
    """An environment_factory whose instances get slots 0, 1, 2, ... in creation order (TRL's pool order)."""
    counter = iter(range(1 << 30))
    cls = env_class or LineWorld
    return lambda: cls(next(counter), bad_keys=bad_keys)


def success_reward(environments, **kwargs):
    return [1.0 if env.graphgpo_success else 0.0 for env in environments]


# The per-copy scripts of one group (copy = slot % 4): reach the goal directly (for goal 3, two parallel
# calls in the first turn); detour through a revisit; bump the wall (invalid), move, and give up; answer
# without any tool call.
def line_world_script(goal: int, copy: int) -> list[str]:
    right, left = tool_call_text("move", direction="right"), tool_call_text("move", direction="left")
    if copy == 0:
        turns = [right] * goal + ["Done."]
        return [right + "\n" + right] + turns[2:] if goal == 3 else turns
    if copy == 1:
        return [right, left] + [right] * goal + ["Done."]
    if copy == 2:
        return [left, right, "I give up."]
    return ["Hello."]


class ScriptedGenerate:
    """Stands in for ``model.generate``: replies from a script chosen by the prompt text.

    ``script(slot, goal) -> list[str]`` gives a rollout's turns; the turn index is the number of
    assistant turns already in the prompt. Each reply ends with the EOS token; rows are right-padded.
    """

    def __init__(self, tokenizer, script=lambda slot, goal: line_world_script(goal, slot % 4)):
        self.tokenizer = tokenizer
        self.script = script
        self.calls = 0

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        import torch

        self.calls += 1
        tok = self.tokenizer
        replies = []
        for row, mask in zip(input_ids, attention_mask, strict=True):
            text = tok.decode(row[mask.bool()].tolist())
            slot = int(re.search(r"Slot (\d+)\.", text).group(1))
            goal = int(re.search(r"the goal is at (\d+)", text).group(1))
            turn = text.count("<|im_start|>assistant") - 1  # earlier assistant turns
            turns = self.script(slot, goal)
            reply = turns[turn] if turn < len(turns) else "Done."
            replies.append(tok(reply, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
        width = max(len(r) for r in replies)
        new = torch.full((len(replies), width), tok.pad_token_id, dtype=input_ids.dtype)
        for i, r in enumerate(replies):
            new[i, : len(r)] = torch.tensor(r, dtype=input_ids.dtype)
        return torch.cat([input_ids, new.to(input_ids.device)], dim=1)


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
