"""Tiny, download-free model and tokenizer, and a scripted environment, for smoke runs, tests and
benchmarks of the TRL integration.

Everything is built in-process (no Hugging Face Hub, see :mod:`graphgpo.trl.chat`): a byte-level BPE
tokenizer trained on a few strings, carrying Qwen's special tokens and TRL's bundled Qwen3 chat template
(so TRL recognises the template, renders tool schemas and parses ``<tool_call>`` blocks), and a randomly
initialised Qwen2 causal LM of about ten thousand parameters over that vocabulary (see :func:`tiny_model`).
Neither is meant to be good; they make the full multi-turn tool loop run on a CPU in seconds.

Such a model cannot write tool calls, so multi-turn runs script the text instead, as TRL's own tool tests
do: :class:`ScriptedGenerate` stands in for ``model.generate`` and answers from what the prompt says
(:class:`LineWorld`'s slot and goal) and how many tool results it has seen, never from model randomness.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .chat import SPECIAL_TOKENS, causal_lm, chat_tokenizer, tool_call_text

__all__ = [
    "SPECIAL_TOKENS",
    "tiny_tokenizer",
    "tiny_model",
    "tool_call_text",
    "LineWorld",
    "line_world_factory",
    "line_world_script",
    "success_reward",
    "ScriptedGenerate",
]


def tiny_tokenizer(tools: Sequence[Callable] = (), corpus: Iterable[str] = (), vocab_size: int = 1200):
    """A fast tokenizer with the Qwen3 chat template, trained on rendered conversations.

    ``tools`` (functions with Google-style docstrings, as TRL requires) and ``corpus`` (e.g. observation
    texts) are rendered into the training text so prompts tokenize into few ids. Deterministic.
    """
    corpus = list(corpus)
    # Two passes: a merge-free tokenizer renders sample conversations through the real template, and
    # the final BPE is trained on that text, so template boilerplate costs few tokens.
    bootstrap = chat_tokenizer(["a"], vocab_size=300)
    calls = [
        tool_call_text(getattr(t, "__name__", "tool"), direction=d)
        for t in (tools or [None])
        for d in ("up", "down", "left", "right")
    ]
    samples = []
    for text in corpus or ["You are in a room."]:
        messages = [{"role": "user", "content": text}]
        for call in calls:
            messages += [{"role": "assistant", "content": call}, {"role": "tool", "content": text}]
        samples.append(
            bootstrap.apply_chat_template(
                messages, tools=list(tools) or None, tokenize=False, add_generation_prompt=True
            )
        )
    return chat_tokenizer(samples * 4 + corpus + calls, vocab_size=vocab_size)


def tiny_model(
    tokenizer, *, hidden_size: int = 16, layers: int = 2, seed: int = 0, max_positions: int = 4096
):
    """A random Qwen2 causal LM over ``tokenizer``'s vocabulary (float32, CPU).

    At the default sizes it has 4,752 parameters plus 16 per vocabulary entry (tied embeddings): 10,224
    with the default ``tiny_tokenizer()`` (342 tokens), 13,648 with a 556-token vocabulary.
    """
    return causal_lm(
        tokenizer, hidden_size=hidden_size, layers=layers, seed=seed, max_positions=max_positions
    )


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
