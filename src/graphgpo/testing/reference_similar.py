"""Plain-Python reference of SPEC "Merging similar states" (``merge="similar"``), written the way the official
code is: difflib's ``SequenceMatcher(None, s, r).ratio()``, a greedy first-fit canonicalizer per task with an
exact-match cache (the GraphGPO recipe's ``StateCanonicalizer``), and verl-agent's similarity step groups.
Independent of the engine; the estimators themselves come from ``reference``, whose
``reference_advantages`` calls this module for ``merge="similar"``.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Hashable, Sequence

from .reference import (
    DEFAULTS,
    SUCCESS,
    _normalize_by,
    group_distances,
    next_nodes,
    reference_advantages,
    trajectories,
)


def similar(s, r, threshold: float) -> bool:
    """The official test: difflib ratio of the new state s against the representative r."""
    return difflib.SequenceMatcher(None, s, r).ratio() >= threshold


class Canonicalizer:
    """Greedy first-fit against representatives in creation order; exact repeats hit the cache."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.representatives: list = []
        self.cache: dict = {}

    def __call__(self, state):
        if state not in self.cache:
            rep = next((r for r in self.representatives if similar(state, r, self.threshold)), None)
            if rep is None:
                self.representatives.append(state)
                rep = state
            self.cache[state] = rep
        return self.cache[state]


def graph_canonical_states(group, trajectory, state, success, next_state, threshold) -> dict[Hashable, dict]:
    """Per group: state -> representative, visiting each row's state then its next state in row order (the
    next row's state when no next state is given; nothing for SUCCESS and terminal endings)."""
    canon: dict[Hashable, Canonicalizer] = {}
    for _, lo, hi in trajectories(trajectory):
        c = canon.setdefault(group[lo], Canonicalizer(threshold))
        for i in range(lo, hi):
            c(state[i])
            if i + 1 < hi:
                c(next_state[i] if next_state is not None else state[i + 1])
            elif not success[i] and next_state is not None:
                c(next_state[i])
    return {g: c.cache for g, c in canon.items()}


def step_group_representatives(group, state, threshold) -> list:
    """verl-agent's similarity step groups: per group, start states only, in row order."""
    canon: dict[Hashable, Canonicalizer] = {}
    return [canon.setdefault(g, Canonicalizer(threshold))(s) for g, s in zip(group, state)]


def reference_similar_advantages(method: str, *, group, trajectory, state, success, next_state=None, valid=None,
                                 reward=None, cost=None, action=None, similarity: float = 0.95,
                                 **options) -> list[float]:
    """One advantage per row with merge="similar" (states are str, or bytes, never mixed)."""
    group, trajectory = list(group), list(trajectory)
    state = list(state)
    next_state = None if next_state is None else list(next_state)
    success = [bool(x) for x in success]
    rows = {"group": group, "trajectory": trajectory, "success": success, "valid": valid, "reward": reward,
            "cost": cost, "action": action}
    if method == "grpo":
        return reference_advantages("grpo", state=state, next_state=next_state, **rows, **options)
    if method == "gigpo":
        # Only the step groups change: rows whose start states share a representative.
        reps = [(g, r) for g, r in zip(group, step_group_representatives(group, state, similarity))]
        return reference_advantages("gigpo", state=reps, next_state=None, **rows, **options)
    if method == "progpo":
        # The graph of merged nodes: every state replaced by its representative (SUCCESS and terminal
        # nodes stay themselves, as reference_advantages makes them).
        maps = graph_canonical_states(group, trajectory, state, success, next_state, similarity)
        node_of = [maps[g].get(s, s) for g, s in zip(group, state)]
        next_of = None if next_state is None else [maps[g].get(t, t) for g, t in zip(group, next_state)]
        return reference_advantages("progpo", state=node_of, next_state=next_of, **rows, **options)
    if method != "graphgpo":
        raise ValueError(f"unknown method {method!r}")
    o = {**DEFAULTS, **options}
    n = len(state)
    valid = [True] * n if valid is None else [bool(x) for x in valid]
    a_episode = reference_advantages("grpo", state=state, next_state=next_state, **rows, **options)
    # The graph: every state replaced by its representative; SUCCESS and terminal nodes stay themselves.
    maps = graph_canonical_states(group, trajectory, state, success, next_state, similarity)
    nxt = next_nodes(state, next_state, success, trajectory)
    node_of = [maps[g].get(s, s) for g, s in zip(group, state)]
    next_of = [maps[g].get(t, t) if isinstance(t, (str, bytes)) else t for g, t in zip(group, nxt)]
    by_group: dict[Hashable, list] = defaultdict(list)
    succeeded: dict[Hashable, bool] = defaultdict(bool)
    for i in range(n):
        c = 1.0 if cost is None else float(cost[i])
        a = None if action is None else action[i]
        by_group[group[i]].append((node_of[i], next_of[i], c, a))
        succeeded[group[i]] |= success[i]
    dist = {g: group_distances(r, has_success=succeeded[g], expected=o["distance"] == "expected")
            for g, r in by_group.items()}
    sr, omega = float(o["success_reward"]), float(o["omega"])
    step_return = []
    for i in range(n):
        d = dist[group[i]]
        if o["normalize_distance"]:
            exponent = d[next_of[i]] - d[node_of[i]] + 1.0
        elif o["convention"] == "paper":
            exponent = d[next_of[i]] + (1.0 if cost is None else float(cost[i]))
        else:
            exponent = d[next_of[i]]
        step_return.append(sr * omega**exponent - (0.0 if valid[i] else float(o["invalid_penalty"])))
    # Step groups stay exact: rows of a group with the very same start state.
    a_step = _normalize_by(list(zip(group, state)), step_return, o["norm"], float(o["eps"]), True)
    ew, sw = float(o["episode_weight"]), float(o["step_weight"])
    return [ew * e + sw * s for e, s in zip(a_episode, a_step)]


def merged_node_count(states: Sequence, threshold: float) -> int:
    """How many representatives the canonicalizer makes of these states (one group, in order)."""
    c = Canonicalizer(threshold)
    for s in states:
        c(s)
    return len(c.representatives)


__all__ = ["SUCCESS", "Canonicalizer", "graph_canonical_states", "merged_node_count",
           "reference_similar_advantages", "similar", "step_group_representatives"]
