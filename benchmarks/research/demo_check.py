"""The demo's own training loop (PPO-clip, Adam, MLP or tabular policy; graphgpo.demo) with the candidates'
advantages, on the bundled environments. Mean and 95% CI over seeds, paired difference vs graphgpo.

    nice python -m benchmarks.research.demo_check --env sokoban --seeds 5 --only "graphgpo w0.8,outrank group"
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from graphgpo.demo.config import DemoConfig, Estimator
from graphgpo.demo.task import build_task
from graphgpo.demo.training import train_one

from . import estimators as E
from .learn import ci


def _advantages(name, *, group, trajectory, state, next_state, success, valid, **_):
    fn, opts = E.CANDIDATES[name]
    rows = E.Rows(group=np.asarray(group), trajectory=np.asarray(trajectory), state=np.asarray(state),
                  next_state=np.asarray(next_state), success=np.asarray(success, bool),
                  valid=np.asarray(valid, bool))
    return fn(rows, **opts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="sokoban")
    ap.add_argument("--policy", default="mlp")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=0)
    ap.add_argument("--only", default="grpo,gigpo,graphgpo w0.8,outrank group")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    cfg = DemoConfig(env=args.env, policy=args.policy, progress=False)
    if args.episodes:
        cfg.episodes = args.episodes
    task = build_task(cfg.env, cfg.num_levels, cfg.level_seed, cfg.max_steps)
    res = {}
    for name in args.only.split(","):
        runs = [train_one(task, Estimator(name, name), s, cfg, _advantages)
                for s in range(args.first_seed, args.first_seed + args.seeds)]
        res[name] = {"auc": [r.auc for r in runs], "final": [r.final_success for r in runs],
                     "credit": [r.credit_accuracy for r in runs]}
        m, h = ci(res[name]["auc"])
        line = f"{args.env} {args.policy} {name:18s} AUC {m:.3f} ± {h:.3f}  credit {np.mean(res[name]['credit']):.3f}"
        base = [k for k in res if k.startswith("graphgpo")]
        if base and base[0] != name:
            dm, dh = ci(np.array(res[name]["auc"]) - np.array(res[base[0]]["auc"]))
            line += f"  diff vs {base[0]} {dm:+.3f} ± {dh:.3f}"
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
