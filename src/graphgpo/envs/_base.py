"""Shared step API of the bundled environments.

A *level* is an immutable puzzle instance (geometry + start state) with a pure transition function; an
*environment* plays one level at a time with the classic ``reset``/``step`` loop. Keeping the two apart
lets levels be cached and shared (the TRL environment classes and the demo reuse the same objects).
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from functools import cached_property
from typing import Any

from ._solver import StateTable, TooManyStates, explore, shortest_distance

__all__ = ["Level", "GridEnv", "MOVES"]

MOVES: tuple[str, ...] = ("up", "down", "left", "right")
# Accepted spellings of the four moves (case-insensitive), for text-driven agents.
_MOVE_ALIASES = {
    "up": 0, "u": 0, "north": 0, "n": 0,
    "down": 1, "d": 1, "south": 1, "s": 1,
    "left": 2, "l": 2, "west": 2, "w": 2,
    "right": 3, "r": 3, "east": 3, "e": 3,
}


def parse_move(direction: Any) -> int | None:
    """Index into :data:`MOVES` of a move given as an int or a (case-insensitive) name; None if unknown."""
    if isinstance(direction, bool):
        return None
    if isinstance(direction, int):
        return direction if 0 <= direction < len(MOVES) else None
    if isinstance(direction, str):
        return _MOVE_ALIASES.get(direction.strip().lower())
    return None


class Level:
    """An immutable puzzle instance. Subclasses define the state space; states are hashable tuples."""

    actions: tuple[str, ...] = MOVES

    @property
    def start(self) -> Hashable:
        raise NotImplementedError

    def successors(self, state: Hashable) -> Sequence[Hashable | None]:
        """One entry per action: the next state, or None when the action is invalid (state unchanged)."""
        raise NotImplementedError

    def is_goal(self, state: Hashable) -> bool:
        raise NotImplementedError

    def render(self, state: Hashable) -> str:
        """The exact state key: a text board from which the level and the state can be read back."""
        raise NotImplementedError

    @classmethod
    def from_text(cls, text: str) -> Level:
        """The level whose start state is the board ``text`` (inverse of :meth:`render`)."""
        raise NotImplementedError

    @cached_property
    def table(self) -> StateTable:
        """Every state reachable from the start, with transitions and optimal distances (computed once)."""
        return explore(self.start, self.successors, self.is_goal, self.render, len(self.actions))

    def distance(self, state: Hashable) -> float:
        """Optimal number of steps from ``state`` to the goal, ``math.inf`` if unsolvable."""
        try:
            table = self.table
        except TooManyStates:
            return shortest_distance(state, self.successors, self.is_goal)
        j = table.index.get(state)
        if j is not None:
            return float(table.dist[j])
        return shortest_distance(state, self.successors, self.is_goal)


class GridEnv:
    """Base of :class:`~graphgpo.envs.Sokoban` and :class:`~graphgpo.envs.KeyDoor`.

    Contract: ``reset(seed=None) -> obs``; ``step(action) -> (obs, reward, done, info)`` with ``info`` holding
    ``valid``, ``success``, ``state_key``, ``truncated`` and ``steps``. The reward is 1.0 on the step that
    reaches the goal, else 0.0. An invalid action leaves the state unchanged but still uses a step. The
    episode ends on success or after ``max_steps`` steps. Observations are the state keys (text boards).
    """

    actions: tuple[str, ...] = MOVES

    def __init__(self, *, max_steps: int, seed: int | None, level: Level | str | None = None) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        self.max_steps = int(max_steps)
        self._rng = random.Random(seed)
        self._fixed_level = self._coerce_level(level) if level is not None else None
        self.level: Level | None = None
        self._state: Hashable = None
        self._steps = 0
        self._done = False

    # -- hooks for subclasses ---------------------------------------------------------------------------
    def _make_level(self, seed: int) -> Level:
        raise NotImplementedError

    def _coerce_level(self, level: Level | str) -> Level:
        raise NotImplementedError

    # -- public API -------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> str:
        """Start a new episode and return the first observation.

        With a fixed ``level`` given at construction, that level is replayed. Otherwise a level is generated
        from ``seed``, or, when ``seed`` is None, from the next seed of the environment's own generator
        (so a sequence of resets is deterministic given the constructor seed).
        """
        if self._fixed_level is not None:
            self.level = self._fixed_level
        else:
            level_seed = self._rng.randrange(2**63) if seed is None else int(seed)
            self.level = self._make_level(level_seed)
        self._state = self.level.start
        self._steps = 0
        self._done = False
        return self.render()

    def step(self, action: int | str) -> tuple[str, float, bool, dict[str, Any]]:
        """Apply one action (an index into ``actions`` or its name) and return (obs, reward, done, info)."""
        return self._apply(self._action_index(action))

    def _apply(self, a: int | None) -> tuple[str, float, bool, dict[str, Any]]:
        """Step with an action index; None stands for an unparseable action, which is invalid."""
        if self.level is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode is over; call reset()")
        before = self._state
        nxt = self.level.successors(before)[a] if a is not None else None
        valid = nxt is not None
        if valid:
            self._state = nxt
        self._steps += 1
        success = self.level.is_goal(self._state)
        truncated = not success and self._steps >= self.max_steps
        self._done = success or truncated
        obs = self.render()
        info = {"valid": valid, "success": success, "state_key": obs, "truncated": truncated,
                "steps": self._steps}
        return obs, (1.0 if success else 0.0), self._done, info

    def render(self) -> str:
        """The current observation (the exact state key)."""
        if self.level is None:
            raise RuntimeError("call reset() first")
        return self.level.render(self._state)

    def state_key(self) -> str:
        """Exact key of the current state: equal keys mean identical states."""
        return self.render()

    def true_distance(self, state_key: str | None = None) -> float:
        """Optimal number of steps from a state (default: the current one) to the goal; inf if unsolvable."""
        if state_key is None:
            if self.level is None:
                raise RuntimeError("call reset() first")
            return self.level.distance(self._state)
        level = self.level
        if level is not None:
            try:
                j = level.table.key_index.get(state_key)
            except TooManyStates:
                j = None
            if j is not None:
                return float(level.table.dist[j])
        return self._distance_of_text(state_key)

    @property
    def done(self) -> bool:
        return self._done

    @property
    def steps(self) -> int:
        return self._steps

    # -- helpers ----------------------------------------------------------------------------------------
    def _action_index(self, action: int | str) -> int | None:
        a = parse_move(action) if isinstance(action, str) else action
        if a is None or isinstance(a, bool) or not (0 <= int(a) < len(self.actions)):
            raise ValueError(f"unknown action {action!r}; expected one of {self.actions} or an index")
        return int(a)

    def _distance_of_text(self, text: str) -> float:
        level = self._coerce_level(text)
        return level.distance(level.start) if level is not None else math.inf
