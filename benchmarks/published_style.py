"""GRPO, GiGPO and GraphGPO written the way the published research code is written.

This is the "published style" baseline of the benchmarks: it follows the structure of verl-agent's GiGPO
functions and of the official GraphGPO recipe (it is written from their description, not copied):

- rows are found per group and per trajectory with ``np.where(ids == id)`` over the *whole* batch, so the
  cost grows with (number of trajectories) x (number of rows), i.e. quadratically in the batch size;
- scores and states are grouped into dicts of lists keyed by the raw state values;
- the distance to success is a ``heapq`` Dijkstra per group on a dict-of-lists reverse graph;
- normalization is a Python loop over rows with per-id mean/std dicts.

With ``similarity`` set (SPEC "Merging similar states") it merges similar text states the official way:
graphgpo's graph nodes through a ``StateCanonicalizer`` per task (greedy first-fit of each new state against
the representatives in creation order with ``difflib.SequenceMatcher(None, s, r).ratio() >= similarity``,
an exact-match cache in front; rows in batch order, state then next state) while its step groups stay exact,
and gigpo's step groups through verl-agent's ``build_step_group(..., enable_similarity=True)`` loop (start
states only, every row compared again, no cache).

Unlike the published code it computes in float64 and follows SPEC.md exactly, so it returns the same
numbers as ``graphgpo.testing.reference`` (the tests check this) and the timing comparison is fair. It covers the
defaults of SPEC plus the knobs the published code has (omega, gamma, rewards, penalty, weights, norm, eps);
per-step rewards, costs, actions and the non-default conventions are out of scope.
"""

from __future__ import annotations

import difflib
import heapq
import math
from collections import defaultdict

import numpy as np

METHODS = ("grpo", "gigpo", "graphgpo")


class _Success:
    """The SUCCESS node of a group (compared by identity)."""

    def __repr__(self) -> str:
        return "SUCCESS"


class _Terminal:
    """The node a failed trajectory without a given next state ends in (one object per trajectory)."""

    def __repr__(self) -> str:
        return "TERMINAL"


SUCCESS = _Success()


def group_normalize(scores, index, *, norm: str, eps: float, singleton_is_zero: bool) -> np.ndarray:
    """Normalize ``scores`` within each id of ``index`` (the verl-agent way: id -> list, then a row loop).

    A one-row id gets mean 0 / std 1, or 0 when ``singleton_is_zero``; an id whose values are all equal gets 0.
    """
    bsz = len(scores)
    id2score = defaultdict(list)
    for i in range(bsz):
        id2score[index[i]].append(scores[i])
    id2mean, id2std, zero_ids = {}, {}, set()
    for idx, values in id2score.items():
        n = len(values)
        if n == 1:
            if singleton_is_zero:
                zero_ids.add(idx)
            id2mean[idx], id2std[idx] = 0.0, 1.0
        elif all(v == values[0] for v in values):
            zero_ids.add(idx)
        else:
            mean = sum(values) / n
            id2mean[idx] = mean
            id2std[idx] = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    out = np.zeros(bsz, dtype=np.float64)
    for i in range(bsz):
        idx = index[i]
        if idx in zero_ids:
            continue
        if norm == "mean":
            out[i] = scores[i] - id2mean[idx]
        else:
            out[i] = (scores[i] - id2mean[idx]) / (id2std[idx] + eps)
    return out


def step_rewards(trajectory: np.ndarray, success: np.ndarray, success_reward: float) -> np.ndarray:
    """Default per-step rewards: ``success_reward`` on the last row of each successful trajectory."""
    rewards = np.zeros(len(trajectory), dtype=np.float64)
    for traj in np.unique(trajectory):
        locs = np.where(trajectory == traj)[0]
        if success[locs[-1]]:
            rewards[locs[-1]] = success_reward
    return rewards


def episode_scores(trajectory, valid, rewards, invalid_penalty: float) -> list[float]:
    """Per row: its trajectory's episode reward, minus the penalty if the row's action was invalid."""
    scores = [0.0] * len(trajectory)
    for traj in np.unique(trajectory):
        locs = np.where(trajectory == traj)[0]
        total = sum(float(rewards[k]) for k in locs)
        for k in locs:
            scores[k] = total - (0.0 if valid[k] else invalid_penalty)
    return scores


def discounted_returns(trajectory, rewards, gamma: float) -> list[float]:
    """GiGPO step returns: discounted sum of the remaining rewards of the row's trajectory."""
    returns = [0.0] * len(trajectory)
    for traj in np.unique(trajectory):
        locs = np.where(trajectory == traj)[0]
        running = 0.0
        for k in reversed(locs.tolist()):
            running = float(rewards[k]) + gamma * running
            returns[k] = running
    return returns


def next_nodes(trajectory, state, success, next_state=None) -> list:
    """Each row's destination node: the next row's state, SUCCESS, a given next state, or a terminal."""
    nodes: list = [None] * len(trajectory)
    for traj in np.unique(trajectory):
        locs = np.where(trajectory == traj)[0].tolist()
        for j, k in enumerate(locs):
            if j + 1 < len(locs):
                nodes[k] = next_state[k] if next_state is not None else state[locs[j + 1]]
            elif success[k]:
                nodes[k] = SUCCESS
            elif next_state is not None:
                nodes[k] = next_state[k]
            else:
                nodes[k] = _Terminal()
    return nodes


def shortest_distances(edges: list[tuple]) -> dict:
    """Dijkstra from SUCCESS over the reversed edges (unit costs) of one group; unreachable nodes get D."""
    reverse = defaultdict(list)
    nodes = {SUCCESS}
    for src, dst in edges:
        reverse[dst].append(src)
        nodes.add(src)
        nodes.add(dst)
    dist = {SUCCESS: 0.0}
    heap = [(0.0, 0, SUCCESS)]
    counter = 1
    finished = set()
    while heap:
        d, _, node = heapq.heappop(heap)
        if node in finished:
            continue
        finished.add(node)
        for src in reverse[node]:
            candidate = d + 1.0
            if candidate < dist.get(src, math.inf):
                dist[src] = candidate
                heapq.heappush(heap, (candidate, counter, src))
                counter += 1
    unreachable = max(dist.values()) + 1.0
    for node in nodes:
        if node not in dist:
            dist[node] = unreachable
    return dist


def are_similar(a, b, threshold: float) -> bool:
    """verl-agent's test: difflib's ratio of the new observation against the cluster's representative."""
    return difflib.SequenceMatcher(None, a, b).ratio() >= threshold


class StateCanonicalizer:
    """The GraphGPO recipe's canonicalizer (one per task per batch): an exact-match cache, then greedy
    first-fit against the first-seen representatives."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.representatives: list = []
        self.cache: dict = {}

    def canonical(self, obs):
        if obs in self.cache:
            return self.cache[obs]
        for rep in self.representatives:
            if are_similar(obs, rep, self.threshold):
                self.cache[obs] = rep
                return rep
        self.representatives.append(obs)
        self.cache[obs] = obs
        return obs


def graph_step_returns(
    group, trajectory, state, success, valid, next_state, *, omega: float, success_reward: float,
    similarity: float | None = None,
) -> list[float]:
    """GraphGPO step returns ``success_reward * omega ** d(next)``, with one graph per group."""
    nxt = next_nodes(trajectory, state, success, next_state)
    returns = [0.0] * len(group)
    for g in np.unique(group):
        locs = np.where(group == g)[0].tolist()
        if not any(success[k] for k in locs):
            for k in locs:
                returns[k] = success_reward * omega**1.0
            continue
        if similarity is None:
            edges = [(state[k], nxt[k]) for k in locs]
        else:
            canon = StateCanonicalizer(similarity)
            edges = []
            for k in locs:
                src = canon.canonical(state[k])
                dst = nxt[k] if nxt[k] is SUCCESS or isinstance(nxt[k], _Terminal) else canon.canonical(nxt[k])
                edges.append((src, dst))
            for k, (_, dst) in zip(locs, edges):
                nxt[k] = dst
        dist = shortest_distances(edges)
        for k in locs:
            returns[k] = success_reward * omega ** dist[nxt[k]]
    return returns


def step_groups(group: np.ndarray, state, similarity: float | None = None) -> list[int]:
    """Step-group id of every row: rows of one group with the same start state (the anchor observation),
    or, with ``similarity``, verl-agent's clusters of similar start states."""
    ids = [0] * len(group)
    next_id = 0
    for g in np.unique(group):
        locs = np.where(group == g)[0].tolist()
        if similarity is None:
            clusters = defaultdict(list)
            for k in locs:
                clusters[state[k]].append(k)
            members = list(clusters.values())
        else:
            found: list[dict] = []  # [{"rep": obs, "locs": [...]}] in creation order
            for k in locs:
                for cluster in found:
                    if are_similar(state[k], cluster["rep"], similarity):
                        cluster["locs"].append(k)
                        break
                else:
                    found.append({"rep": state[k], "locs": [k]})
            members = [c["locs"] for c in found]
        for rows in members:
            for k in rows:
                ids[k] = next_id
            next_id += 1
    return ids


def advantages(
    method: str,
    *,
    group,
    trajectory,
    state,
    success,
    next_state=None,
    valid=None,
    omega: float = 0.1,
    gamma: float = 0.95,
    success_reward: float = 10.0,
    invalid_penalty: float = 0.1,
    step_weight: float = 1.0,
    episode_weight: float = 1.0,
    norm: str = "mean_std",
    eps: float = 1e-6,
    similarity: float | None = None,
) -> np.ndarray:
    """One float64 advantage per row for ``method`` in {"grpo", "gigpo", "graphgpo"} (SPEC defaults).

    ``group``/``trajectory``/``success``/``valid`` are per-row sequences (numpy arrays are fastest here);
    ``state``/``next_state`` are sequences of hashable values (str or bytes with ``similarity``: SPEC's
    ``merge="similar"`` with that threshold).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    group = np.asarray(group)
    trajectory = np.asarray(trajectory)
    success = np.asarray(success, dtype=bool)
    valid = np.ones(len(group), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    rewards = step_rewards(trajectory, success, success_reward)

    scores = episode_scores(trajectory, valid, rewards, invalid_penalty)
    episode_adv = group_normalize(scores, group, norm=norm, eps=eps, singleton_is_zero=False)
    if method == "grpo":
        return episode_adv

    if method == "gigpo":
        returns = discounted_returns(trajectory, rewards, gamma)
    else:
        returns = graph_step_returns(
            group, trajectory, state, success, valid, next_state, omega=omega, success_reward=success_reward,
            similarity=similarity,
        )
    for k in range(len(returns)):
        if not valid[k]:
            returns[k] -= invalid_penalty
    # graphgpo's step groups stay exact with similarity (the official recipe); gigpo's merge.
    groups = step_groups(group, state, similarity if method == "gigpo" else None)
    step_adv = group_normalize(returns, groups, norm=norm, eps=eps, singleton_is_zero=True)
    return episode_weight * episode_adv + step_weight * step_adv
