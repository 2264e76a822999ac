"""Candidate credit estimators for the new-estimator study (issue 10), vectorized in numpy.

Independent of the engine: graph distances come from :func:`graph_distances` below (SPEC rules: one
SUCCESS node per group, D = largest finite distance + 1, a group without success gives every node 1).
The baselines (grpo, gigpo, graphgpo) are checked against :func:`graphgpo.advantages` in ``check.py``.

Every candidate takes a :class:`Rows` batch and returns one float64 advantage per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR, IP, EPS = 10.0, 0.1, 1e-6


@dataclass
class Rows:
    """One batch: trajectories contiguous and in step order; states are integer ids."""

    group: np.ndarray
    trajectory: np.ndarray
    state: np.ndarray
    next_state: np.ndarray
    success: np.ndarray  # per row
    valid: np.ndarray
    cost: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = self.trajectory
        self.last = np.r_[t[1:] != t[:-1], True]
        self.first = np.r_[True, t[1:] != t[:-1]]


@dataclass
class Graph:
    d_state: np.ndarray  # per row: d(state)
    d_next: np.ndarray  # per row: d(next node) (0 for the SUCCESS edge)
    D: np.ndarray  # per row: the group's unreachable distance
    has_success: np.ndarray  # per row: the group has a success
    u: np.ndarray  # per row: node id of the state
    v: np.ndarray  # per row: node id of the next node


def graph_distances(b: Rows) -> Graph:
    n = len(b.state)
    m = int(max(b.state.max(), b.next_state.max())) + 2
    succ = m - 1
    tgt = np.where(b.last & b.success, succ, b.next_state)
    g = b.group.astype(np.int64)
    keys = np.r_[g * m + b.state, g * m + tgt]
    uniq, inv = np.unique(keys, return_inverse=True)
    u, v = inv[:n], inv[n:]
    cost = np.ones(n) if b.cost is None else b.cost
    d = np.where(uniq % m == succ, 0.0, np.inf)
    while True:
        nd = d.copy()
        np.minimum.at(nd, u, cost + d[v])
        if np.array_equal(nd, d):
            break
        d = nd
    node_group = uniq // m
    _, ginv = np.unique(node_group, return_inverse=True)
    finite = np.where(np.isfinite(d), d, -np.inf)
    gmax = np.full(ginv.max() + 1, -np.inf)
    np.maximum.at(gmax, ginv, finite)
    # A group has a success iff its SUCCESS node exists (distance 0 there).
    has_succ_group = np.zeros(len(gmax), bool)
    has_succ_group[ginv[uniq % m == succ]] = True
    Dg = np.where(has_succ_group, gmax + 1.0, 1.0)
    d = np.where(has_succ_group[ginv], np.where(np.isfinite(d), d, Dg[ginv]), 1.0)
    return Graph(d_state=d[u], d_next=d[v], D=Dg[ginv[u]], has_success=has_succ_group[ginv[u]], u=u, v=v)


# -- normalization -------------------------------------------------------------------------------------

def seg_normalize(keys: np.ndarray, x: np.ndarray, singleton_zero: bool, norm: str = "mean_std") -> np.ndarray:
    """SPEC normalization within segments of equal key (keys: int array or (n, k) int array)."""
    if keys.ndim == 2:
        _, inv = np.unique(keys, axis=0, return_inverse=True)
    else:
        _, inv = np.unique(keys, return_inverse=True)
    inv = inv.reshape(-1)
    cnt = np.bincount(inv).astype(np.float64)
    s = np.bincount(inv, x)
    mean = s / cnt
    var = np.bincount(inv, (x - mean[inv]) ** 2) / np.maximum(cnt - 1, 1)
    std = np.sqrt(var)
    mx = np.full(len(cnt), -np.inf)
    mn = np.full(len(cnt), np.inf)
    np.maximum.at(mx, inv, x)
    np.minimum.at(mn, inv, x)
    single = cnt[inv] == 1
    mean_r, std_r = mean[inv], std[inv]
    if not singleton_zero:
        mean_r = np.where(single, 0.0, mean_r)
        std_r = np.where(single, 1.0, std_r)
    out = (x - mean_r) if norm == "mean" else (x - mean_r) / (std_r + EPS)
    out = np.where(mx[inv] == mn[inv], 0.0, out)
    if not singleton_zero:
        out = np.where(single, x if norm == "mean" else x / (1.0 + EPS), out)
    else:
        out = np.where(single, 0.0, out)
    return out


def group_scale(group: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Divide by the group's root mean square (no centering: a zero stays zero)."""
    _, inv = np.unique(group, return_inverse=True)
    ms = np.bincount(inv, x * x) / np.bincount(inv)
    rms = np.sqrt(ms)[inv]
    return np.where(rms > 0, x / (rms + EPS), 0.0)


# -- shared pieces ---------------------------------------------------------------------------------------

def episode_advantage(b: Rows) -> np.ndarray:
    score = np.where(b.success, SR, 0.0) - IP * (~b.valid)
    return seg_normalize(b.group, score, singleton_zero=False)


def step_keys(b: Rows) -> np.ndarray:
    return np.stack([b.group.astype(np.int64), b.state.astype(np.int64)], 1)


def cost_of(b: Rows) -> np.ndarray:
    return np.ones(len(b.state)) if b.cost is None else b.cost


def progress(b: Rows, g: Graph, self_loop: bool = True) -> np.ndarray:
    """rho = (d(s) - d(s')) / cost clipped to [-1, 1]; 0 where the graph knows nothing (no success in
    the group, or both ends unreachable); a self-loop or invalid action is -1 (it never makes progress)."""
    c = cost_of(b)
    rho = np.clip((g.d_state - g.d_next) / c, -1.0, 1.0)
    rho = np.where(g.has_success, rho, 0.0)
    if self_loop:
        loop = (g.u == g.v) | ~b.valid
        rho = np.where(loop, -1.0, rho)
    return rho


# -- baselines -------------------------------------------------------------------------------------------

def grpo(b: Rows, **_) -> np.ndarray:
    return episode_advantage(b)


def gigpo(b: Rows, gamma: float = 0.95, **_) -> np.ndarray:
    ae = episode_advantage(b)
    r = np.where(b.last & b.success, SR, 0.0)
    ret = np.zeros(len(r))
    running = 0.0
    for i in range(len(r) - 1, -1, -1):
        running = r[i] if b.last[i] else r[i] + gamma * running
        ret[i] = running
    ret = ret - IP * (~b.valid)
    return ae + seg_normalize(step_keys(b), ret, singleton_zero=True)


def graphgpo(b: Rows, omega: float = 0.1, g: Graph | None = None, **_) -> np.ndarray:
    g = g or graph_distances(b)
    ae = episode_advantage(b)
    rs = SR * omega ** g.d_next - IP * (~b.valid)
    return ae + seg_normalize(step_keys(b), rs, singleton_zero=True)


# -- candidates ------------------------------------------------------------------------------------------

def gg_fallback(b: Rows, omega: float = 0.1, **_) -> np.ndarray:
    """GraphGPO, but a singleton step group takes the progress sign rho as its step advantage."""
    g = graph_distances(b)
    ae = episode_advantage(b)
    rs = SR * omega ** g.d_next - IP * (~b.valid)
    keys = step_keys(b)
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    single = np.bincount(inv.reshape(-1))[inv.reshape(-1)] == 1
    a_s = seg_normalize(keys, rs, singleton_zero=True)
    a_s = np.where(single, progress(b, g), a_s)
    return ae + a_s


def pbrs_add(b: Rows, weight: float = 1.0, self_loop: bool = True, **_) -> np.ndarray:
    """A_E + weight * rho (potential-based shaping with Phi = -d, clipped per unit cost)."""
    g = graph_distances(b)
    return episode_advantage(b) + weight * progress(b, g, self_loop)


def pbrs_raw(b: Rows, weight: float = 1.0, **_) -> np.ndarray:
    """A_E + weight * (d(s) - d(s')) unclipped, scaled by the group RMS; invalid rows minus IP."""
    g = graph_distances(b)
    delta = np.where(g.has_success, g.d_state - g.d_next, 0.0) - IP * (~b.valid)
    return episode_advantage(b) + weight * group_scale(b.group, delta)


def value_diff(b: Rows, omega: float = 0.8, center: bool = False, weight: float = 1.0, **_) -> np.ndarray:
    """RewardFlow-style: V = SR * omega^d propagated on the graph; step = V(s') - V(s) - IP*invalid,
    scaled per group (RMS, or mean/std when ``center``), plus A_E."""
    g = graph_distances(b)
    delta = SR * (omega ** g.d_next - omega ** g.d_state) - IP * (~b.valid)
    delta = np.where(g.has_success, delta, -IP * (~b.valid))
    step = seg_normalize(b.group, delta, singleton_zero=False) if center else group_scale(b.group, delta)
    return episode_advantage(b) + weight * step


def td_value(b: Rows, omega: float = 0.8, gamma: float = 0.95, **_) -> np.ndarray:
    """G2PO-style edge TD error with the graph value: gamma V(s') - V(s), standardized over the group."""
    g = graph_distances(b)
    vs, vn = SR * omega ** g.d_state, SR * omega ** g.d_next
    vn = np.where(b.last & b.success, SR, vn)
    delta = np.where(b.last & b.success, SR - vs, gamma * vn - vs) - IP * (~b.valid)
    return episode_advantage(b) + seg_normalize(b.group, delta, singleton_zero=False)


def g2po_mc(b: Rows, gamma: float = 0.95, **_) -> np.ndarray:
    """G2PO-style without distances: V(s) = mean Monte-Carlo return of the visits of s in the group;
    step = r + gamma V(s') - V(s), standardized over the group, plus A_E."""
    g = graph_distances(b)
    r = np.where(b.last & b.success, SR, 0.0)
    ret = np.zeros(len(r))
    running = 0.0
    for i in range(len(r) - 1, -1, -1):
        running = r[i] if b.last[i] else r[i] + gamma * running
        ret[i] = running
    nodes = max(g.u.max(), g.v.max()) + 1
    tot = np.bincount(g.u, ret, minlength=nodes)
    cnt = np.bincount(g.u, minlength=nodes)
    V = np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)
    vn = np.where(b.last, 0.0, V[g.v])
    delta = r + gamma * vn - V[g.u] - IP * (~b.valid)
    return episode_advantage(b) + seg_normalize(b.group, delta, singleton_zero=False)


def progress_mix(b: Rows, self_loop: bool = True, **_) -> np.ndarray:
    """rho + (1 - |rho|) * A_E: the graph's progress sign where the graph knows, the outcome elsewhere."""
    g = graph_distances(b)
    rho = progress(b, g, self_loop)
    return rho + (1.0 - np.abs(rho)) * episode_advantage(b)


def progress_mix_gg(b: Rows, omega: float = 0.1, **_) -> np.ndarray:
    """progress_mix, plus GraphGPO's step term within step groups of two or more rows."""
    g = graph_distances(b)
    rho = progress(b, g)
    rs = SR * omega ** g.d_next - IP * (~b.valid)
    return rho + (1.0 - np.abs(rho)) * episode_advantage(b) + seg_normalize(step_keys(b), rs, True)


def progress_scaled(b: Rows, self_loop: bool = True, **_) -> np.ndarray:
    """A_E + rho * M_g, M_g = the group's largest |A_E|: the step sign decides wherever rho != 0."""
    g = graph_distances(b)
    rho = progress(b, g, self_loop)
    ae = episode_advantage(b)
    _, inv = np.unique(b.group, return_inverse=True)
    m = np.zeros(inv.max() + 1)
    np.maximum.at(m, inv, np.abs(ae))
    return ae + rho * np.maximum(m[inv], 1.0) * 1.01


def gae_graph(b: Rows, lam: float = 0.5, self_loop: bool = True, **_) -> np.ndarray:
    """Generalized advantage over the graph critic: sum_k lam^k rho_{t+k}, plus A_E."""
    g = graph_distances(b)
    rho = progress(b, g, self_loop)
    out = np.zeros(len(rho))
    running = 0.0
    for i in range(len(rho) - 1, -1, -1):
        running = rho[i] + (0.0 if b.last[i] else lam * running)
        out[i] = running
    return episode_advantage(b) + out


CANDIDATES = {
    "grpo": (grpo, {}),
    "gigpo": (gigpo, {"gamma": 0.95}),
    "graphgpo w0.1": (graphgpo, {"omega": 0.1}),
    "graphgpo w0.8": (graphgpo, {"omega": 0.8}),
    "gg+fallback": (gg_fallback, {"omega": 0.1}),
    "A_E+rho": (pbrs_add, {"weight": 1.0}),
    "A_E+rho noloop": (pbrs_add, {"weight": 1.0, "self_loop": False}),
    "A_E+3rho": (pbrs_add, {"weight": 3.0}),
    "A_E+dd/rms": (pbrs_raw, {}),
    "valuediff w0.8": (value_diff, {"omega": 0.8}),
    "valuediff w0.8 ctr": (value_diff, {"omega": 0.8, "center": True}),
    "td w0.8": (td_value, {"omega": 0.8}),
    "g2po-mc": (g2po_mc, {}),
    "mix": (progress_mix, {}),
    "mix noloop": (progress_mix, {"self_loop": False}),
    "mix+gg": (progress_mix_gg, {}),
    "A_E+rho*M": (progress_scaled, {}),
    "gae0.5": (gae_graph, {"lam": 0.5}),
}


# -- second round: the step sign outranks the outcome ----------------------------------------------------

def progress3(b: Rows, g: Graph | None = None) -> np.ndarray:
    """Ternary-ish progress: (d(s) - d(s')) / cost where the distance drops on the graph; -1 where it does
    not (lateral, backward, into an unreachable node), for self-loops and invalid actions everywhere;
    0 where the graph knows nothing (group without success, or a move between two unreachable nodes)."""
    g = g or graph_distances(b)
    c = cost_of(b)
    drop = g.d_next < g.d_state
    rho = np.where(drop, np.minimum((g.d_state - g.d_next) / c, 1.0), -1.0)
    unknown = ~g.has_success | ((g.d_state == g.D) & (g.d_next == g.D))
    rho = np.where(unknown, 0.0, rho)
    loop = (g.u == g.v) | ~b.valid
    return np.where(loop, -1.0, rho)


def outrank(b: Rows, scale: str = "row", lateral: bool = True, **_) -> np.ndarray:
    """A_E + rho * (|A_E| + 1) ('row') or A_E + rho * (max_group |A_E| + 1) ('group')."""
    g = graph_distances(b)
    rho = progress3(b, g) if lateral else progress(b, g)
    ae = episode_advantage(b)
    if scale == "row":
        k = np.abs(ae) + 1.0
    elif scale == "group":
        _, inv = np.unique(b.group, return_inverse=True)
        m = np.zeros(inv.max() + 1)
        np.maximum.at(m, inv, np.abs(ae))
        k = m[inv] + 1.0
    else:
        k = float(scale)
    return ae + rho * k


CANDIDATES.update({
    "outrank row": (outrank, {"scale": "row"}),
    "outrank group": (outrank, {"scale": "group"}),
    "outrank 3": (outrank, {"scale": 3.0}),
    "outrank row nolat": (outrank, {"scale": "row", "lateral": False}),
})


def engine(method: str, **opts):
    """A method of the engine (graphgpo.advantages), for checking the chosen candidate's implementation."""
    def fn(b: Rows, **_) -> np.ndarray:
        import graphgpo

        return graphgpo.advantages(method, group=b.group, trajectory=b.trajectory, state=b.state,
                                   next_state=b.next_state, success=b.success, valid=b.valid, cost=b.cost,
                                   **opts)
    return fn


CANDIDATES["progpo (engine)"] = (engine("progpo"), {})


def outrank_quiet(b: Rows, **_) -> np.ndarray:
    """outrank group, but a group without a success keeps only rho * K (its A_E holds nothing but the
    invalid penalties, which rho already charges)."""
    g = graph_distances(b)
    rho = progress3(b, g)
    ae = episode_advantage(b)
    _, inv = np.unique(b.group, return_inverse=True)
    m = np.zeros(inv.max() + 1)
    np.maximum.at(m, inv, np.abs(ae))
    return np.where(g.has_success, ae, 0.0) + rho * (m[inv] + 1.0)


CANDIDATES["outrank quiet"] = (outrank_quiet, {})
