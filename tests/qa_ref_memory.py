"""QA red team: an independent plain-Python reading of SPEC "Graph memory across calls" (on top of qa_ref).

The memory holds, per task, distinct edges (u, v) with (last call seen, last cost, first-insertion order).
A call: each group's graph is its rows' edges plus its task's stored edges as before the call; distances
and D on that union; advantages for the rows only. After the call every row's edge is stored in row order
(terminal edges never), then max_age, then max_edges_per_task, then max_edges, each dropping the least
recently seen edges first (ties: earliest first insertion first).
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import qa_ref


class QaMemory:
    def __init__(self, max_edges_per_task=None, max_edges=None, max_age=None):
        self.max_edges_per_task, self.max_edges, self.max_age = max_edges_per_task, max_edges, max_age
        self.tasks: dict = {}  # task -> {(u, v): [last_call, cost, order]}
        self.calls = 0
        self._order = itertools.count()

    def snapshot(self):
        return copy.deepcopy(self.tasks)

    def edges(self, task):
        return [(u, v, c) for (u, v), (_, c, _) in self.tasks.get(task, {}).items()]

    def num_edges(self):
        return sum(len(t) for t in self.tasks.values())

    def store(self, rows_edges):
        """rows_edges: [(task, u, v, cost)] in row order (terminal edges already left out)."""
        self.calls += 1
        call = self.calls
        for task, u, v, c in rows_edges:
            edges = self.tasks.setdefault(task, {})
            if (u, v) in edges:
                edges[(u, v)][0] = call
                edges[(u, v)][1] = c
            else:
                edges[(u, v)] = [call, c, next(self._order)]
        if self.max_age is not None:
            for edges in self.tasks.values():
                for key in [k for k, (seen, _, _) in edges.items() if call - seen >= self.max_age]:
                    del edges[key]
        if self.max_edges_per_task is not None:
            for edges in self.tasks.values():
                excess = len(edges) - self.max_edges_per_task
                if excess > 0:
                    for key in sorted(edges, key=lambda k: (edges[k][0], edges[k][2]))[:excess]:
                        del edges[key]
        if self.max_edges is not None:
            excess = self.num_edges() - self.max_edges
            if excess > 0:
                everything = [(e[0], e[2], task, key) for task, edges in self.tasks.items()
                              for key, e in edges.items()]
                for _, _, task, key in sorted(everything, key=lambda x: (x[0], x[1]))[:excess]:
                    del self.tasks[task][key]
        self.tasks = {t: e for t, e in self.tasks.items() if e}


def advantages(method, memory: QaMemory, *, task=None, group, trajectory, state, success, next_state=None,
               valid=None, reward=None, cost=None, key=None, **options):
    """Advantages with memory (graphgpo or progpo); updates `memory` like a successful call."""
    assert method in ("graphgpo", "progpo")
    n = len(group)
    if key is not None:
        state = [key(s) for s in state]
        next_state = None if next_state is None else [None if s is None else key(s) for s in next_state]
    tasks = list(group) if task is None else list(task)
    group_task = {}
    for g, t in zip(group, tasks):
        assert group_task.setdefault(int(g), t) == t, "task not constant in a group"
    stored = {t: memory.edges(t) for t in set(tasks)}

    def extra_edges(g):
        return [(("S", u), qa_ref.SUCCESS if v == "SUCCESS" else ("S", v), c, None)
                for u, v, c in stored[group_task[g]]]

    out = qa_ref.advantages(method, group=group, trajectory=trajectory, state=state, success=success,
                            next_state=next_state, valid=valid, reward=reward, cost=cost,
                            extra_edges=extra_edges, **options)
    # store every row's edge (terminals never)
    _, group_rows = qa_ref._split_groups(group)
    opts = {**qa_ref.DEFAULTS, **options}
    dst_of = {}
    for rows in group_rows.values():
        _, _, src, dst = qa_ref.group_graph(rows, trajectory, state, next_state, [bool(s) for s in success],
                                            cost, None, opts)
        for i in rows:
            dst_of[i] = (src[i], dst[i])
    rows_edges = []
    for i in range(n):
        u, v = dst_of[i]
        if v[0] == "T":
            continue
        rows_edges.append((tasks[i], u[1], "SUCCESS" if v == qa_ref.SUCCESS else v[1],
                           1.0 if cost is None else float(cost[i])))
    memory.store(rows_edges)
    return np.asarray(out)
