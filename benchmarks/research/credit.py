"""Credit accuracy of every candidate on noisy-optimal rollouts (issue 10).

Each step the optimal move with probability p, else uniform; groups of 8 rollouts from one level's start.
Prints, per environment and p, the strict accuracy (advantage > 0 exactly when the true distance drops)
and the demo's variant (an advantage of 0 counts half).

    nice python -m benchmarks.research.credit [--envs sokoban,keydoor] [--repeats 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from . import estimators as E
from . import tasks
from .rollouts import credit, noisy_optimal, play

PS = (0.2, 0.35, 0.6)


def run(envs, repeats: int, candidates: dict, seed: int = 0) -> dict:
    out: dict = {}
    for env in envs:
        t = tasks.load(env)
        for p in PS:
            rng = np.random.default_rng([seed, int(p * 100)])
            acc: dict = {name: [] for name in candidates}
            for _ in range(repeats):
                levels = np.arange(len(t.starts))
                rows, _ = play(t, levels, 8, noisy_optimal(t, p), rng)
                for name, (fn, opts) in candidates.items():
                    acc[name].append((credit(t, rows, fn(rows, **opts)), len(rows.state)))
            for name, vals in acc.items():
                w = np.array([n for _, n in vals], float)
                strict = float(np.average([a[0] for a, _ in vals], weights=w))
                half = float(np.average([a[1] for a, _ in vals], weights=w))
                out.setdefault(name, {})[f"{env} p={p}"] = (strict, half)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="sokoban,keydoor,gym-sokoban,frozenlake,cliffwalking,minigrid")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    cands = E.CANDIDATES
    if args.only:
        cands = {k: v for k, v in cands.items() if k in args.only.split(",")}
    res = run(args.envs.split(","), args.repeats, cands)
    cols = list(next(iter(res.values())))
    print("strict credit accuracy (advantage > 0 <=> true distance drops)")
    print(f"{'candidate':22s}" + "".join(f"{c[:18]:>19s}" for c in cols) + f"{'mean':>8s}")
    for name, r in res.items():
        vals = [r[c][0] for c in cols]
        print(f"{name:22s}" + "".join(f"{v:19.3f}" for v in vals) + f"{np.mean(vals):8.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
