"""Exhaustive solver shared by the bundled environments.

Both environments are small deterministic puzzles, so the whole state space reachable from a start state
can be enumerated. :func:`explore` does that once per level and returns a :class:`StateTable`: every
reachable state with an integer id, the transition of every action, the goal flags and the exact optimal
number of steps to the goal (``math.inf`` where the goal can no longer be reached, e.g. a Sokoban deadlock).
The table doubles as the fast path of the demo, which simulates many episodes by array indexing.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["StateTable", "explore", "shortest_distance", "TooManyStates"]

# Enumerating more than this many states would make level setup slow in pure Python; levels that large
# are outside what the bundled environments are meant for.
DEFAULT_MAX_STATES = 400_000


class TooManyStates(RuntimeError):
    """Raised when a level's reachable state space exceeds the enumeration limit."""


@dataclass(frozen=True)
class StateTable:
    """All states reachable from ``start`` (id 0) and their transitions.

    Attributes:
        states: internal state objects, indexed by state id.
        keys: the exact state key (rendered text) of every state, indexed by state id.
        next: ``int32 [S, A]``, the state id after each action; an invalid action leads back to the same id.
        valid: ``bool [S, A]``, whether each action is valid (changes the state). Goal states are not
            expanded (episodes end there), so all their actions are marked invalid self-loops.
        goal: ``bool [S]``, whether the state solves the level.
        dist: ``float64 [S]``, optimal number of steps to a goal state, ``inf`` when none is reachable.
    """

    states: list
    keys: list[str]
    next: np.ndarray
    valid: np.ndarray
    goal: np.ndarray
    dist: np.ndarray
    index: dict = field(repr=False)
    key_index: dict = field(repr=False)

    @property
    def num_states(self) -> int:
        return len(self.states)

    @property
    def start(self) -> int:
        return 0


def explore(start: Hashable, successors: Callable[[Hashable], Sequence[Hashable | None]],
            is_goal: Callable[[Hashable], bool], render: Callable[[Hashable], str], num_actions: int,
            max_states: int = DEFAULT_MAX_STATES) -> StateTable:
    """Enumerate the states reachable from ``start`` and their exact distances to the goal.

    Args:
        start: the start state (hashable, compared by equality).
        successors: state -> one entry per action, the next state or ``None`` for an invalid action.
        is_goal: whether a state solves the level; goal states are terminal and not expanded.
        render: state -> its state key (text); must be injective on the reachable states.
        num_actions: number of actions.
        max_states: raise :class:`TooManyStates` beyond this many states.
    """
    index: dict = {start: 0}
    states: list = [start]
    rows: list[list[int]] = []
    valid_rows: list[list[bool]] = []
    goal: list[bool] = []
    i = 0
    while i < len(states):
        s = states[i]
        row = [i] * num_actions
        ok = [False] * num_actions
        reached_goal = bool(is_goal(s))
        goal.append(reached_goal)
        if not reached_goal:
            for a, t in enumerate(successors(s)):
                if t is None:
                    continue
                j = index.get(t)
                if j is None:
                    j = len(states)
                    if j >= max_states:
                        raise TooManyStates(f"more than {max_states} reachable states")
                    index[t] = j
                    states.append(t)
                row[a] = j
                ok[a] = True
        rows.append(row)
        valid_rows.append(ok)
        i += 1

    nxt = np.asarray(rows, dtype=np.int32).reshape(len(states), num_actions)
    valid = np.asarray(valid_rows, dtype=bool).reshape(len(states), num_actions)
    goal_arr = np.asarray(goal, dtype=bool)
    dist = _backward_bfs(nxt, valid, goal_arr)
    keys = [render(s) for s in states]
    key_index = {k: j for j, k in enumerate(keys)}
    if len(key_index) != len(keys):
        raise ValueError("render() maps two different states to the same key")
    return StateTable(states=states, keys=keys, next=nxt, valid=valid, goal=goal_arr, dist=dist,
                      index=index, key_index=key_index)


def _backward_bfs(nxt: np.ndarray, valid: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Unit-cost distances to the nearest goal state, by BFS over reversed valid edges."""
    num_states = nxt.shape[0]
    src, act = np.nonzero(valid)
    dst = nxt[src, act]
    # CSR of incoming edges: for each destination, the sources that reach it in one step.
    order = np.argsort(dst, kind="stable")
    src_sorted = src[order].tolist()
    offsets = np.zeros(num_states + 1, dtype=np.int64)
    np.add.at(offsets, dst + 1, 1)
    offsets = np.cumsum(offsets).tolist()
    dist = [math.inf] * num_states
    queue = deque()
    for g in np.nonzero(goal)[0].tolist():
        dist[g] = 0.0
        queue.append(g)
    while queue:
        v = queue.popleft()
        dv = dist[v] + 1.0
        for k in range(offsets[v], offsets[v + 1]):
            u = src_sorted[k]
            if dist[u] == math.inf:
                dist[u] = dv
                queue.append(u)
    return np.asarray(dist, dtype=np.float64)


def shortest_distance(start: Hashable, successors: Callable[[Hashable], Sequence[Hashable | None]],
                      is_goal: Callable[[Hashable], bool], max_states: int = DEFAULT_MAX_STATES) -> float:
    """Optimal number of steps from ``start`` to a goal state by forward BFS; ``inf`` if unreachable."""
    if is_goal(start):
        return 0.0
    seen = {start}
    frontier = [start]
    depth = 0
    while frontier:
        depth += 1
        new: list = []
        for s in frontier:
            for t in successors(s):
                if t is None or t in seen:
                    continue
                if is_goal(t):
                    return float(depth)
                seen.add(t)
                new.append(t)
        if len(seen) > max_states:
            raise TooManyStates(f"more than {max_states} reachable states")
        frontier = new
    return math.inf
