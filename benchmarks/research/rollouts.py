"""Lockstep rollouts on a :class:`~benchmarks.research.tasks.Table` and the credit-accuracy metric."""

from __future__ import annotations

import numpy as np

from .estimators import Rows


def play(table, level_ids: np.ndarray, rollouts: int, choose, rng: np.random.Generator) -> tuple[Rows, dict]:
    """``rollouts`` episodes from each level's start; ``choose(states, rng) -> actions``.

    Episodes end on a goal, a dead state or after ``table.max_steps`` steps. Returns the rows (group =
    position in ``level_ids``) and extras: per-row action and per-episode success.
    """
    starts = np.repeat(table.starts[level_ids], rollouts)
    groups = np.repeat(np.arange(len(level_ids)), rollouts)
    n, horizon = len(starts), table.max_steps
    s = starts.copy()
    alive = np.ones(n, bool)
    S = np.zeros((n, horizon), np.int64)
    N = np.zeros((n, horizon), np.int64)
    A = np.zeros((n, horizon), np.int64)
    mask = np.zeros((n, horizon), bool)
    win = np.zeros(n, bool)
    for t in range(horizon):
        idx = np.nonzero(alive)[0]
        if idx.size == 0:
            break
        a = choose(s[idx], rng)
        s2 = table.next[s[idx], a]
        S[idx, t], N[idx, t], A[idx, t], mask[idx, t] = s[idx], s2, a, True
        s[idx] = s2
        won = table.goal[s2]
        win[idx[won]] = True
        alive[idx[won | table.dead[s2]]] = False
    lengths = mask.sum(1)
    state, nxt, act = S[mask], N[mask], A[mask]
    rows = Rows(group=np.repeat(groups, lengths), trajectory=np.repeat(np.arange(n), lengths), state=state,
                next_state=nxt, success=np.repeat(win, lengths), valid=table.valid[state, act])
    return rows, {"action": act, "episode_success": win}


def noisy_optimal(table, p: float):
    """Each step: an optimal action (ties at random) with probability p, else uniform over all actions."""
    dn = table.dist[table.next]  # [S, A]
    dn = np.where(table.valid, dn, np.inf)
    best = dn == dn.min(1, keepdims=True)
    best &= np.isfinite(dn)
    best[~best.any(1)] = True  # dead ends: every action counts as "optimal" (uniform)

    def choose(states, rng):
        k = table.num_actions
        u = rng.random((len(states), k)) * best[states]
        greedy = u.argmax(1)
        rand = rng.integers(0, k, len(states))
        return np.where(rng.random(len(states)) < p, greedy, rand)

    return choose


def credit(table, rows: Rows, adv: np.ndarray) -> tuple[float, float]:
    """(strict, half): share of steps whose advantage is positive exactly when the true distance drops;
    'half' counts an advantage of exactly 0 as half right (the demo's metric)."""
    prog = table.dist[rows.next_state] < table.dist[rows.state]
    strict = float(np.mean((adv > 0) == prog))
    agree = np.where(prog, adv > 0, adv < 0).astype(float)
    agree[adv == 0] = 0.5
    return strict, float(agree.mean())
