"""Robustness of the credit-accuracy gain: no validity flags, other group sizes, longer horizons.

    nice python -m benchmarks.research.robust
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import estimators as E
from . import tasks
from .rollouts import credit, noisy_optimal, play

CANDS = {"graphgpo w0.1": (E.graphgpo, {"omega": 0.1}), "graphgpo w0.8": (E.graphgpo, {"omega": 0.8}),
         "progpo": (E.outrank, {"scale": "group"})}


def main() -> None:
    for env in ("gym-sokoban", "sokoban", "frozenlake", "minigrid", "keydoor"):
        t = tasks.load(env)
        for label, rollouts, horizon, flags in (("default", 8, 0, True), ("no valid flags", 8, 0, False),
                                                ("groups of 4", 4, 0, True), ("groups of 16", 16, 0, True),
                                                ("2x horizon", 8, 2 * t.max_steps, True)):
            tt = dataclasses.replace(t, max_steps=horizon or t.max_steps)
            out = {}
            for p in (0.2, 0.35, 0.6):
                rng = np.random.default_rng([3, int(p * 100)])
                acc = {k: [] for k in CANDS}
                for _ in range(3):
                    rows, _ = play(tt, np.arange(len(tt.starts)), rollouts, noisy_optimal(tt, p), rng)
                    if not flags:
                        rows.valid = np.ones_like(rows.valid)
                    for k, (fn, o) in CANDS.items():
                        acc[k].append(credit(tt, rows, fn(rows, **o))[0])
                for k in CANDS:
                    out.setdefault(k, []).append(np.mean(acc[k]))
            print(f"{env:12s} {label:15s} " + "  ".join(f"{k} " + "/".join(f"{v:.3f}" for v in vs)
                                                      for k, vs in out.items()), flush=True)


if __name__ == "__main__":
    main()
