"""Text Sokoban with procedurally generated, provably solvable small levels.

Board text is XSB: ``#`` wall, ``@`` player, ``+`` player on goal, ``$`` box, ``*`` box on goal, ``.`` goal,
space floor. The rendered board is the exact state key: it determines the walls, goals, boxes and player.

Levels are generated backwards: pick a room and goals, put the boxes on the goals, then run a breadth-first
search over *pulls* (the reverse of pushes). Every state that search reaches can be solved, and its depth is
its optimal solution length, so the start state is drawn at a chosen difficulty without a separate check.
Distances count environment steps (walking and pushing both cost 1), not pushes.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

from ._base import MOVES, GridEnv, Level

__all__ = ["SokobanLevel", "Sokoban", "generate_sokoban"]

State = tuple[int, tuple[int, ...]]  # (player cell, sorted box cells); cell = row * width + col


class SokobanLevel(Level):
    """One Sokoban level: a rectangular board (``height`` x ``width`` including walls) and a start state."""

    actions = MOVES

    def __init__(self, height: int, width: int, walls: Sequence[bool], goals: Sequence[int], player: int,
                 boxes: Sequence[int]) -> None:
        if len(walls) != height * width:
            raise ValueError("walls must have height * width entries")
        if len(goals) != len(boxes) or not boxes:
            raise ValueError("a level needs as many goals as boxes, and at least one box")
        self.height, self.width = int(height), int(width)
        self.walls = tuple(bool(w) for w in walls)
        self.goals = tuple(sorted(int(g) for g in goals))
        self._goal_set = frozenset(self.goals)
        self._start: State = (int(player), tuple(sorted(int(b) for b in boxes)))
        # Offsets of up, down, left, right in the flattened board.
        self._deltas = (-self.width, self.width, -1, 1)
        self._check()

    def _check(self) -> None:
        player, boxes = self._start
        cells = self.height * self.width
        occupied = [player, *boxes, *self.goals]
        if any(not 0 <= c < cells or self.walls[c] for c in occupied):
            raise ValueError("player, boxes and goals must lie on floor cells")
        if len(set(boxes)) != len(boxes) or len(self._goal_set) != len(self.goals) or player in boxes:
            raise ValueError("overlapping boxes, goals or player")
        # Border cells must be walls so that moves never leave the board.
        for r in range(self.height):
            for c in range(self.width):
                if (r in (0, self.height - 1) or c in (0, self.width - 1)) and not self.walls[r * self.width + c]:
                    raise ValueError("the board must be enclosed by walls")

    # -- Level protocol ---------------------------------------------------------------------------------
    @property
    def start(self) -> State:
        return self._start

    @property
    def num_boxes(self) -> int:
        return len(self.goals)

    def successors(self, state: State) -> list[State | None]:
        player, boxes = state
        walls = self.walls
        out: list[State | None] = []
        for d in self._deltas:
            p2 = player + d
            if walls[p2]:
                out.append(None)
            elif p2 in boxes:
                b2 = p2 + d
                if walls[b2] or b2 in boxes:
                    out.append(None)  # blocked push
                else:
                    out.append((p2, tuple(sorted(b2 if b == p2 else b for b in boxes))))
            else:
                out.append((p2, boxes))
        return out

    def is_goal(self, state: State) -> bool:
        return state[1] == self.goals

    def render(self, state: State) -> str:
        player, boxes = state
        chars = ["#" if w else " " for w in self.walls]
        for g in self.goals:
            chars[g] = "."
        for b in boxes:
            chars[b] = "*" if b in self._goal_set else "$"
        chars[player] = "+" if player in self._goal_set else "@"
        w = self.width
        return "\n".join("".join(chars[r * w:(r + 1) * w]) for r in range(self.height))

    @classmethod
    def from_text(cls, text: str) -> SokobanLevel:
        return _parse_cached(text)

    def with_start(self, state: State) -> SokobanLevel:
        """The same room with another start state."""
        return SokobanLevel(self.height, self.width, self.walls, self.goals, state[0], state[1])

    def __repr__(self) -> str:
        return f"SokobanLevel({self.height}x{self.width}, boxes={self.num_boxes})\n{self.render(self.start)}"


@lru_cache(maxsize=1024)
def _parse_cached(text: str) -> SokobanLevel:
    return _parse(text)


def _parse(text: str) -> SokobanLevel:
    """Parse an XSB board. Rows may have different lengths; short rows are padded with walls."""
    rows = [row for row in text.split("\n") if row.strip()]
    if not rows:
        raise ValueError("empty Sokoban board")
    height, width = len(rows), max(len(r) for r in rows)
    walls: list[bool] = []
    goals: list[int] = []
    boxes: list[int] = []
    player = None
    for r, row in enumerate(rows):
        for c in range(width):
            ch = row[c] if c < len(row) else "#"
            cell = r * width + c
            if ch not in "#@+$*. -_":
                raise ValueError(f"unexpected character {ch!r} in Sokoban board")
            walls.append(ch == "#")
            if ch in ".+*":
                goals.append(cell)
            if ch in "$*":
                boxes.append(cell)
            if ch in "@+":
                if player is not None:
                    raise ValueError("more than one player on the board")
                player = cell
    if player is None:
        raise ValueError("no player on the board")
    # XSB pads the outside of irregular rooms with spaces: wall off floor the player can never reach.
    reach = {player}
    stack = [player]
    while stack:
        c = stack.pop()
        r, col = divmod(c, width)
        for n, ok in ((c - width, r > 0), (c + width, r < height - 1), (c - 1, col > 0), (c + 1, col < width - 1)):
            if ok and not walls[n] and n not in reach:
                reach.add(n)
                stack.append(n)
    keep = reach | set(goals) | set(boxes)
    walls = [w or c not in keep for c, w in enumerate(walls)]
    return SokobanLevel(height, width, walls, goals, player, boxes)


# -- generation ----------------------------------------------------------------------------------------

def _reverse_distances(height: int, width: int, walls: Sequence[bool], goals: Sequence[int],
                       max_states: int) -> dict[State, int]:
    """Optimal distance to solved of every state that can reach a solved state, by BFS over reverse moves.

    The reverse of a forward step (player p-d -> p) is: the player steps back from p to p-d, and, if the
    forward step was a push, the box in front (at p+d) comes back to p, i.e. it is pulled.
    """
    goals_t = tuple(sorted(goals))
    floor = [c for c in range(height * width) if not walls[c]]
    deltas = (-width, width, -1, 1)
    dist: dict[State, int] = {}
    queue: deque[State] = deque()
    for p in floor:
        if p not in goals_t:
            s = (p, goals_t)
            dist[s] = 0
            queue.append(s)
    while queue:
        s = queue.popleft()
        player, boxes = s
        nd = dist[s] + 1
        for d in deltas:
            back = player - d
            if walls[back] or back in boxes:
                continue
            preds = [(back, boxes)]
            front = player + d
            if front in boxes:
                preds.append((back, tuple(sorted(player if b == front else b for b in boxes))))
            for t in preds:
                if t not in dist:
                    dist[t] = nd
                    queue.append(t)
        if len(dist) > max_states:
            break
    return dist


def _connected(walls: Sequence[bool], width: int) -> bool:
    floor = [c for c, w in enumerate(walls) if not w]
    if not floor:
        return False
    seen = {floor[0]}
    stack = [floor[0]]
    while stack:
        c = stack.pop()
        for d in (-width, width, -1, 1):
            n = c + d
            if not walls[n] and n not in seen:
                seen.add(n)
                stack.append(n)
    return len(seen) == len(floor)


def generate_sokoban(seed: int, size: int | tuple[int, int] = 6, num_boxes: int = 1,
                     min_distance: int = 4, max_distance: int = 30, inner_walls: int | None = None,
                     max_states: int = 200_000) -> SokobanLevel:
    """A solvable level whose optimal solution takes between ``min_distance`` and ``max_distance`` steps.

    Deterministic in its arguments. ``size`` is the interior (without the border walls), an int for a square
    room or (rows, cols); ``inner_walls`` extra wall cells are scattered inside (default: about one per
    eight interior cells, drawn at random), keeping the floor connected.
    """
    rows, cols = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if rows < 2 or cols < 2 or rows * cols < num_boxes + 3:
        raise ValueError("room too small for the number of boxes")
    if num_boxes < 1:
        raise ValueError("num_boxes must be >= 1")
    if min_distance < 1 or max_distance < min_distance:
        raise ValueError("need 1 <= min_distance <= max_distance")
    rng = random.Random(seed)
    height, width = rows + 2, cols + 2
    for _attempt in range(200):
        walls = [r in (0, height - 1) or c in (0, width - 1) for r in range(height) for c in range(width)]
        interior = [r * width + c for r in range(1, height - 1) for c in range(1, width - 1)]
        n_inner = rng.randint(0, max(0, rows * cols // 8)) if inner_walls is None else inner_walls
        for c in rng.sample(interior, min(n_inner, len(interior) - num_boxes - 3)):
            walls[c] = True
        if not _connected(walls, width):
            continue
        floor = [c for c in interior if not walls[c]]
        goals = sorted(rng.sample(floor, num_boxes))
        dist = _reverse_distances(height, width, walls, goals, max_states)
        hardest = max(dist.values())
        if hardest < min_distance:
            continue
        target = rng.randint(min_distance, min(max_distance, hardest))
        candidates = [s for s, d in dist.items() if d == target]
        # Prefer starts with more boxes off their goals: they need more pushes than walking.
        most_off = max(sum(b not in goals for b in s[1]) for s in candidates)
        candidates = [s for s in candidates if sum(b not in goals for b in s[1]) == most_off]
        player, boxes = rng.choice(candidates)
        return SokobanLevel(height, width, walls, goals, player, boxes)
    raise RuntimeError("could not generate a level with these parameters")


@lru_cache(maxsize=512)
def _generate_cached(seed: int, size: int | tuple[int, int], num_boxes: int, min_distance: int,
                     max_distance: int) -> SokobanLevel:
    return generate_sokoban(seed, size, num_boxes, min_distance, max_distance)


class Sokoban(GridEnv):
    """Text Sokoban: push every box (``$``) onto a goal (``.``).

    Args:
        size: interior size of generated rooms, an int or (rows, cols).
        num_boxes: boxes per level.
        max_steps: episode length limit.
        seed: seed of the level sequence (see :meth:`reset`).
        level: a fixed level (XSB text or :class:`SokobanLevel`) to replay instead of generating.
        min_distance, max_distance: range of optimal solution lengths of generated levels.

    Actions: ``up``, ``down``, ``left``, ``right``. Walking into a wall, or pushing a box into a wall or
    another box, is invalid: the state does not change. A state where some box can no longer reach a goal
    (a deadlock) has infinite true distance; the episode goes on until ``max_steps``.
    """

    def __init__(self, size: int | tuple[int, int] = 6, num_boxes: int = 1, max_steps: int = 30,
                 seed: int | None = None, level: SokobanLevel | str | None = None, min_distance: int = 4,
                 max_distance: int = 30) -> None:
        self.size = size if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.num_boxes = int(num_boxes)
        self.min_distance, self.max_distance = int(min_distance), int(max_distance)
        super().__init__(max_steps=max_steps, seed=seed, level=level)

    def _make_level(self, seed: int) -> SokobanLevel:
        return _generate_cached(seed, self.size, self.num_boxes, self.min_distance, self.max_distance)

    def _coerce_level(self, level: SokobanLevel | str) -> SokobanLevel:
        return level if isinstance(level, SokobanLevel) else SokobanLevel.from_text(level)
