"""Learning curves: a tabular softmax policy trained by plain policy gradient with each candidate's
advantages (issue 10). Per iteration: ``groups`` levels drawn at random, ``rollouts`` episodes from each
level's start; logits[s] += lr * A * (onehot(a) - pi(s)) summed over the rows, divided by the number of
episodes. AUC = mean training success over the run. Mean and 95% CI (t) over seeds, and the paired
difference against graphgpo.

    nice python -m benchmarks.research.learn --envs gym-sokoban --seeds 5 [--lr 0.5] [--only a,b]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from . import estimators as E
from . import tasks
from .rollouts import credit, play

T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}


def ci(x) -> tuple[float, float]:
    x = np.asarray(x, float)
    if len(x) < 2:
        return float(x.mean()), 0.0
    return float(x.mean()), float(T95.get(len(x), 1.96) * x.std(ddof=1) / np.sqrt(len(x)))


def softmax_policy(logits):
    def choose(states, rng):
        z = logits[states]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        u = rng.random((len(states), 1))
        return (p.cumsum(1) < u).sum(1).clip(0, p.shape[1] - 1)
    return choose


def train(table, fn, opts, seed: int, episodes: int, groups: int, rollouts: int, lr: float):
    rng = np.random.default_rng([seed, 1])
    level_rng = np.random.default_rng([seed, 7])
    logits = np.zeros((table.next.shape[0], table.num_actions))
    curve, acc = [], []
    for _ in range(max(1, episodes // (groups * rollouts))):
        levels = level_rng.choice(len(table.starts), size=groups, replace=groups > len(table.starts))
        rows, extra = play(table, levels, rollouts, softmax_policy(logits), rng)
        adv = fn(rows, **opts)
        curve.append(float(extra["episode_success"].mean()))
        acc.append(credit(table, rows, adv)[0])
        z = logits[rows.state]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = -p
        grad[np.arange(len(adv)), extra["action"]] += 1.0
        np.add.at(logits, rows.state, (lr / (groups * rollouts)) * adv[:, None] * grad)
    return float(np.mean(curve)), float(np.mean(acc)), curve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="gym-sokoban")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=4096)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    cands = E.CANDIDATES
    if args.only:
        cands = {k: v for k, v in cands.items() if k in args.only.split(",")}
    res: dict = {}
    for env in args.envs.split(","):
        t = tasks.load(env)
        aucs = {}
        for name, (fn, opts) in cands.items():
            runs = [train(t, fn, opts, s, args.episodes, args.groups, args.rollouts, args.lr)
                    for s in range(args.seeds)]
            aucs[name] = [r[0] for r in runs]
            res.setdefault(env, {})[name] = {"auc": aucs[name], "credit": [r[1] for r in runs]}
        base = "graphgpo w0.1" if "graphgpo w0.1" in aucs else None
        print(f"{env} (lr {args.lr}, {args.episodes} episodes, {args.seeds} seeds): AUC mean ± 95% CI"
              + (f"; paired diff vs {base}" if base else ""))
        for name, a in aucs.items():
            m, h = ci(a)
            line = f"  {name:22s} {m:.3f} ± {h:.3f}   credit {np.mean(res[env][name]['credit']):.3f}"
            if base and name != base:
                dm, dh = ci(np.array(a) - np.array(aucs[base]))
                line += f"   diff {dm:+.3f} ± {dh:.3f}"
            print(line, flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
