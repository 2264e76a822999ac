"""Plain-Python reference of SPEC.md: the estimators as literally as the page states them.

Slow on purpose (dicts, heaps, lists), independent of the C++ engine, and used by the tests and the
benchmarks as the "linear-time plain Python" baseline. States are any hashable Python values; two states
are the same node when they compare equal.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

DEFAULTS: dict[str, object] = {
    "omega": 0.1,
    "gamma": 0.95,
    "success_reward": 10.0,
    "invalid_penalty": 0.1,
    "step_weight": 1.0,
    "episode_weight": 1.0,
    "norm": "mean_std",
    "eps": 1e-6,
    "convention": "reference",
    "episode_stats": "per_step",
    "normalize_distance": False,
    "distance": "shortest",
    "merge": "exact",
    "similarity": 0.95,
}

BELLMAN_TOLERANCE = 1e-12


class _Success:
    """The one SUCCESS node of a group."""

    def __repr__(self) -> str:
        return "SUCCESS"


SUCCESS = _Success()


class _Terminal:
    """The terminal node a failed trajectory without a given next_state ends in (one per trajectory)."""

    def __init__(self, trajectory: Hashable) -> None:
        self.trajectory = trajectory

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Terminal) and other.trajectory == self.trajectory

    def __hash__(self) -> int:
        return hash(("terminal", self.trajectory))

    def __repr__(self) -> str:
        return f"TERMINAL({self.trajectory})"


def normalize(values: Sequence[float], norm: str, eps: float, singleton_is_zero: bool) -> list[float]:
    """SPEC normalization of one segment. Singletons: 0 for step groups, mean 0 / std 1 for episodes."""
    n = len(values)
    if n == 0:
        return []
    if n == 1:
        if singleton_is_zero:
            return [0.0]
        mean, std = 0.0, 1.0
    else:
        if all(v == values[0] for v in values):
            return [0.0] * n
        exponent = math.frexp(max(abs(v) for v in values))[1]
        if norm != "mean" and eps == 0 and exponent != 0:
            # The plain z-score does not change when every value is scaled by one power of two (exact in
            # float64), and at magnitude ~1 neither the squares of tiny spreads (below ~1e-154) underflow nor
            # those of huge ones overflow (SPEC: finite inputs give finite advantages).
            return normalize([math.ldexp(v, -exponent) for v in values], norm, eps, singleton_is_zero)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    if norm == "mean":
        return [v - mean for v in values]
    return [(v - mean) / (std + eps) for v in values]


def trajectories(trajectory: Sequence[Hashable]) -> list[tuple[Hashable, int, int]]:
    """(id, first row, end row) of each trajectory, in batch order."""
    spans: list[tuple[Hashable, int, int]] = []
    start = 0
    for i in range(1, len(trajectory) + 1):
        if i == len(trajectory) or trajectory[i] != trajectory[start]:
            spans.append((trajectory[start], start, i))
            start = i
    return spans


def next_nodes(state, next_state, success, trajectory) -> list[Hashable]:
    """Each row's destination node per SPEC (SUCCESS, a given/implied next state, or a terminal)."""
    out: list[Hashable] = [None] * len(state)
    for traj, lo, hi in trajectories(trajectory):
        for i in range(lo, hi):
            given = None if next_state is None else next_state[i]  # None for a row: no next state given
            if i == hi - 1:
                if success[i]:
                    out[i] = SUCCESS
                elif given is not None:
                    out[i] = given
                else:
                    out[i] = _Terminal(traj)
            else:
                out[i] = given if given is not None else state[i + 1]
    return out


def group_distances(rows, *, has_success: bool, expected: bool, with_far: bool = False):
    """Distance to SUCCESS of every node of one group. rows: list of (state, next, cost, action).
    With ``with_far``, returns (distances, D) where D is the distance given to unreachable nodes."""
    nodes = {SUCCESS}
    for s, t, _, _ in rows:
        nodes.add(s)
        nodes.add(t)
    if not has_success:
        return (dict.fromkeys(nodes, 1.0), 1.0) if with_far else dict.fromkeys(nodes, 1.0)
    incoming: dict[Hashable, list[tuple[Hashable, float]]] = defaultdict(list)
    for s, t, c, _ in rows:
        incoming[t].append((s, c))
    dist = {SUCCESS: 0.0}
    heap = [(0.0, 0, SUCCESS)]
    tie = 1
    done = set()
    while heap:
        d, _, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        for u, c in incoming[v]:
            nd = d + c
            if u not in dist or nd < dist[u]:
                dist[u] = nd
                heapq.heappush(heap, (nd, tie, u))
                tie += 1
    far = max(dist.values()) + 1.0
    for v in nodes:
        dist.setdefault(v, far)
    if not expected:
        return (dist, far) if with_far else dist
    # Bellman backups over (state, action): mean cost plus expected distance of observed outcomes.
    outcomes: dict[Hashable, dict[Hashable, dict[Hashable, int]]] = defaultdict(lambda: defaultdict(dict))
    costs: dict[tuple[Hashable, Hashable], list[float]] = defaultdict(list)
    for s, t, c, a in rows:
        seen = outcomes[s][a]
        seen[t] = seen.get(t, 0) + 1
        costs[(s, a)].append(c)
    value = {v: (0.0 if v is SUCCESS else far) for v in nodes}
    while True:
        new = dict(value)
        for s, by_action in outcomes.items():
            best = far
            for a, seen in by_action.items():
                total = sum(seen.values())
                q = sum(costs[(s, a)]) / len(costs[(s, a)])
                q += sum(n * value[t] for t, n in seen.items()) / total
                best = min(best, q)
            new[s] = best
        change = max(abs(new[v] - value[v]) for v in nodes)
        value = new
        if change < BELLMAN_TOLERANCE:
            return (value, far) if with_far else value


def reference_distances(*, group, trajectory, state, success, next_state=None, cost=None, action=None,
                        distance: str = "shortest", with_far: bool = False) -> dict:
    """Per group: node -> distance (SUCCESS and terminal nodes included); with ``with_far``, per group
    (node -> distance, D)."""
    n = len(state)
    nxt = next_nodes(state, next_state, success, trajectory)
    rows_by_group: dict[Hashable, list] = defaultdict(list)
    succeeded: dict[Hashable, bool] = defaultdict(bool)
    for i in range(n):
        c = 1.0 if cost is None else float(cost[i])
        a = None if action is None else action[i]
        rows_by_group[group[i]].append((state[i], nxt[i], c, a))
        succeeded[group[i]] |= bool(success[i])
    return {g: group_distances(rows, has_success=succeeded[g], expected=(distance == "expected"),
                               with_far=with_far)
            for g, rows in rows_by_group.items()}


def _segments(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    out: dict[Hashable, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        out[k].append(i)
    return out


def _normalize_by(keys, values, norm, eps, singleton_is_zero) -> list[float]:
    result = [0.0] * len(values)
    for idx in _segments(keys).values():
        for i, v in zip(idx, normalize([values[i] for i in idx], norm, eps, singleton_is_zero)):
            result[i] = v
    return result


@dataclass(frozen=True)
class Rows:
    """A batch as :func:`reference_advantages` prepared it (plain lists; rewards filled in)."""

    group: list
    trajectory: list
    state: Sequence[Hashable]
    next_state: Sequence[Hashable] | None
    success: list[bool]
    valid: list[bool]
    reward: list[float]
    cost: Sequence[float] | None
    action: Sequence[Hashable] | None
    spans: list[tuple[Hashable, int, int]]  # (trajectory id, first row, end row), see trajectories()


Advantages = Callable[[Rows, list, dict], list]

#: Each estimator's reference, by method name: ``fn(rows, a_episode, options) -> advantages`` (one per row);
#: None: the estimator is A_E alone. The reference's own registry, independent of the engine's; tests tie its
#: names to graphgpo.METHODS.
REFERENCES: dict[str, Advantages | None] = {"grpo": None}


def estimator(name: str) -> Callable[[Advantages], Advantages]:
    """Register ``fn(rows, a_episode, options) -> advantages`` as the reference of method ``name``."""

    def register(fn: Advantages) -> Advantages:
        if name in REFERENCES:
            raise ValueError(f"estimator {name!r} is registered twice")
        REFERENCES[name] = fn
        return fn

    return register


def step_group_advantages(rows: Rows, a_episode: list[float], o: dict, step_return: list[float]) -> list[float]:
    """episode_weight * A_E + step_weight * A_S, where A_S is the step returns, minus invalid_penalty on
    invalid rows, normalized within step groups (the rows of a group with the same start state)."""
    ip = float(o["invalid_penalty"])
    step_return = [r - (0.0 if ok else ip) for r, ok in zip(step_return, rows.valid)]
    a_step = _normalize_by(list(zip(rows.group, rows.state)), step_return, o["norm"], float(o["eps"]),
                           singleton_is_zero=True)
    ew, sw = float(o["episode_weight"]), float(o["step_weight"])
    return [ew * e + sw * s for e, s in zip(a_episode, a_step)]


def discounted_returns(rows: Rows, o: dict) -> list[float]:
    """gigpo: the discounted sum of the trajectory's remaining rewards (gamma)."""
    step_return = [0.0] * len(rows.group)
    gamma = float(o["gamma"])
    for _, lo, hi in rows.spans:
        running = 0.0
        for i in range(hi - 1, lo - 1, -1):
            running = rows.reward[i] + gamma * running
            step_return[i] = running
    return step_return


def graph_returns(rows: Rows, o: dict) -> list[float]:
    """graphgpo: success_reward * omega ** exponent, the exponent per convention / normalize_distance."""
    group, state, cost = rows.group, rows.state, rows.cost
    dist = reference_distances(group=group, trajectory=rows.trajectory, state=state, success=rows.success,
                               next_state=rows.next_state, cost=cost, action=rows.action, distance=o["distance"])
    nxt = next_nodes(state, rows.next_state, rows.success, rows.trajectory)
    sr, omega = float(o["success_reward"]), float(o["omega"])
    step_return = [0.0] * len(group)
    for i in range(len(group)):
        d = dist[group[i]]
        if o["normalize_distance"]:
            exponent = d[nxt[i]] - d[state[i]] + 1.0
        elif o["convention"] == "paper":
            exponent = d[nxt[i]] + (1.0 if cost is None else float(cost[i]))
        else:
            exponent = d[nxt[i]]
        step_return[i] = sr * omega**exponent
    return step_return


@estimator("gigpo")
def gigpo_advantages(rows: Rows, a_episode: list[float], o: dict) -> list[float]:
    return step_group_advantages(rows, a_episode, o, discounted_returns(rows, o))


@estimator("graphgpo")
def graphgpo_advantages(rows: Rows, a_episode: list[float], o: dict) -> list[float]:
    return step_group_advantages(rows, a_episode, o, graph_returns(rows, o))


@estimator("progpo")
def progpo_advantages(rows: Rows, a_episode: list[float], o: dict) -> list[float]:
    return _progress(a_episode, rows.group, rows.trajectory, rows.state, rows.success, rows.next_state,
                     rows.valid, rows.cost, rows.action, o)


def reference_advantages(method: str, *, group, trajectory, state, success, next_state=None, valid=None,
                         reward=None, cost=None, action=None, **options) -> list[float]:
    """One advantage per row, exactly per SPEC.md, in float64."""
    if method not in REFERENCES:
        raise ValueError(f"unknown method {method!r}")
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s): {sorted(unknown)}")
    o = {**DEFAULTS, **options}
    if o["merge"] == "similar":  # SPEC "Merging similar states": reference_similar.py
        from .reference_similar import reference_similar_advantages

        rest = {k: v for k, v in options.items() if k not in ("merge", "similarity")}
        return reference_similar_advantages(method, group=group, trajectory=trajectory, state=state,
                                            success=success, next_state=next_state, valid=valid, reward=reward,
                                            cost=cost, action=action, similarity=float(o["similarity"]), **rest)
    n = len(state)
    group, trajectory = list(group), list(trajectory)
    success = [bool(x) for x in success]
    valid = [True] * n if valid is None else [bool(x) for x in valid]
    sr, ip, eps, norm = float(o["success_reward"]), float(o["invalid_penalty"]), float(o["eps"]), o["norm"]
    spans = trajectories(trajectory)
    if reward is None:
        reward = [0.0] * n
        for _, _, hi in spans:
            if success[hi - 1]:
                reward[hi - 1] = sr
    reward = [float(x) for x in reward]

    # Episode advantage.
    episode_reward = [0.0] * n
    for _, lo, hi in spans:
        total = sum(reward[lo:hi])
        for i in range(lo, hi):
            episode_reward[i] = total
    if o["episode_stats"] == "per_step":
        scores = [episode_reward[i] - (0.0 if valid[i] else ip) for i in range(n)]
        a_episode = _normalize_by(group, scores, norm, eps, singleton_is_zero=False)
    else:
        traj_groups, traj_scores = [], []
        for _, lo, hi in spans:
            traj_groups.append(group[lo])
            traj_scores.append(episode_reward[lo] - ip * sum(1 for i in range(lo, hi) if not valid[i]))
        per_traj = _normalize_by(traj_groups, traj_scores, norm, eps, singleton_is_zero=False)
        a_episode = [0.0] * n
        for (_, lo, hi), v in zip(spans, per_traj):
            for i in range(lo, hi):
                a_episode[i] = v
    advantages = REFERENCES[method]
    if advantages is None:
        return a_episode
    rows = Rows(group=group, trajectory=trajectory, state=state, next_state=next_state, success=success,
                valid=valid, reward=reward, cost=cost, action=action, spans=spans)
    return advantages(rows, a_episode, o)


PROGRESS_TOLERANCE = 1e-9


def progress_sign(d_state: float, d_next: float, far: float, cost: float, *, loop: bool, valid: bool) -> float:
    """rho of one row (SPEC, method "progpo"): the progress of the step on its group's graph."""
    if loop or not valid:
        return -1.0
    if d_state == far and d_next == far:  # also every row of a group without success (all at D = 1)
        return 0.0
    drop = (d_state - d_next) / cost
    return min(1.0, drop) if drop > PROGRESS_TOLERANCE else -1.0


def _progress(a_episode, group, trajectory, state, success, next_state, valid, cost, action, o) -> list[float]:
    n = len(state)
    dist = reference_distances(group=group, trajectory=trajectory, state=state, success=success,
                               next_state=next_state, cost=cost, action=action, distance=o["distance"],
                               with_far=True)
    nxt = next_nodes(state, next_state, success, trajectory)
    ew, sw = float(o["episode_weight"]), float(o["step_weight"])
    largest: dict[Hashable, float] = defaultdict(float)
    for g, e in zip(group, a_episode):
        largest[g] = max(largest[g], abs(e))
    out = []
    for i in range(n):
        d, far = dist[group[i]]
        c = 1.0 if cost is None else float(cost[i])
        rho = progress_sign(d[state[i]], d[nxt[i]], far, c, loop=nxt[i] == state[i], valid=valid[i])
        out.append(ew * a_episode[i] + sw * rho * (abs(ew) * largest[group[i]] + 1.0))
    return out
