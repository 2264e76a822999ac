"""Deterministic synthetic rollout batches for the benchmarks.

Every batch is a list of rows in the SPEC layout (group, trajectory, state, success, valid, optionally
next_state). Its structure is that of agent rollouts, not of uniform noise:

- each group is one task instance with its own small state graph (``states_per_group`` states, a few
  actions per state, one goal state with a ``finish`` action that succeeds);
- all rollouts of a group start in the same state and random-walk on that graph, so they revisit
  states and meet each other's states (which is what GiGPO's step groups and GraphGPO's graph need);
- the walk is a mix of greedy steps towards the goal and uniformly random actions, with a per-group
  skill, so some groups always succeed, some never do, and most are mixed;
- about 10% of the actions are invalid: the state does not change and ``valid`` is False;
- a trajectory ends when it succeeds or after ``max_steps`` steps.

States are either integers (one random 63-bit id per state of the group), ALFWorld-like text
observations of about 2 KB (task, room, location, what is seen, inventory, admissible actions), or
("similar-text", for ``merge="similar"``) observations in the official GraphGPO recipe's ALFWorld state
format (observation, location and holding, item locations, sorted admissible commands), 1-2 KB, where every
visit of a state reads differently: a turn counter, two items seen in the other order, a passing remark.
The text batch stores every distinct state once as ASCII bytes; :meth:`Batch.states` builds a fresh
``str`` object per row, so timed code never profits from a hash that Python cached on an earlier run
(in training, each step's observation is a freshly decoded string too).
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field

import numpy as np

INVALID_RATE = 0.10
ACTIONS_PER_STATE = 4

RECEPTACLES = (
    "armchair", "bed", "cabinet", "coffeemachine", "countertop", "desk", "diningtable", "drawer", "dresser",
    "fridge", "garbagecan", "laundryhamper", "microwave", "safe", "shelf", "sidetable", "sinkbasin", "sofa",
    "stoveburner", "toaster", "bathtubbasin", "cart", "handtowelholder", "toilet", "towelholder",
)  # fmt: skip
OBJECTS = (
    "apple", "book", "bowl", "bread", "butterknife", "candle", "cd", "cellphone", "cloth", "creditcard",
    "cup", "dishsponge", "egg", "fork", "kettle", "keychain", "knife", "ladle", "laptop", "lettuce", "mug",
    "newspaper", "pan", "pen", "pencil", "peppershaker", "pillow", "plate", "pot", "potato", "remotecontrol",
    "saltshaker", "soapbar", "soapbottle", "spatula", "spoon", "spraybottle", "statue", "tissuebox",
    "tomato", "towel", "vase", "watch", "winebottle",
)  # fmt: skip
TASKS = (
    "put a clean {o} in {r}", "put some {o} on {r}", "heat some {o} and put it in {r}",
    "cool some {o} and put it in {r}", "put two {o} in {r}", "look at {o} under the desklamp",
    "find two {o} and put them in {r}", "clean some {o} and put it in {r}",
)  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """What to generate: ``groups`` x ``rollouts`` trajectories of at most ``max_steps`` steps.

    With ``rows`` set, groups are added until the batch has exactly that many rows (the last trajectory is
    cut short and marked failed); ``groups`` is then ignored.
    """

    name: str
    groups: int
    rollouts: int
    max_steps: int
    states: str = "int"  # "int", "text" or "similar-text"
    states_per_group: int = 32
    text_bytes: int = 2048
    rows: int | None = None
    skill: tuple[float, float] = (0.0, 0.4)  # per-group probability of a greedy step, drawn uniformly
    seed: int = 0
    description: str = ""


@dataclass
class Batch:
    """One generated batch in SPEC's row layout; states are indices into ``distinct`` until asked for."""

    shape: Shape
    group: np.ndarray  # int64, one per row
    trajectory: np.ndarray  # int64, contiguous runs, in step order
    success: np.ndarray  # bool, constant within a trajectory
    valid: np.ndarray  # bool
    state_ids: np.ndarray  # int64 index into ``distinct`` (global over the batch)
    next_state_ids: np.ndarray  # int64 index into ``distinct``; -1 after the success step
    distinct: list = field(repr=False, default_factory=list)  # ints, or ASCII bytes for text batches

    def __len__(self) -> int:
        return len(self.group)

    @property
    def is_text(self) -> bool:
        return self.shape.states in ("text", "similar-text")

    def states(self) -> list | np.ndarray:
        """The per-row states: a new list of fresh ``str`` objects (text) or an int64 array."""
        if self.is_text:
            distinct = self.distinct
            return [distinct[i].decode("ascii") for i in self.state_ids.tolist()]
        return np.asarray(self.distinct, dtype=np.int64)[self.state_ids]

    def state_bytes(self) -> list[bytes]:
        """The UTF-8 bytes of every row's state (text batches), one new object per row (as the engine reads
        one string per row), for the xxh3 yardstick."""
        return [s.encode("utf-8") for s in self.states()]

    def next_states(self) -> list:
        """Explicit next states as Python values (None after a success step: SPEC maps it to SUCCESS)."""
        out = []
        for i in self.next_state_ids.tolist():
            if i < 0:
                out.append(None)
            else:
                v = self.distinct[i]
                out.append(v.decode("ascii") if self.is_text else v)
        return out

    def uuid_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Group and trajectory ids the way verl holds them: uuid4 strings in object arrays (deterministic)."""
        rng = np.random.default_rng([self.shape.seed, 2])

        def table(n: int) -> np.ndarray:
            return np.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)], dtype=object)

        groups = table(int(self.group.max()) + 1 if len(self) else 0)
        trajectories = table(int(self.trajectory.max()) + 1 if len(self) else 0)
        return groups[self.group], trajectories[self.trajectory]

    @property
    def num_trajectories(self) -> int:
        return int(np.count_nonzero(np.diff(self.trajectory)) + 1) if len(self) else 0

    @property
    def num_groups(self) -> int:
        return len(np.unique(self.group))

    def text_bytes_total(self) -> int:
        """Total size of the per-row states in bytes (0 for integer states)."""
        if not self.is_text:
            return 0
        sizes = np.fromiter((len(b) for b in self.distinct), dtype=np.int64, count=len(self.distinct))
        return int(sizes[self.state_ids].sum())


class _TaskGraph:
    """The hidden state graph of one task instance: ``succ[s][a]`` is where action ``a`` leads from ``s``."""

    def __init__(self, rng: np.random.Generator, num_states: int) -> None:
        self.num_states = num_states
        self.goal = num_states - 1
        succ = rng.integers(0, num_states, size=(num_states, ACTIONS_PER_STATE))
        # A backbone path 0 -> 1 -> ... -> goal guarantees the goal is reachable from the start.
        succ[np.arange(num_states - 1), rng.integers(0, ACTIONS_PER_STATE, size=num_states - 1)] = np.arange(
            1, num_states
        )
        self.succ = succ.tolist()
        self.finish_action = int(rng.integers(0, ACTIONS_PER_STATE))
        self.greedy = self._greedy_actions()

    def _greedy_actions(self) -> list[int]:
        """For every state, an action on a shortest path to the goal (the finish action at the goal)."""
        incoming: list[list[int]] = [[] for _ in range(self.num_states)]
        for s, row in enumerate(self.succ):
            for t in row:
                incoming[t].append(s)
        dist = [-1] * self.num_states
        dist[self.goal] = 0
        queue = deque([self.goal])
        while queue:
            t = queue.popleft()
            for s in incoming[t]:
                if dist[s] < 0:
                    dist[s] = dist[t] + 1
                    queue.append(s)
        greedy = []
        for s, row in enumerate(self.succ):
            if s == self.goal:
                greedy.append(self.finish_action)
            else:
                # The backbone makes every state reach the goal, so every distance is finite.
                greedy.append(min(range(ACTIONS_PER_STATE), key=lambda a, row=row: dist[row[a]]))
        return greedy


def _text_states(rng: np.random.Generator, num_states: int, target_bytes: int) -> list[bytes]:
    """``num_states`` distinct ALFWorld-like observations of about ``target_bytes`` bytes for one task."""
    recs = [f"{r} {k}" for r in rng.choice(RECEPTACLES, size=12, replace=False) for k in range(1, 3)]
    objs = [f"{o} {k}" for o in rng.choice(OBJECTS, size=18, replace=False) for k in range(1, 3)]
    task = str(rng.choice(TASKS)).format(o=objs[0].split()[0], r=recs[0].split()[0])
    header = (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, "
        f"you see {', a '.join(recs)}.\n\nYour task is to: {task}.\n"
    )
    out: list[bytes] = []
    seen: set[bytes] = set()
    while len(out) < num_states:
        here = recs[int(rng.integers(len(recs)))]
        shown = rng.choice(objs, size=int(rng.integers(0, 6)), replace=False)
        held = objs[int(rng.integers(len(objs)))] if rng.random() < 0.5 else None
        is_open = "open" if rng.random() < 0.5 else "closed"
        seen_text = ", a ".join(shown) if len(shown) else "nothing"
        body = (
            f"You arrive at {here}. The {here} is {is_open}. On the {here}, you see a {seen_text}.\n"
            f"You are carrying: {'a ' + held if held else 'nothing'}.\n"
        )
        actions = [f"go to {r}" for r in recs] + [f"take {o} from {here}" for o in shown]
        actions += [
            "inventory",
            "look",
            f"examine {here}",
            f"close {here}" if is_open == "open" else f"open {here}",
        ]
        if held:
            actions += [f"put {held} in/on {here}", f"examine {held}"]
        text = header + body + "Your admissible actions of the current situation are: [" + ", ".join(actions)
        filler = " Nothing happens." * max(0, (target_bytes - len(text) - 2) // 17)
        encoded = (text + "]" + filler + "\n").encode("ascii")
        if encoded not in seen:
            seen.add(encoded)
            out.append(encoded)
    return out


def _similar_text_parts(rng: np.random.Generator, num_states: int, target_bytes: int) -> list[tuple]:
    """The hidden states of one task for "similar-text": (head, items seen, tail) of a state text in the
    official recipe's format, about ``target_bytes`` long once rendered (see :func:`_render_similar`)."""
    recs = [f"{r} {k}" for r in rng.choice(RECEPTACLES, size=10, replace=False) for k in range(1, 3)]
    objs = [f"{o} {k}" for o in rng.choice(OBJECTS, size=30, replace=False) for k in range(1, 3)]
    where = {o: recs[int(rng.integers(len(recs)))] for o in objs}
    task = str(rng.choice(TASKS)).format(o=objs[0].split()[0], r=recs[0].split()[0])
    # Item locations as long as it takes to reach the target size (the rest is ~700 bytes).
    listed = objs[: max(4, min(len(objs), (target_bytes - 700) // 24))]
    items = "; ".join(f"{o} in {where[o]}" for o in listed)
    parts = []
    for _ in range(num_states):
        here = recs[int(rng.integers(len(recs)))]
        seen = [str(o) for o in rng.choice(objs, size=int(rng.integers(0, 5)), replace=False)]
        held = objs[int(rng.integers(len(objs)))] if rng.random() < 0.5 else None
        state = "open" if rng.random() < 0.5 else "closed"
        commands = sorted(
            [f"go to {r}" for r in recs]
            + [f"take {o} from {here}" for o in seen]
            + ["inventory", "look", f"examine {here}", f"close {here}" if state == "open" else f"open {here}"]
            + ([f"put {held} in/on {here}", f"examine {held}"] if held else [])
        )
        head = f"Your task is to: {task}. You arrive at {here}. The {here} is {state}. On the {here}, you see "
        tail = (
            f".\nLocation: {here}. Holding: {held or 'nothing'}.\nItem locations: {items}.\n"
            f"Admissible commands: {', '.join(commands)}."
        )
        parts.append((head, seen, tail))
    return parts


_REMARKS = ("", "", "", " You hear a faint noise.", " The light flickers.", " Nothing happens.")


def _render_similar(parts: tuple, turn: int, rng: np.random.Generator) -> bytes:
    """One visit of a hidden state: its text with a turn counter, sometimes two items seen in the other
    order, sometimes a remark. Turn 0 is the task's first observation, the same for all its rollouts."""
    head, seen, tail = parts
    seen = list(seen)
    if turn == 0:
        return f"Turn 0. {head}{', '.join(f'a {o}' for o in seen) or 'nothing'}{tail}".encode("ascii")
    if len(seen) > 1 and rng.random() < 0.3:
        k = int(rng.integers(len(seen) - 1))
        seen[k], seen[k + 1] = seen[k + 1], seen[k]
    shown = ", ".join(f"a {o}" for o in seen) if seen else "nothing"
    remark = _REMARKS[int(rng.integers(len(_REMARKS)))]
    return f"Turn {turn}. {head}{shown}{tail}{remark}".encode("ascii")


def generate(shape: Shape) -> Batch:
    """Build the batch for ``shape`` (deterministic in ``shape.seed``)."""
    rng = np.random.default_rng(shape.seed)  # the walks: identical for the int and text versions of a shape
    rng_states = np.random.default_rng([shape.seed, 1])  # the state values
    group: list[int] = []
    trajectory: list[int] = []
    success: list[bool] = []
    valid: list[bool] = []
    state_ids: list[int] = []
    next_ids: list[int] = []
    distinct: list = []
    similar_parts: list[tuple] = []  # "similar-text": hidden states, rendered per row at the end
    used_ints: set[int] = set()
    target = shape.rows
    g = 0
    traj = 0
    while (target is None and g < shape.groups) or (target is not None and len(group) < target):
        graph = _TaskGraph(rng, shape.states_per_group)
        base = len(distinct)
        if shape.states == "text":
            distinct.extend(_text_states(rng_states, shape.states_per_group, shape.text_bytes))
        elif shape.states == "similar-text":
            base = len(similar_parts)
            similar_parts.extend(_similar_text_parts(rng_states, shape.states_per_group, shape.text_bytes))
        else:
            while len(distinct) < base + shape.states_per_group:
                v = int(rng_states.integers(0, 2**63 - 1))
                if v not in used_ints:
                    used_ints.add(v)
                    distinct.append(v)
        skill = float(rng.uniform(*shape.skill))
        for _ in range(shape.rollouts):
            if target is not None and len(group) >= target:
                break
            u_invalid = rng.random(shape.max_steps).tolist()
            u_greedy = rng.random(shape.max_steps).tolist()
            u_action = rng.integers(0, ACTIONS_PER_STATE, size=shape.max_steps).tolist()
            s = 0
            start = len(group)
            won = False
            for step in range(shape.max_steps):
                ok = u_invalid[step] >= INVALID_RATE
                a = graph.greedy[s] if u_greedy[step] < skill else u_action[step]
                group.append(g)
                trajectory.append(traj)
                valid.append(ok)
                state_ids.append(base + s)
                if ok and s == graph.goal and a == graph.finish_action:
                    next_ids.append(-1)
                    won = True
                    break
                t = graph.succ[s][a] if ok else s
                next_ids.append(base + t)
                s = t
            if target is not None and len(group) > target:
                del group[target:], trajectory[target:], valid[target:], state_ids[target:], next_ids[target:]
                won = False
            success.extend([won] * (len(group) - start))
            traj += 1
        g += 1
    if shape.states == "similar-text":
        # Every row is its own observation of its hidden state; next states are the next rows' states.
        rng_render = np.random.default_rng([shape.seed, 3])
        distinct, turn = [], 0
        for i, hidden in enumerate(state_ids):
            turn = turn + 1 if i and trajectory[i] == trajectory[i - 1] else 0
            distinct.append(_render_similar(similar_parts[hidden], turn, rng_render))
        last = [i + 1 == len(trajectory) or trajectory[i + 1] != trajectory[i] for i in range(len(trajectory))]
        next_ids = [-1 if last[i] else i + 1 for i in range(len(trajectory))]
        state_ids = list(range(len(trajectory)))
    return Batch(
        shape=shape,
        group=np.asarray(group, dtype=np.int64),
        trajectory=np.asarray(trajectory, dtype=np.int64),
        success=np.asarray(success, dtype=bool),
        valid=np.asarray(valid, dtype=bool),
        state_ids=np.asarray(state_ids, dtype=np.int64),
        next_state_ids=np.asarray(next_ids, dtype=np.int64),
        distinct=distinct,
    )


# The benchmark shapes (see benchmarks/README.md). Row counts of the unsized ones depend on the walks.
SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape(
            "alfworld", groups=16, rollouts=8, max_steps=50, states="text", seed=1,
            description="ALFWorld-like: 16 groups x 8 rollouts x <=50 steps, ~2 KB text states",
        ),
        Shape(
            "large-text", groups=128, rollouts=16, max_steps=50, states="text", seed=2,
            description="128 groups x 16 rollouts x <=50 steps, ~2 KB text states",
        ),
        Shape(
            "large-int", groups=128, rollouts=16, max_steps=50, states="int", seed=2,
            description="the large-text batch with integer states",
        ),
        Shape(
            "huge", groups=0, rollouts=16, max_steps=50, states="int", rows=1_000_000, seed=3,
            description="1M rows (16 rollouts x <=50 steps per group), integer states",
        ),
        Shape(
            "alfworld-similar", groups=16, rollouts=8, max_steps=50, states="similar-text", text_bytes=1500,
            seed=5,
            description="ALFWorld-like, merge='similar': 16 groups x 8 rollouts x <=50 steps, 1-2 KB text "
            "states that differ on every visit (turn counter, item order, remarks)",
        ),
        Shape(
            "long-horizon", groups=8, rollouts=8, max_steps=1000, states="text", states_per_group=400,
            skill=(0.0, 0.1), seed=4,
            description="8 groups x 8 rollouts x <=1000 steps, 400 states per task, ~2 KB text states",
        ),
    )
}  # fmt: skip

SWEEP_ROWS = (10_000, 30_000, 100_000, 300_000, 1_000_000)


def sweep_shape(rows: int) -> Shape:
    """One point of the time-per-row sweep: integer states, exactly ``rows`` rows."""
    return Shape(
        f"sweep-{rows}", groups=0, rollouts=16, max_steps=50, states="int", rows=rows, seed=5,
        description=f"{rows:,} rows, integer states (time-per-row sweep)",
    )  # fmt: skip


QUICK_SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("alfworld", groups=4, rollouts=4, max_steps=20, states="text", seed=1,
              description="quick: 4 x 4 x <=20, text states"),
        Shape("large-text", groups=8, rollouts=8, max_steps=30, states="text", seed=2,
              description="quick: 8 x 8 x <=30, text states"),
        Shape("large-int", groups=8, rollouts=8, max_steps=30, states="int", seed=2,
              description="quick: 8 x 8 x <=30, integer states"),
        Shape("huge", groups=0, rollouts=16, max_steps=50, states="int", rows=4_000, seed=3,
              description="quick: 4K rows, integer states"),
        Shape("alfworld-similar", groups=2, rollouts=3, max_steps=8, states="similar-text", text_bytes=500,
              states_per_group=6, skill=(0.0, 0.2), seed=7, description="quick: 2 x 3 x <=8, similar text states"),
        Shape("long-horizon", groups=2, rollouts=4, max_steps=200, states="text", states_per_group=100,
              skill=(0.0, 0.1), seed=4, description="quick: 2 x 4 x <=200, text states"),
    )
}  # fmt: skip
QUICK_SWEEP_ROWS = (1_000, 4_000)
