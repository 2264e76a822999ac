"""KeyDoor: a small gridworld where the agent fetches a key, opens a locked door and reaches the goal.

The room is split by a wall with one locked door. The agent and the key start on one side, the goal lies on
the other. Stepping on the key picks it up; stepping into the locked door while holding the key opens it
(and moves the agent into the doorway); without the key that move is invalid, like walking into a wall.

Board text: ``#`` wall, ``.`` floor, ``@`` agent, ``K`` key (not yet picked up), ``D`` locked door,
``/`` open door, ``G`` goal, ``&`` agent in the open doorway, ``+`` agent on the goal. The board is the exact
state key: the full state (position, key held, door open) can be read from it, since a held key disappears
from the board and the door and goal stay visible under the agent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache

from ._base import MOVES, GridEnv, Level

__all__ = ["KeyDoorLevel", "KeyDoor", "generate_keydoor"]

State = tuple[int, bool, bool]  # (agent cell, has key, door open); cell = row * width + col


class KeyDoorLevel(Level):
    """One KeyDoor level: a ``height`` x ``width`` board (border walls included) and a start state."""

    actions = MOVES

    def __init__(self, height: int, width: int, walls: Sequence[bool], key: int, door: int, goal: int,
                 agent: int, has_key: bool = False, door_open: bool = False) -> None:
        if len(walls) != height * width:
            raise ValueError("walls must have height * width entries")
        self.height, self.width = int(height), int(width)
        self.walls = tuple(bool(w) for w in walls)
        self.key, self.door, self.goal = int(key), int(door), int(goal)
        self._start: State = (int(agent), bool(has_key), bool(door_open))
        self._deltas = (-self.width, self.width, -1, 1)
        cells = [self.key, self.door, self.goal, int(agent)]
        if any(not 0 <= c < height * width or self.walls[c] for c in cells):
            raise ValueError("agent, key, door and goal must lie on non-wall cells")
        if len({self.key, self.door, self.goal}) != 3:
            raise ValueError("key, door and goal must be distinct cells")
        for r in range(self.height):
            for c in range(self.width):
                if (r in (0, self.height - 1) or c in (0, self.width - 1)) and not self.walls[r * self.width + c]:
                    raise ValueError("the board must be enclosed by walls")

    @property
    def start(self) -> State:
        return self._start

    def successors(self, state: State) -> list[State | None]:
        pos, has_key, door_open = state
        out: list[State | None] = []
        for d in self._deltas:
            p2 = pos + d
            if self.walls[p2]:
                out.append(None)
            elif p2 == self.door and not door_open:
                out.append((p2, has_key, True) if has_key else None)
            else:
                out.append((p2, has_key or p2 == self.key, door_open))
        return out

    def is_goal(self, state: State) -> bool:
        return state[0] == self.goal

    def render(self, state: State) -> str:
        pos, has_key, door_open = state
        chars = ["#" if w else "." for w in self.walls]
        chars[self.goal] = "G"
        chars[self.door] = "/" if door_open else "D"
        if not has_key:
            chars[self.key] = "K"
        chars[pos] = "&" if pos == self.door else "+" if pos == self.goal else "@"
        w = self.width
        return "\n".join("".join(chars[r * w:(r + 1) * w]) for r in range(self.height))

    @classmethod
    def from_text(cls, text: str) -> KeyDoorLevel:
        return _parse_cached(text)

    def __repr__(self) -> str:
        return f"KeyDoorLevel({self.height}x{self.width})\n{self.render(self.start)}"


@lru_cache(maxsize=1024)
def _parse_cached(text: str) -> KeyDoorLevel:
    return _parse(text)


def _parse(text: str) -> KeyDoorLevel:
    """Parse a board (inverse of :meth:`KeyDoorLevel.render`). A board without ``K`` means the key is held;
    where it lay no longer matters, so it is recorded on some other floor cell, which renders identically."""
    rows = [row for row in text.split("\n") if row.strip()]
    if not rows:
        raise ValueError("empty KeyDoor board")
    height, width = len(rows), max(len(r) for r in rows)
    walls: list[bool] = []
    found: dict[str, list[int]] = {ch: [] for ch in "@KD/G&+"}
    floor: list[int] = []
    for r, row in enumerate(rows):
        for c in range(width):
            ch = row[c] if c < len(row) else "#"
            if ch not in "#.@KD/G&+ ":
                raise ValueError(f"unexpected character {ch!r} in KeyDoor board")
            walls.append(ch == "#")
            if ch in found:
                found[ch].append(r * width + c)
            if ch in ". @":
                floor.append(r * width + c)
    agents = found["@"] + found["&"] + found["+"]
    doors = found["D"] + found["/"] + found["&"]
    goals = found["G"] + found["+"]
    if len(agents) != 1 or len(doors) != 1 or len(goals) != 1 or len(found["K"]) > 1 or not (found["K"] or floor):
        raise ValueError("a KeyDoor board needs one agent, one door, one goal and at most one key")
    has_key = not found["K"]
    key = found["K"][0] if found["K"] else floor[0]
    door_open = not found["D"]
    return KeyDoorLevel(height, width, walls, key, doors[0], goals[0], agents[0], has_key, door_open)


def generate_keydoor(seed: int, size: int | tuple[int, int] = (5, 7), min_distance: int = 6,
                     inner_walls: int | None = None) -> KeyDoorLevel:
    """A solvable KeyDoor level whose optimal solution takes at least ``min_distance`` steps.

    Deterministic in its arguments. ``size`` is the interior (rows, cols) or an int for a square room; it
    needs at least 3 columns (left part, dividing wall, right part).
    """
    rows, cols = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if rows < 1 or cols < 3 or rows * cols < 6:
        raise ValueError("KeyDoor needs an interior of at least 1 x 3 and 6 cells")
    rng = random.Random(seed)
    height, width = rows + 2, cols + 2
    for _attempt in range(500):
        walls = [r in (0, height - 1) or c in (0, width - 1) for r in range(height) for c in range(width)]
        split = rng.randint(2, cols - 1)  # interior column of the dividing wall (1-based)
        for r in range(1, height - 1):
            walls[r * width + split] = True
        door = rng.randint(1, height - 2) * width + split
        walls[door] = False
        left = [r * width + c for r in range(1, height - 1) for c in range(1, split)]
        right = [r * width + c for r in range(1, height - 1) for c in range(split + 1, width - 1)]
        if len(left) < 2:
            continue
        agent, key = rng.sample(left, 2)
        goal = rng.choice(right)
        n_inner = rng.randint(0, (rows * cols) // 10) if inner_walls is None else inner_walls
        for c in rng.sample(left + right, min(n_inner, len(left) + len(right))):
            if c not in (agent, key, goal, door - 1, door + 1):
                walls[c] = True
        level = KeyDoorLevel(height, width, walls, key, door, goal, agent)
        d = level.distance(level.start)
        if min_distance <= d < float("inf"):
            return level
    raise RuntimeError("could not generate a level with these parameters")


@lru_cache(maxsize=512)
def _generate_cached(seed: int, size: int | tuple[int, int], min_distance: int) -> KeyDoorLevel:
    return generate_keydoor(seed, size, min_distance)


class KeyDoor(GridEnv):
    """Key-and-door gridworld: pick up ``K``, open ``D``, reach ``G``.

    Args:
        size: interior size of generated rooms, (rows, cols) or an int.
        max_steps: episode length limit.
        seed: seed of the level sequence (see :meth:`reset`).
        level: a fixed level (board text or :class:`KeyDoorLevel`) to replay instead of generating.
        min_distance: minimum optimal solution length of generated levels.

    Actions: ``up``, ``down``, ``left``, ``right``. Walking into a wall, or into the locked door without
    the key, is invalid: the state does not change.
    """

    def __init__(self, size: int | tuple[int, int] = (5, 7), max_steps: int = 40, seed: int | None = None,
                 level: KeyDoorLevel | str | None = None, min_distance: int = 6) -> None:
        self.size = size if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.min_distance = int(min_distance)
        super().__init__(max_steps=max_steps, seed=seed, level=level)

    def _make_level(self, seed: int) -> KeyDoorLevel:
        return _generate_cached(seed, self.size, self.min_distance)

    def _coerce_level(self, level: KeyDoorLevel | str) -> KeyDoorLevel:
        return level if isinstance(level, KeyDoorLevel) else KeyDoorLevel.from_text(level)
