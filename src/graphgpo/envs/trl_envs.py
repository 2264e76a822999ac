"""TRL ``environment_factory`` classes for the bundled environments (step-trace protocol: `graphgpo docs guide`).

Each class exposes exactly one tool, ``move``; the step trace is recorded by
:class:`~graphgpo.envs._trace.TracedEnvironment`. An unknown direction is an invalid step (the state does
not change), like a blocked move.
"""

from __future__ import annotations

from typing import Any

from ._base import GridEnv, parse_move
from ._trace import TracedEnvironment
from .keydoor import KeyDoor
from .sokoban import Sokoban

__all__ = ["SokobanEnvironment", "KeyDoorEnvironment"]


class _GridEnvironment(TracedEnvironment):
    """A bundled grid game behind the trace recorder; subclasses provide ``_make_env``, ``_intro`` and ``move``."""

    SOLVED_TEXT = "The level is already solved. No further moves are needed."
    OVER_TEXT = "The episode is over: no moves left."

    def __init__(self) -> None:
        self._env: GridEnv = self._make_env()
        super().__init__()

    def _make_env(self) -> GridEnv:
        raise NotImplementedError

    def _configure(self, kwargs: dict[str, Any]) -> bool:
        """``level`` (board text) plays that level instead of the one generated from ``seed``."""
        level = kwargs.get("level")
        self._env._fixed_level = None if level is None else self._env._coerce_level(level)
        return level is not None

    def reset(self, **kwargs: Any) -> str:
        """Start a new episode; returns the task description and the first board.

        Recognized keyword arguments (other dataset columns are ignored): ``seed`` (int) selects the
        generated level, ``level`` (board text) plays that level instead.
        """
        return super().reset(**kwargs)

    def _step(self, action: Any) -> tuple[str, bool, dict[str, Any]]:
        board, _, done, info = self._env._apply(parse_move(action))
        return board, done, info

    def _result(self, observation: str, action: Any, info: dict[str, Any], done: bool) -> str:
        # The note comes first and the board last, so the board always ends right before the model's next
        # turn, at the same distance from it: a small model learns to read it much faster than when a
        # note of varying length stands in between.
        if info["success"]:
            return f"Solved!\n\n{observation}"
        move = parse_move(action)
        if not info["valid"]:
            reason = "blocked." if move is not None else f"unknown direction {action!r}; use up, down, left or right."
            note = "Invalid move: " + reason
        else:
            note = f"Moved {self._env.actions[move]}."
        if done:
            note += " No moves left."
        return f"{note}\n\n{observation}"


class SokobanEnvironment(_GridEnvironment):
    """Sokoban for TRL's ``environment_factory``: one tool, ``move(direction)``.

    Args:
        size: interior size of generated rooms.
        num_boxes: boxes per level.
        max_steps: tool calls allowed per episode.
        border: False leaves the outer wall out of the boards the model sees (shorter prompts for small
            models); the trace keys are the full boards either way.
    """

    def __init__(
        self, size: int | tuple[int, int] = 6, num_boxes: int = 1, max_steps: int = 30, border: bool = True
    ) -> None:
        self._size, self._num_boxes, self._max_steps, self._border = size, num_boxes, max_steps, border
        super().__init__()

    def _observe(self, observation: str) -> str:
        if self._border:
            return observation
        return "\n".join(row[1:-1] for row in observation.split("\n")[1:-1])

    def _make_env(self) -> GridEnv:
        return Sokoban(size=self._size, num_boxes=self._num_boxes, max_steps=self._max_steps, seed=0)

    def _intro(self) -> str:
        return (
            "Push every box onto a goal. Board: # wall, @ you, + you on a goal, $ box, * box on a goal, "
            ". goal. Call move(direction) with up, down, left or right."
        )

    def move(self, direction: str) -> str:
        """Move the player one cell, pushing a box if one is in the way.

        Args:
            direction: One of "up", "down", "left" or "right".

        Returns:
            A short note (moved, invalid move, solved, or out of moves), then the board after the move.
        """
        return self._act(direction)


class KeyDoorEnvironment(_GridEnvironment):
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
        return (
            "Pick up the key, open the door and reach the goal. Board: # wall, . floor, @ you, K key, "
            "D locked door, / open door, G goal (& you in the doorway). Walking onto the key picks it "
            "up; walking into the door with the key opens it. Call move(direction) with up, down, left "
            "or right."
        )

    def move(self, direction: str) -> str:
        """Move one cell; picks up the key or opens the door when walking onto them.

        Args:
            direction: One of "up", "down", "left" or "right".

        Returns:
            A short note (moved, invalid move, solved, or out of moves), then the board after the move.
        """
        return self._act(direction)
