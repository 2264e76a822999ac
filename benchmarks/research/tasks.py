"""Environments of the study as flat transition tables with exact optimal distances.

A :class:`Table` holds every state reachable from the levels' starts: ``next[S, A]``, ``valid[S, A]``
(the action changed the state), ``goal[S]``, ``dead[S]`` (the episode ends there without success, e.g. a
FrozenLake hole) and ``dist[S]`` (exact optimal steps to a goal by backward BFS, inf if none).

- ``sokoban``, ``keydoor``: the bundled environments (the demo's level sets).
- ``gym-sokoban``: gym-sokoban's own room generator and push/move rules (``SokobanEnv`` internals) at
  6x6 with one box, explored through its ``_push`` transition from restored states.
- ``frozenlake``: gymnasium FrozenLake, non-slippery, random 6x6 maps (holes end the episode).
- ``cliffwalking``: gymnasium CliffWalking (the cliff sends the agent back to the start).
- ``minigrid``: MiniGrid DoorKey-5x5, explored by stepping deep copies of the environment.

The third-party packages are installed only in the study's venv (``pip install gym-sokoban gymnasium
minigrid``); they are not project dependencies.
"""

from __future__ import annotations

import copy
import random
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class Table:
    name: str
    next: np.ndarray
    valid: np.ndarray
    goal: np.ndarray
    dead: np.ndarray
    dist: np.ndarray
    starts: np.ndarray
    max_steps: int

    @property
    def num_actions(self) -> int:
        return self.next.shape[1]


def _bfs(nxt: np.ndarray, valid: np.ndarray, goal: np.ndarray) -> np.ndarray:
    n = nxt.shape[0]
    src, act = np.nonzero(valid)
    dst = nxt[src, act]
    incoming: list[list[int]] = [[] for _ in range(n)]
    for s, t in zip(src.tolist(), dst.tolist()):
        incoming[t].append(s)
    dist = np.full(n, np.inf)
    q = deque(np.nonzero(goal)[0].tolist())
    dist[list(q)] = 0.0
    while q:
        v = q.popleft()
        for u in incoming[v]:
            if dist[u] == np.inf:
                dist[u] = dist[v] + 1
                q.append(u)
    return dist


def _explore(starts, successors, is_goal, is_dead, num_actions: int):
    """Enumerate states reachable from several starts (one shared id space). successors(s) -> list of
    next states (same state = no-op)."""
    index: dict = {}
    states: list = []
    start_ids = []
    for s in starts:
        if s not in index:
            index[s] = len(states)
            states.append(s)
        start_ids.append(index[s])
    rows, goal, dead = [], [], []
    i = 0
    while i < len(states):
        s = states[i]
        g, dd = bool(is_goal(s)), bool(is_dead(s))
        goal.append(g)
        dead.append(dd)
        row = [i] * num_actions
        if not (g or dd):
            for a, t in enumerate(successors(s)):
                j = index.get(t)
                if j is None:
                    j = index[t] = len(states)
                    states.append(t)
                row[a] = j
        rows.append(row)
        i += 1
    nxt = np.asarray(rows, dtype=np.int64)
    valid = nxt != np.arange(len(states))[:, None]
    goal_a, dead_a = np.asarray(goal), np.asarray(dead)
    return nxt, valid, goal_a, dead_a, _bfs(nxt, valid, goal_a), np.asarray(start_ids)


def _concat(name: str, parts, max_steps: int) -> Table:
    off = 0
    nx, va, go, de, di, st = [], [], [], [], [], []
    for nxt, valid, goal, dead, dist, starts in parts:
        nx.append(nxt + off)
        va.append(valid)
        go.append(goal)
        de.append(dead)
        di.append(dist)
        st.append(starts + off)
        off += nxt.shape[0]
    return Table(name, np.concatenate(nx), np.concatenate(va), np.concatenate(go), np.concatenate(de),
                 np.concatenate(di), np.concatenate(st), max_steps)


# -- bundled ---------------------------------------------------------------------------------------------

def bundled(env: str, num_levels: int = 16, level_seed: int = 2026) -> Table:
    from graphgpo.demo import build_task

    t = build_task(env, num_levels, level_seed)
    return Table(env, t.next.astype(np.int64), t.valid, t.goal, np.zeros_like(t.goal), t.dist,
                 t.starts, t.max_steps)


# -- gym-sokoban ------------------------------------------------------------------------------------------

def gym_sokoban(num_levels: int = 16, seed: int = 0, dim: int = 6, max_steps: int = 30,
                min_dist: int = 3, max_dist: int = 12) -> Table:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gym_sokoban.envs.sokoban_env import SokobanEnv
    parts = []
    k = 0
    while len(parts) < num_levels:
        random.seed(seed * 1000 + k)
        np.random.seed(seed * 1000 + k)  # noqa: NPY002  (gym-sokoban draws from the global generator)
        k += 1
        env = SokobanEnv(dim_room=(dim, dim), num_boxes=1, max_steps=max_steps, reset=False)
        try:
            env.reset()
        except (RuntimeError, RuntimeWarning, ValueError):
            continue
        fixed = env.room_fixed.copy()

        def successors(s, env=env, fixed=fixed):
            out = []
            for a in (1, 2, 3, 4):
                env.room_state = np.frombuffer(s[0], dtype=env.room_state.dtype).reshape(fixed.shape).copy()
                env.player_position = np.array(s[1])
                env._push(a)
                out.append((env.room_state.tobytes(), tuple(int(x) for x in env.player_position)))
            return out

        def is_goal(s, env=env, fixed=fixed):
            env.room_state = np.frombuffer(s[0], dtype=env.room_state.dtype).reshape(fixed.shape).copy()
            return bool(env._check_if_all_boxes_on_target())

        start = (env.room_state.tobytes(), tuple(int(x) for x in env.player_position))
        part = _explore([start], successors, is_goal, lambda s: False, 4)
        d0 = part[4][part[5][0]]
        if not (min_dist <= d0 <= max_dist):
            continue
        parts.append(part)
    return _concat("gym-sokoban", parts, max_steps)


# -- gymnasium toy text -----------------------------------------------------------------------------------

def frozenlake(num_levels: int = 16, seed: int = 0, size: int = 6, max_steps: int = 30) -> Table:
    import gymnasium as gym
    from gymnasium.envs.toy_text.frozen_lake import generate_random_map

    parts = []
    k = 0
    while len(parts) < num_levels:
        desc = generate_random_map(size=size, p=0.75, seed=seed * 1000 + k)
        k += 1
        env = gym.make("FrozenLake-v1", desc=desc, is_slippery=False).unwrapped
        flat = "".join(desc)
        part = _explore([0], lambda s, P=env.P: [P[s][a][0][1] for a in range(4)],
                        lambda s, f=flat: f[s] == "G", lambda s, f=flat: f[s] == "H", 4)
        if part[4][part[5][0]] < 6:
            continue
        parts.append(part)
    return _concat("frozenlake", parts, max_steps)


def cliffwalking(max_steps: int = 40) -> Table:
    import gymnasium as gym

    env = gym.make("CliffWalking-v1").unwrapped
    part = _explore([36], lambda s, P=env.P: [int(P[s][a][0][1]) for a in range(4)],
                    lambda s: s == 47, lambda s: False, 4)
    return _concat("cliffwalking", [part], max_steps)


# -- minigrid ---------------------------------------------------------------------------------------------

def minigrid(num_levels: int = 8, seed: int = 0, env_id: str = "MiniGrid-DoorKey-5x5-v0",
             max_steps: int = 40) -> Table:
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the environments)

    parts = []
    for k in range(num_levels):
        env = gym.make(env_id).unwrapped
        env.reset(seed=seed * 1000 + k)
        envs: dict = {}

        def key(e):
            return (e.hash(), None if e.carrying is None else e.carrying.type)

        def successors(s, envs=envs):
            e0 = envs[s]
            out = []
            for a in range(6):
                e = copy.deepcopy(e0)
                e.step_count = 0
                _, r, term, _, _ = e.step(a)
                t = key(e) + (bool(term and r > 0),)
                envs.setdefault(t, e)
                out.append(t)
            return out

        s0 = key(env) + (False,)
        envs[s0] = env
        parts.append(_explore([s0], successors, lambda s: s[2], lambda s: False, 6))
    return _concat("minigrid", parts, max_steps)


BUILDERS = {
    "sokoban": lambda: bundled("sokoban"),
    "keydoor": lambda: bundled("keydoor"),
    "gym-sokoban": gym_sokoban,
    "frozenlake": frozenlake,
    "cliffwalking": cliffwalking,
    "minigrid": minigrid,
}


def load(name: str) -> Table:
    """Build (or read from the cache next to this file) the table of one environment."""
    import os
    import pickle

    cache = os.path.join(os.path.dirname(__file__), ".cache", f"{name}.pkl")
    if os.path.exists(cache):
        with open(cache, "rb") as fh:
            return pickle.load(fh)
    t = BUILDERS[name]()
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache, "wb") as fh:
        pickle.dump(t, fh)
    return t
