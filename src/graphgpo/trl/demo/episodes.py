"""Levels, noisy optimal solutions, and episodes laid out in tokens exactly as TRL's tool loop lays them out.

TRL renders the prompt once (the chat template with the tool schema and the generation header), then
appends each generated turn (ending with EOS) and, after each tool call, the template's rendering of the
tool result followed by the next assistant header. :class:`EpisodeFormat` builds the same token ids, so
the warm start trains on exactly what the model sees in RL and in :mod:`.play` (a test compares it with
a real TRL rollout).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ...envs import MOVES, SokobanEnvironment
from ...envs.sokoban import SokobanLevel, generate_sokoban
from ..chat import tool_call_text

__all__ = [
    "LevelSpec",
    "make_levels",
    "noisy_solution",
    "EpisodeFormat",
    "Episode",
    "episode_tokens",
    "FINAL_TEXT",
]

FINAL_TEXT = "Done."  # what the warm-started model says once the level is solved


@dataclass(frozen=True)
class LevelSpec:
    """Generated Sokoban levels: interior size, boxes, and the range of optimal solution lengths."""

    size: int = 4
    num_boxes: int = 1
    min_distance: int = 2
    max_distance: int = 7

    def level(self, seed: int) -> SokobanLevel:
        return generate_sokoban(
            seed,
            size=self.size,
            num_boxes=self.num_boxes,
            min_distance=self.min_distance,
            max_distance=self.max_distance,
        )


def make_levels(spec: LevelSpec, seeds: Sequence[int]) -> list[str]:
    """The start boards (XSB text) of the levels generated from ``seeds``."""
    out = []
    for seed in seeds:
        level = spec.level(seed)
        out.append(level.render(level.start))
    return out


def noisy_solution(board: str, rng: random.Random, noise: float, max_steps: int) -> list[str]:
    """Moves that solve ``board``: optimal moves, each replaced with probability ``noise`` by a random move
    that keeps the level solvable (a detour, or a blocked move that wastes a step). Optimal ties are broken
    at random. Falls back to an optimal solution when the noisy one would exceed ``max_steps``."""
    level = SokobanLevel.from_text(board)
    for attempt in range(8):
        eps = noise if attempt < 7 else 0.0
        state, moves = level.start, []
        while not level.is_goal(state) and len(moves) < max_steps:
            nexts = level.successors(state)
            here = level.distance(state)
            after = [level.distance(state if n is None else n) for n in nexts]
            if rng.random() < eps:
                choices = [a for a in range(len(MOVES)) if after[a] != float("inf")]
            else:
                choices = [a for a in range(len(MOVES)) if after[a] == here - 1]
            a = rng.choice(choices)
            moves.append(MOVES[a])
            if nexts[a] is not None:
                state = nexts[a]
        if level.is_goal(state):
            return moves
    raise RuntimeError("no solution within max_steps")  # pragma: no cover - optimal fits by construction


class EpisodeFormat:
    """Texts and token ids of prompts, turns and tool results, as TRL's tool loop produces them for
    ``tokenizer``. Every piece starts right after a special token (or at the start), so each is tokenized
    on its own, as TRL concatenates them."""

    def __init__(self, tokenizer, tools: Sequence = (SokobanEnvironment.move,)) -> None:
        from trl.chat_template_utils import get_training_chat_template, is_chat_template_prefix_preserving

        self.tokenizer = tokenizer
        self.tools = list(tools)
        self.eos = tokenizer.eos_token_id
        self._tool_name = getattr(self.tools[0], "__name__", "move")
        # TRL renders multi-turn tool conversations with a prefix-preserving variant of the template.
        prefix_preserving = is_chat_template_prefix_preserving(tokenizer)
        self.chat_template = None if prefix_preserving else get_training_chat_template(tokenizer)
        self._suffixes: dict[int, str] = {}

    def prompt_text(self, observation: str) -> str:
        """The first prompt: the user message (TRL's default empty prompt plus the reset observation),
        the tool schema and the generation header."""
        return self._render_text([{"role": "user", "content": observation}], generation_prompt=True)

    def prompt_ids(self, observation: str) -> list[int]:
        return self.ids(self.prompt_text(observation))

    def turn_text(self, text: str) -> str:
        """One generated assistant turn: its text and the EOS token that ends it."""
        return text + self.tokenizer.eos_token

    def turn_ids(self, text: str) -> list[int]:
        return self.ids(self.turn_text(text))

    def call_text(self, direction: str) -> str:
        return self.turn_text(tool_call_text(self._tool_name, direction=direction))

    def call_ids(self, direction: str) -> list[int]:
        return self.ids(self.call_text(direction))

    def ids(self, text: str) -> list[int]:
        """Token ids of a piece of text that starts right after a special token (or at the start)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def result_text(self, *results: str) -> str:
        """The text TRL appends after a turn that called the tool (one result per call): the rendered tool
        messages and the next assistant header. It is the template's rendering of a conversation with the
        tool messages minus the same conversation without them, cut after the EOS that closes the calling
        turn (what follows a special token is tokenized on its own, so the text decides the ids)."""
        text = self._suffix_template(len(results))
        for k, result in enumerate(results):
            text = text.replace(_PLACEHOLDER % k, result)
        return text

    def result_ids(self, *results: str) -> list[int]:
        return self.ids(self.result_text(*results))

    def _suffix_template(self, count: int) -> str:
        """The suffix text for ``count`` tool results, with placeholders where the results go."""
        if count not in self._suffixes:
            call = {"type": "function", "function": {"name": self._tool_name, "arguments": {}}}
            before = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "tool_calls": [call]}]
            tools = [{"role": "tool", "name": self._tool_name, "content": _PLACEHOLDER % k} for k in range(count)]
            prefix = self._render_text(before, generation_prompt=False)
            full = self._render_text([*before, *tools], generation_prompt=True)
            cut = prefix.rindex(self.tokenizer.eos_token) + len(self.tokenizer.eos_token)
            if full[:cut] != prefix[:cut]:
                raise ValueError("the chat template renders a tool message differently from TRL's assumption")
            self._suffixes[count] = full[cut:]
        return self._suffixes[count]

    def _render_text(self, messages: list[dict], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tools=self.tools, add_generation_prompt=generation_prompt, tokenize=False,
            chat_template=self.chat_template,
        )


_PLACEHOLDER = "\x00result%d\x00"


@dataclass
class Episode:
    """A tokenized episode: ``ids`` (prompt + completion), ``prompt_len``, and ``action_mask`` over ``ids``
    (1 on tokens the model generates, 0 on the prompt and the tool results)."""

    ids: list[int]
    prompt_len: int
    action_mask: list[int]


def episode_pieces(fmt: EpisodeFormat, board: str, moves: Sequence[str], env: SokobanEnvironment):
    """``(text, generated)`` pieces of the episode of playing ``moves`` on ``board`` in ``env`` and then
    saying :data:`FINAL_TEXT`: the prompt, then each call and its result, then the final turn."""
    pieces = [(fmt.prompt_text(env.reset(level=board)), False)]
    for direction in moves:
        pieces.append((fmt.call_text(direction), True))
        pieces.append((fmt.result_text(env.move(direction)), False))
    pieces.append((fmt.turn_text(FINAL_TEXT), True))
    return pieces


def episode_tokens(fmt: EpisodeFormat, board: str, moves: Sequence[str], env: SokobanEnvironment) -> Episode:
    """The tokenized episode of :func:`episode_pieces`, each piece tokenized on its own as in TRL."""
    ids: list[int] = []
    mask: list[int] = []
    prompt_len = 0
    for k, (text, generated) in enumerate(episode_pieces(fmt, board, moves, env)):
        piece = fmt.ids(text)
        ids += piece
        mask += [int(generated)] * len(piece)
        if k == 0:
            prompt_len = len(piece)
    return Episode(ids, prompt_len, mask)
