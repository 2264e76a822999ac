"""TRL ``environment_factory`` classes for the bundled environments (docs/design.md, step-trace protocol).

TRL turns every public method except ``reset`` and ``get_reward`` into a tool, from its signature and
Google-style docstring, so these classes expose exactly one tool, ``move``; everything else is private.
Each tool call that reaches the environment appends ``(state_key, next_state_key, valid)`` to
``graphgpo_trace``; ``graphgpo_success`` turns True on the call that solves the level. Once the episode is
over (solved, or out of steps) tool calls only answer with a message and record nothing, so the trace
describes exactly the environment steps that happened.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Any

from ._base import GridEnv, parse_move
from .keydoor import KeyDoor
from .sokoban import Sokoban

__all__ = ["SokobanEnvironment", "KeyDoorEnvironment"]


class _TracedEnvironment:
    """Shared implementation; subclasses provide ``_make_env``, ``_intro`` and the ``move`` docstring."""

    def __init__(self) -> None:
        self.graphgpo_trace: list[tuple[Hashable, Hashable, bool]] = []
        self.graphgpo_success: bool = False
        self._env: GridEnv = self._make_env()
        # Seeds for rows that bring none, so that repeated resets still vary deterministically.
        self._rng = random.Random(0)

    def _make_env(self) -> GridEnv:
        raise NotImplementedError

    def _intro(self) -> str:
        raise NotImplementedError

    def reset(self, **kwargs: Any) -> str:
        """Start a new episode; returns the task description and the first board.

        Recognized keyword arguments (other dataset columns are ignored): ``seed`` (int) selects the
        generated level, ``level`` (board text) plays that level instead.
        """
        self.graphgpo_trace = []
        self.graphgpo_success = False
        level = kwargs.get("level")
        seed = kwargs.get("seed")
        if level is not None:
            self._env._fixed_level = self._env._coerce_level(level)
        else:
            self._env._fixed_level = None
        if seed is None and level is None:
            seed = self._rng.randrange(2**31)
        board = self._env.reset(seed=None if seed is None else int(seed))
        return f"{self._intro()}\n\n{board}"

    def _move(self, direction: str) -> str:
        if self._env.done:
            if self.graphgpo_success:
                return "The level is already solved. No further moves are needed."
            return "The episode is over: no moves left."
        before = self._env.state_key()
        board, _, done, info = self._env._apply(parse_move(direction))
        self.graphgpo_trace.append((before, info["state_key"], info["valid"]))
        if info["success"]:
            self.graphgpo_success = True
            return f"{board}\n\nSolved!"
        if not info["valid"]:
            note = ("Invalid move: " + ("blocked." if parse_move(direction) is not None
                                          else f"unknown direction {direction!r}; use up, down, left or right."))
        else:
            note = f"Moved {self._env.actions[parse_move(direction)]}."
        if done:
            note += " No moves left."
        return f"{board}\n\n{note}"

    def get_reward(self) -> float:
        """1.0 when the level was solved in this episode, else 0.0."""
        return 1.0 if self.graphgpo_success else 0.0


class SokobanEnvironment(_TracedEnvironment):
    """Sokoban for TRL's ``environment_factory``: one tool, ``move(direction)``.

    Args:
        size: interior size of generated rooms.
        num_boxes: boxes per level.
        max_steps: tool calls allowed per episode.
    """

    def __init__(self, size: int | tuple[int, int] = 6, num_boxes: int = 1, max_steps: int = 30) -> None:
        self._size, self._num_boxes, self._max_steps = size, num_boxes, max_steps
        super().__init__()

    def _make_env(self) -> GridEnv:
        return Sokoban(size=self._size, num_boxes=self._num_boxes, max_steps=self._max_steps, seed=0)

    def _intro(self) -> str:
        return ("Push every box onto a goal. Board: # wall, @ you, + you on a goal, $ box, * box on a goal, "
                ". goal. Call move(direction) with up, down, left or right.")

    def move(self, direction: str) -> str:
        """Move the player one cell, pushing a box if one is in the way.

        Args:
            direction: One of "up", "down", "left" or "right".

        Returns:
            The board after the move and a short note (invalid move, solved, or out of moves).
        """
        return self._move(direction)


class KeyDoorEnvironment(_TracedEnvironment):
    """KeyDoor gridworld for TRL's ``environment_factory``: one tool, ``move(direction)``.

    Args:
        size: interior size (rows, cols) of generated rooms.
        max_steps: tool calls allowed per episode.
    """

    def __init__(self, size: int | tuple[int, int] = (5, 7), max_steps: int = 40) -> None:
        self._size, self._max_steps = size, max_steps
        super().__init__()

    def _make_env(self) -> GridEnv:
        return KeyDoor(size=self._size, max_steps=self._max_steps, seed=0)

    def _intro(self) -> str:
        return ("Pick up the key, open the door and reach the goal. Board: # wall, . floor, @ you, K key, "
                "D locked door, / open door, G goal (& you in the doorway). Walking onto the key picks it "
                "up; walking into the door with the key opens it. Call move(direction) with up, down, left "
                "or right.")

    def move(self, direction: str) -> str:
        """Move one cell; picks up the key or opens the door when walking onto them.

        Args:
            direction: One of "up", "down", "left" or "right".

        Returns:
            The board after the move and a short note (invalid move, solved, or out of moves).
        """
        return self._move(direction)
