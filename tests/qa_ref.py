"""An independent plain-Python implementation of SPEC.md, written by the QA red team from the SPEC text and
/work/shared/notes alone (not from the engine, tests/reference*.py or graphgpo.testing), so that the
engine and the team's own references can be checked against a second reading of the contract.

Similar-state merging follows the official code's decisions as the notes describe them: a greedy first-fit
against first-seen representatives with ``difflib.SequenceMatcher(None, new, rep).ratio() >= threshold``, an
exact-match cache, rows visited in batch order (state, then next state). Expected distances are solved
exactly (policy iteration with linear solves) instead of by value iteration, so that a tolerance bug in the
engine's iteration shows.
"""

from __future__ import annotations

import difflib
import functools
import heapq
import math
from collections import defaultdict

import numpy as np

DEFAULTS = {
    "omega": 0.1, "gamma": 0.95, "success_reward": 10.0, "invalid_penalty": 0.1, "step_weight": 1.0,
    "episode_weight": 1.0, "norm": "mean_std", "eps": 1e-6, "convention": "reference",
    "episode_stats": "per_step", "normalize_distance": False, "distance": "shortest", "merge": "exact",
    "similarity": 0.95,
}

SUCCESS = ("SUCCESS",)


@functools.lru_cache(maxsize=1 << 16)
def ratio(new, rep) -> float:
    """SPEC's similarity: the new state first, the representative second (autojunk looks at the second)."""
    return difflib.SequenceMatcher(None, new, rep).ratio()


class Canonicalizer:
    """Greedy first-fit merger of one group's states (the official recipe's StateCanonicalizer)."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.reps: list = []
        self.cache: dict = {}

    def node(self, text) -> int:
        if text in self.cache:
            return self.cache[text]
        for i, rep in enumerate(self.reps):
            if ratio(text, rep) >= self.threshold:
                self.cache[text] = i
                return i
        self.reps.append(text)
        self.cache[text] = len(self.reps) - 1
        return self.cache[text]


def exact_id(state):
    """Exact identity of a state: a str is its UTF-8 bytes (so "b" and b"b" are one state)."""
    if isinstance(state, str):
        return ("b", state.encode("utf-8"))
    if isinstance(state, (bytes, bytearray)):
        return ("b", bytes(state))
    if isinstance(state, (int, np.integer)):
        return ("i", int(state))
    if isinstance(state, tuple):
        return ("t", state)
    raise TypeError(f"qa_ref: unsupported state {state!r}")


def normalize(values, norm: str, eps: float, *, single_is_zero: bool) -> list[float]:
    n = len(values)
    if n == 0:
        return []
    if n == 1:
        if single_is_zero:
            return [0.0]
        mean, std = 0.0, 1.0
        return [values[0] - mean if norm == "mean" else (values[0] - mean) / (std + eps)]
    if all(v == values[0] for v in values):
        return [0.0] * n
    mean = sum(values) / n
    if norm == "mean":
        return [v - mean for v in values]
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return [(v - mean) / (std + eps) for v in values]


def _shortest(nodes, edges, has_success: bool):
    """Dijkstra to SUCCESS over edges (u, v, cost). Returns (d, D)."""
    if not has_success:
        return {u: 1.0 for u in nodes}, 1.0
    rev = defaultdict(list)
    for u, v, c, _a in edges:
        rev[v].append((u, c))
    dist = {SUCCESS: 0.0}
    heap = [(0.0, 0, SUCCESS)]
    counter = 1
    done = set()
    while heap:
        d, _, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        for u, c in rev[v]:
            nd = d + c
            if u not in dist or nd < dist[u]:
                dist[u] = nd
                heapq.heappush(heap, (nd, counter, u))
                counter += 1
    big = max(dist.values()) + 1.0
    return {u: dist.get(u, big) for u in nodes}, big


def _expected_backups(nodes, edges, big):
    """SPEC's solver, literally: Bellman backups (all nodes from the previous sweep) starting from D,
    clamped at D, until the largest change is below 1e-12."""
    groups = defaultdict(list)
    for u, v, c, a in edges:
        groups[(u, a)].append((v, c))
    model = defaultdict(list)
    for (u, _a), outs in groups.items():
        counts: dict = defaultdict(int)
        for v, _ in outs:
            counts[v] += 1
        model[u].append((sum(c for _, c in outs) / len(outs), dict(counts), len(outs)))
    d = {u: (0.0 if u == SUCCESS else big) for u in nodes}
    while True:
        new = dict(d)
        change = 0.0
        for u, choices in model.items():
            best = big
            for cost, counts, total in choices:
                best = min(best, cost + sum(k * d[v] for v, k in counts.items()) / total)
            new[u] = best
            change = max(change, abs(best - d[u]))
        d = new
        if change < 1e-12:
            return d


def expected_exact(nodes, edges, big):
    """d(s) = min(D, min_a [c(s,a) + sum_s' p(s'|s,a) d(s')]), solved exactly by policy iteration."""
    return _expected(nodes, edges, None, big)


def _expected(nodes, edges, d_short, big):
    """d(s) = min(D, min_a [c(s,a) + sum_s' p(s'|s,a) d(s')]), solved exactly by policy iteration."""
    groups = defaultdict(list)  # (s, a) -> [(v, c)]
    for u, v, c, a in edges:
        groups[(u, a)].append((v, c))
    states = [u for u in nodes if u != SUCCESS]
    index = {u: i for i, u in enumerate(states)}
    actions = defaultdict(list)
    for (u, _a), outs in groups.items():
        mean_cost = sum(c for _, c in outs) / len(outs)
        probs = defaultdict(float)
        for v, _ in outs:
            probs[v] += 1.0 / len(outs)
        actions[u].append((mean_cost, dict(probs)))
    # Policy: None = stop at D (the clamp); else an action index. Start from "stop" everywhere (proper).
    policy = {u: None for u in states}

    def evaluate():
        n = len(states)
        mat = np.eye(n)
        rhs = np.zeros(n)
        for u in states:
            i = index[u]
            choice = policy[u]
            if choice is None:
                rhs[i] = big
                continue
            cost, probs = actions[u][choice]
            rhs[i] = cost
            for v, p in probs.items():
                if v == SUCCESS:
                    continue
                mat[i, index[v]] -= p
        sol = np.linalg.solve(mat, rhs) if n else np.zeros(0)
        return {u: float(sol[index[u]]) for u in states} | {SUCCESS: 0.0}

    for _ in range(1000):
        value = evaluate()
        changed = False
        for u in states:
            best, best_choice = big, None
            for k, (cost, probs) in enumerate(actions[u]):
                q = cost + sum(p * value[v] for v, p in probs.items())
                if q < best - 1e-13 * max(1.0, big):
                    best, best_choice = q, k
            current = value[u]
            if best_choice != policy[u] and best < current - 1e-13 * max(1.0, big):
                policy[u] = best_choice
                changed = True
        if not changed:
            return {u: min(big, value[u]) for u in nodes}
    raise RuntimeError("qa_ref: policy iteration did not converge")


def _split_groups(group):
    rows = defaultdict(list)
    order = []
    for i, g in enumerate(group):
        g = int(g)
        if g not in rows:
            order.append(g)
        rows[g].append(i)
    return order, rows


def _trajectories(rows, trajectory):
    """Trajectories of a group's rows as lists of row indices (contiguous runs)."""
    out: list[list[int]] = []
    last = object()
    for i in rows:
        t = int(trajectory[i])
        if out and t == last:
            out[-1].append(i)
        else:
            out.append([i])
            last = t
    return out


def group_graph(rows, trajectory, state, next_state, success, cost, action, opts):
    """Nodes, edges and per-row (source node, target node) of one group (merging applied)."""
    similar = opts["merge"] == "similar"
    canon = Canonicalizer(opts["similarity"]) if similar else None

    def node_of(s):
        if similar:
            return ("S", canon.node(s))
        return ("S", exact_id(s))

    src, dst = {}, {}
    for traj in _trajectories(rows, trajectory):
        for pos, i in enumerate(traj):
            last = pos == len(traj) - 1
            src[i] = node_of(state[i])
            given = None if next_state is None else next_state[i]
            if last and success[i]:
                dst[i] = SUCCESS
            elif given is not None:
                dst[i] = node_of(given)
            elif not last:
                dst[i] = node_of(state[traj[pos + 1]])
            else:
                dst[i] = ("T", int(trajectory[i]))
    nodes = []
    seen = set()
    for i in rows:
        for u in (src[i], dst[i]):
            if u not in seen:
                seen.add(u)
                nodes.append(u)
    if SUCCESS not in seen:
        nodes.append(SUCCESS)
    edges = [(src[i], dst[i], 1.0 if cost is None else float(cost[i]),
              None if action is None else action[i]) for i in rows]
    return nodes, edges, src, dst


def group_distances(rows, trajectory, state, next_state, success, cost, action, opts, backups=True,
                    extra_edges=()):
    """Distances of one group's nodes; ``extra_edges`` (graph memory: stored edges of the group's task)
    join the graph, so distances and D are computed on the union."""
    nodes, edges, src, dst = group_graph(rows, trajectory, state, next_state, success, cost, action, opts)
    if extra_edges:
        edges = edges + list(extra_edges)
        seen = set(nodes)
        for u, v, _, _ in extra_edges:
            for x in (u, v):
                if x not in seen:
                    seen.add(x)
                    nodes.append(x)
    has_success = any(v == SUCCESS for _, v, _, _ in edges)
    d, big = _shortest(nodes, edges, has_success)
    if opts["distance"] == "expected" and has_success:
        d = _expected_backups(nodes, edges, big) if backups else _expected(nodes, edges, d, big)
    return d, big, src, dst


def advantages(method, *, group, trajectory, state, success, next_state=None, valid=None, reward=None,
               cost=None, action=None, key=None, extra_edges=None, **options):
    opts = {**DEFAULTS, **options}
    n = len(group)
    if key is not None:
        state = [key(s) for s in state]
        next_state = None if next_state is None else [None if s is None else key(s) for s in next_state]
    success = [bool(s) for s in success]
    valid = [True] * n if valid is None else [bool(v) for v in valid]
    out = np.zeros(n)
    order, group_rows = _split_groups(group)
    sr, pen = float(opts["success_reward"]), float(opts["invalid_penalty"])
    norm, eps = opts["norm"], float(opts["eps"])
    ew, sw = float(opts["episode_weight"]), float(opts["step_weight"])
    for g in order:
        rows = group_rows[g]
        trajs = _trajectories(rows, trajectory)
        # rewards per row
        rew = {}
        for traj in trajs:
            for pos, i in enumerate(traj):
                if reward is not None:
                    rew[i] = float(reward[i])
                else:
                    rew[i] = sr if (pos == len(traj) - 1 and success[i]) else 0.0
        ep = {}
        for traj in trajs:
            total = sum(rew[i] for i in traj)
            for i in traj:
                ep[i] = total
        # episode advantage
        if opts["episode_stats"] == "per_step":
            scores = [ep[i] - (0.0 if valid[i] else pen) for i in rows]
            a_e = dict(zip(rows, normalize(scores, norm, eps, single_is_zero=False)))
        else:
            tscores = [ep[t[0]] - pen * sum(1 for i in t if not valid[i]) for t in trajs]
            normed = normalize(tscores, norm, eps, single_is_zero=False)
            a_e = {i: normed[k] for k, t in enumerate(trajs) for i in t}
        if method == "grpo":
            for i in rows:
                out[i] = a_e[i]
            continue
        if method == "progpo":
            d, big, src, dst = group_distances(rows, trajectory, state, next_state, success, cost, action, opts,
                                               extra_edges=extra_edges(g) if extra_edges else ())
            m = max(abs(a_e[i]) for i in rows)
            k_scale = abs(ew) * m + 1.0
            for i in rows:
                u, v = src[i], dst[i]
                c = 1.0 if cost is None else float(cost[i])
                if not valid[i] or u == v:
                    rho = -1.0
                elif d[u] == big and d[v] == big:
                    rho = 0.0
                else:
                    q = (d[u] - d[v]) / c
                    rho = min(1.0, q) if q > 1e-9 else -1.0
                out[i] = ew * a_e[i] + sw * rho * k_scale
            continue
        # step returns and step groups
        r_s = {}
        if method == "gigpo":
            for traj in trajs:
                acc = 0.0
                for i in reversed(traj):
                    acc = rew[i] + opts["gamma"] * acc
                    r_s[i] = acc - (0.0 if valid[i] else pen)
            if opts["merge"] == "similar":
                canon = Canonicalizer(opts["similarity"])
                sg = {i: canon.node(state[i]) for i in rows}
            else:
                sg = {i: exact_id(state[i]) for i in rows}
        elif method == "graphgpo":
            d, big, src, dst = group_distances(rows, trajectory, state, next_state, success, cost, action, opts,
                                               extra_edges=extra_edges(g) if extra_edges else ())
            omega = float(opts["omega"])
            for i in rows:
                c = 1.0 if cost is None else float(cost[i])
                u, v = src[i], dst[i]
                if opts["normalize_distance"]:
                    expo = d[v] - d[u] + 1.0
                elif opts["convention"] == "paper":
                    expo = d[v] + c
                else:
                    expo = d[v]
                r_s[i] = sr * omega ** expo - (0.0 if valid[i] else pen)
            sg = {i: exact_id(state[i]) for i in rows}
        else:
            raise ValueError(method)
        buckets = defaultdict(list)
        for i in rows:
            buckets[sg[i]].append(i)
        a_s = {}
        for members in buckets.values():
            for i, v in zip(members, normalize([r_s[i] for i in members], norm, eps, single_is_zero=True)):
                a_s[i] = v
        for i in rows:
            out[i] = ew * a_e[i] + sw * a_s[i]
    return out
