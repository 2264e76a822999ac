"""The whole demo: every estimator on every seed, then the results JSON and the figures."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .config import ESTIMATORS, QUICK, DemoConfig
from .report import summarize
from .task import Task, build_task
from .training import RunResult, train_one

__all__ = ["run_demo"]


def _advantage_fn() -> Callable[..., Any]:
    """The estimator entry point: :func:`graphgpo.advantages` (keyword signature of docs/design.md)."""
    import graphgpo

    fn = getattr(graphgpo, "advantages", None)
    if fn is None:
        raise RuntimeError("graphgpo.advantages is not available: the native engine is not built/installed")
    return fn


def run_demo(cfg: DemoConfig, advantages: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Train every estimator on every seed, write the figures and JSON to ``cfg.out``; return the results."""
    import torch

    if cfg.quick:
        for k, v in QUICK.items():
            setattr(cfg, k, min(getattr(cfg, k), v))
    unknown = set(cfg.estimators) - set(ESTIMATORS)
    if unknown:
        raise ValueError(f"unknown estimator(s) {sorted(unknown)}; expected some of {ESTIMATORS}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    else:
        torch.set_num_threads(1)  # the model is tiny: threading overhead outweighs any speed-up
    fn = advantages or _advantage_fn()
    t0 = time.perf_counter()
    task = build_task(cfg.env, cfg.num_levels, cfg.level_seed, cfg.max_steps)
    setup_seconds = time.perf_counter() - t0
    total = len(cfg.estimators) * cfg.seeds * cfg.iterations
    bar = _progress(total, cfg.progress)
    runs: dict[str, list[RunResult]] = {}
    for est in cfg.estimators:
        runs[est] = []
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            bar.set_description(f"{est} seed {seed}")
            runs[est].append(train_one(task, est, seed, cfg, fn, tick=lambda: bar.update(1),
                                       keep_group=(est == "graphgpo" or est == cfg.estimators[-1])
                                       and seed == cfg.first_seed))
    bar.close()
    results = _collect(cfg, task, runs, setup_seconds, time.perf_counter() - t0)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results["files"] = _write_outputs(out, cfg, task, runs, results)
    return results


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is part of the demo extra
        tqdm = None
    if tqdm is None or not enabled:
        class _Null:
            def update(self, n: int = 1) -> None: ...
            def set_description(self, s: str) -> None: ...
            def close(self) -> None: ...
        return _Null()
    return tqdm(total=total, unit="it", dynamic_ncols=True)


def _collect(cfg: DemoConfig, task: Task, runs: dict[str, list[RunResult]], setup: float,
             wall: float) -> dict[str, Any]:
    summary = {}
    for est, rs in runs.items():
        summary[est] = {
            "final_success": summarize([r.final_success for r in rs]),
            "auc": summarize([r.auc for r in rs]),
            "episodes_to_target": summarize([r.episodes_to_target for r in rs]),
            "credit_accuracy": summarize([r.credit_accuracy for r in rs]),
            "credit_accuracy_solved_groups": summarize([r.credit_accuracy_solved_groups for r in rs]),
            "advantage_seconds": summarize([r.advantage_seconds for r in rs]),
        }
    cfg_dict = asdict(cfg)
    cfg_dict["estimators"] = list(cfg.estimators)
    cfg_dict["lr"], cfg_dict["entropy_coef"] = cfg.learning_rate, cfg.entropy  # the values actually used
    return {
        "config": cfg_dict,
        "task": {"env": task.name, "levels": len(task.levels), "states": int(task.next.shape[0]),
                 "max_steps": task.max_steps, "start_distance": task.dist[task.starts].tolist(),
                 "episodes_per_run": cfg.iterations * cfg.episodes_per_iteration},
        "summary": summary,
        "runs": {est: [{k: v for k, v in asdict(r).items() if k != "example_group"} for r in rs]
                 for est, rs in runs.items()},
        "setup_seconds": setup,
        "wall_seconds": wall,
    }


def _write_outputs(out: Path, cfg: DemoConfig, task: Task, runs: dict[str, list[RunResult]],
                   results: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    from .plots import plot_curves, plot_group

    matplotlib.use("Agg")
    files = {"curves": str(out / "learning_curves.png"), "graph": str(out / "group_graph.png"),
             "json": str(out / "results.json")}
    plot_curves(runs, cfg, files["curves"])
    example_est = "graphgpo" if "graphgpo" in runs else cfg.estimators[-1]
    example = runs[example_est][0].example_group
    plot_group(task, example, example_est, files["graph"])
    results = dict(results, files=files, example_group={"estimator": example_est, **(example or {})})
    with open(files["json"], "w") as fh:
        json.dump(results, fh, indent=1, default=_json_default)
    return files


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and math.isinf(x):
        return None
    raise TypeError(type(x))
