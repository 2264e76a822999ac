"""Plain-Python reference of SPEC "Graph memory across calls": graphgpo advantages over a sequence of calls
that share a memory of earlier edges, as literally as the page states them.

Independent of the C++ engine: the memory is a dict per task of distinct edges (u, v) -> [last seen call,
last cost, first insertion], states are any hashable Python values (SUCCESS is :data:`reference.SUCCESS`),
and the advantages reuse the plain reference's pieces (episode advantage, distances, normalization).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable

from .reference import (
    DEFAULTS,
    SUCCESS,
    _normalize_by,
    _Terminal,
    group_distances,
    next_nodes,
    progress_sign,
    reference_advantages,
)

#: The estimators whose graph distances the memory feeds.
MEMORY_METHODS = ("graphgpo", "progpo")


class MemoryReference:
    """Per task, distinct edges (u, v) with [last seen call, last cost, order of first insertion]."""

    def __init__(self, max_edges_per_task: int | None = None, max_edges: int | None = None,
                 max_age: int | None = None) -> None:
        for name, bound in (("max_edges_per_task", max_edges_per_task), ("max_edges", max_edges),
                            ("max_age", max_age)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 0):
                raise ValueError(f"{name} must be None or an integer >= 0, got {bound!r}")
        self.max_edges_per_task = max_edges_per_task
        self.max_edges = max_edges
        self.max_age = max_age
        self.calls = 0  # successful calls so far; the next call is number calls + 1
        self.insertions = 0  # edges inserted so far (the next one gets this order)
        self.tasks: dict[Hashable, dict[tuple[Hashable, Hashable], list]] = {}

    def snapshot(self) -> dict[Hashable, dict[tuple[Hashable, Hashable], tuple[int, float, int]]]:
        """task -> {(u, v): (last seen call, cost, insertion order)} (a copy)."""
        return {t: {e: tuple(v) for e, v in edges.items()} for t, edges in self.tasks.items()}

    @property
    def num_edges(self) -> int:
        return sum(len(edges) for edges in self.tasks.values())

    def store(self, tasks: list[Hashable], sources: list[Hashable], targets: list[Hashable],
              costs: list[float]) -> None:
        """The update after a successful call: every row's edge in row order, then the bounds."""
        self.calls += 1
        call = self.calls
        for t, u, v, c in zip(tasks, sources, targets, costs):
            if isinstance(v, _Terminal):
                continue  # terminal nodes of failed trajectories are never stored
            edges = self.tasks.setdefault(t, {})
            if (u, v) in edges:
                edges[(u, v)][0] = call
                edges[(u, v)][1] = c
            else:
                edges[(u, v)] = [call, c, self.insertions]
                self.insertions += 1
        if self.max_age is not None:
            for edges in self.tasks.values():
                for e in [e for e, (seen, _, _) in edges.items() if call - seen >= self.max_age]:
                    del edges[e]
        if self.max_edges_per_task is not None:
            for edges in self.tasks.values():
                excess = len(edges) - self.max_edges_per_task
                if excess > 0:
                    for e in sorted(edges, key=lambda e: (edges[e][0], edges[e][2]))[:excess]:
                        del edges[e]
        if self.max_edges is not None:
            everything = [(edges[e][0], edges[e][2], t, e) for t, edges in self.tasks.items() for e in edges]
            excess = len(everything) - self.max_edges
            if excess > 0:
                for _, _, t, e in sorted(everything, key=lambda x: (x[0], x[1]))[:excess]:
                    del self.tasks[t][e]
        self.tasks = {t: edges for t, edges in self.tasks.items() if edges}


def reference_memory_advantages(memory: MemoryReference, method: str, *, group, trajectory, state, success,
                                next_state=None, valid=None, reward=None, cost=None, action=None, task=None,
                                **options) -> list[float]:
    """One advantage per row of this call, per SPEC, then the memory update (nothing changes on error)."""
    if method not in MEMORY_METHODS:
        raise ValueError(f"memory needs a graph-based method ({', '.join(MEMORY_METHODS)}), got {method!r}")
    merge = options.pop("merge", "exact")
    if merge != "exact":
        raise ValueError("memory needs merge='exact'")
    if options.get("distance", "shortest") != "shortest":
        raise ValueError("memory needs distance='shortest'")
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s): {sorted(unknown)}")
    o = {**DEFAULTS, **options}
    n = len(state)
    group = list(group)
    tasks = list(group) if task is None else list(task)
    first_task: dict[Hashable, Hashable] = {}
    for i in range(n):
        if first_task.setdefault(group[i], tasks[i]) != tasks[i]:
            raise ValueError(f"row {i}: task is not constant within group {group[i]}")
    costs = [1.0] * n if cost is None else [float(c) for c in cost]
    targets = next_nodes(state, next_state, success, trajectory)

    # A_E from the call's rows alone (the plain reference's grpo is exactly A_E).
    a_episode = reference_advantages("grpo", group=group, trajectory=trajectory, state=state, success=success,
                                     valid=valid, reward=reward, **options)
    # Distances per group on its rows' edges plus its task's stored edges (the memory before this call).
    rows_by_group: dict[Hashable, list] = defaultdict(list)
    for i in range(n):
        rows_by_group[group[i]].append((state[i], targets[i], costs[i], None))
    dist, far = {}, {}
    for g, rows in rows_by_group.items():
        stored = memory.tasks.get(first_task[g], {})
        union = rows + [(u, v, c, None) for (u, v), (_, c, _) in stored.items()]
        dist[g], far[g] = group_distances(union, has_success=any(v is SUCCESS for _, v, _, _ in union),
                                          expected=False, with_far=True)

    valid = [True] * n if valid is None else [bool(x) for x in valid]
    ew, sw = float(o["episode_weight"]), float(o["step_weight"])
    if method == "progpo":
        largest: dict[Hashable, float] = defaultdict(float)
        for g, e in zip(group, a_episode):
            largest[g] = max(largest[g], abs(e))
        out = []
        for i in range(n):
            d = dist[group[i]]
            rho = progress_sign(d[state[i]], d[targets[i]], far[group[i]], costs[i], loop=targets[i] == state[i],
                                valid=valid[i])
            out.append(ew * a_episode[i] + sw * rho * (abs(ew) * largest[group[i]] + 1.0))
        memory.store(tasks, list(state), targets, costs)
        return out
    sr, ip, omega = float(o["success_reward"]), float(o["invalid_penalty"]), float(o["omega"])
    step_return = [0.0] * n
    for i in range(n):
        d = dist[group[i]]
        if o["normalize_distance"]:
            exponent = d[targets[i]] - d[state[i]] + 1.0
        elif o["convention"] == "paper":
            exponent = d[targets[i]] + costs[i]
        else:
            exponent = d[targets[i]]
        step_return[i] = sr * omega**exponent - (0.0 if valid[i] else ip)
    a_step = _normalize_by(list(zip(group, state)), step_return, o["norm"], float(o["eps"]), singleton_is_zero=True)
    out = [ew * e + sw * s for e, s in zip(a_episode, a_step)]
    memory.store(tasks, list(state), targets, costs)
    return out
