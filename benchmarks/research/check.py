"""The study's numpy baselines agree with the engine (graphgpo.advantages) on rollout batches."""

from __future__ import annotations

import numpy as np

import graphgpo

from . import estimators as E
from . import tasks
from .rollouts import noisy_optimal, play


def main() -> None:
    for env in ("sokoban", "frozenlake"):
        t = tasks.load(env)
        rng = np.random.default_rng(0)
        rows, _ = play(t, np.arange(8), 8, noisy_optimal(t, 0.35), rng)
        kw = dict(group=rows.group, trajectory=rows.trajectory, state=rows.state, next_state=rows.next_state,
                  success=rows.success, valid=rows.valid)
        for name, fn, opts in (("grpo", E.grpo, {}), ("gigpo", E.gigpo, {"gamma": 0.95}),
                               ("graphgpo", E.graphgpo, {"omega": 0.1}), ("graphgpo", E.graphgpo, {"omega": 0.8})):
            ours = fn(rows, **opts)
            ref = graphgpo.advantages(name, **kw, **opts)
            print(env, name, opts, "max |diff|", float(np.abs(ours - ref).max()))


if __name__ == "__main__":
    main()
