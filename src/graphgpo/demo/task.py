"""The demo's task: every state of the bundled training levels as one flat transition table, and the score
of an advantage against true progress.

True distances come from the environments' exact solver (:attr:`graphgpo.envs.Level.table`, which
enumerates each small level once), so rollouts of a whole batch are array lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ENV_SETTINGS

__all__ = ["Task", "build_task", "credit_agreement"]


@dataclass
class Task:
    """All states of all bundled levels, with global integer ids.

    ``next``/``valid`` are ``[S, A]``, ``goal``/``dist`` are ``[S]``, ``starts`` has one start id per level and
    ``tokens`` is ``[S, C]``: per board cell, the index of its (cell, character) pair -- the one-hot encoding of
    the board text, stored sparsely.
    """

    name: str
    levels: list
    next: np.ndarray
    valid: np.ndarray
    goal: np.ndarray
    dist: np.ndarray
    starts: np.ndarray
    tokens: np.ndarray
    num_tokens: int
    keys: list[str]
    max_steps: int

    @property
    def num_actions(self) -> int:
        return self.next.shape[1]

    @property
    def num_states(self) -> int:
        return self.next.shape[0]


def build_task(env: str, num_levels: int, level_seed: int, max_steps: int = 0) -> Task:
    """Generate ``num_levels`` levels deterministically and flatten their state tables."""
    from ..envs import generate_keydoor, generate_sokoban

    if env not in ENV_SETTINGS:
        raise ValueError(f"unknown environment {env!r}; expected one of {sorted(ENV_SETTINGS)}")
    settings = ENV_SETTINGS[env]
    levels = []
    for i in range(num_levels):
        seed = level_seed * 1000 + i
        if env == "sokoban":
            levels.append(generate_sokoban(seed, settings["size"], settings["num_boxes"],
                                           settings["min_distance"], settings["max_distance"]))
        else:
            levels.append(generate_keydoor(seed, settings["size"], settings["min_distance"]))
    tables = [lv.table for lv in levels]
    offsets = np.cumsum([0] + [t.num_states for t in tables])
    nxt = np.concatenate([t.next.astype(np.int64) + off for t, off in zip(tables, offsets, strict=False)])
    keys = [k for t in tables for k in t.keys]
    tokens, num_tokens = _one_hot_codes(keys, rows=max(lv.height for lv in levels),
                                        cols=max(lv.width for lv in levels))
    return Task(name=env, levels=levels, next=nxt,
                valid=np.concatenate([t.valid for t in tables]),
                goal=np.concatenate([t.goal for t in tables]),
                dist=np.concatenate([t.dist for t in tables]),
                starts=offsets[:-1].astype(np.int64), tokens=tokens, num_tokens=num_tokens, keys=keys,
                max_steps=max_steps or settings["max_steps"])


def _one_hot_codes(keys: list[str], rows: int, cols: int) -> tuple[np.ndarray, int]:
    """One-hot board encoding over a padded ``rows x cols`` canvas, so levels of different sizes share one
    input: per cell, the index of its (cell, character) pair. Returns (codes ``[S, rows*cols]``, vocabulary)."""
    alphabet = sorted({ch for k in keys for ch in k if ch != "\n"})
    char_id = {ch: i for i, ch in enumerate(alphabet)}
    pad = len(alphabet)  # an extra "outside the board" character for padded cells
    tokens = np.empty((len(keys), rows * cols), dtype=np.int64)
    for j, key in enumerate(keys):
        codes = np.full((rows, cols), pad, dtype=np.int64)
        for r, line in enumerate(key.split("\n")):
            codes[r, :len(line)] = [char_id[ch] for ch in line]
        tokens[j] = codes.reshape(-1)
    tokens = tokens + np.arange(rows * cols, dtype=np.int64) * (pad + 1)
    return tokens, rows * cols * (pad + 1)


def credit_agreement(task: Task, state: np.ndarray, next_state: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """Per step: 1 if the advantage sign matches true progress, 0 if opposite, 0.5 if the advantage is 0.

    True progress means the exact optimal distance to the goal strictly decreases (inf -> inf does not).
    """
    progress = task.dist[next_state] < task.dist[state]
    agree = np.where(progress, adv > 0, adv < 0).astype(np.float64)
    agree[adv == 0] = 0.5
    return agree
