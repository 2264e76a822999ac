"""The whole demo: every estimator on every seed, then the results JSON and the figures.

Nothing that can be checked up front is left to fail late: the settings, the optional packages and the
output directory are checked before the first run, every finished run is appended to ``runs.jsonl`` as
it ends, and ``results.json`` is written before any figure is drawn, so a failure in plotting (or a
Ctrl-C halfway) keeps what was computed.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .config import QUICK, DemoConfig, validate
from .report import summarize
from .task import Task, build_task
from .training import RunResult, train_one

__all__ = ["DemoError", "run_demo", "missing_packages"]

#: Packages a run imports (pip name -> module name); tqdm only draws the bar on a terminal.
REQUIRED = {"torch": "torch", "matplotlib": "matplotlib"}


class DemoError(RuntimeError):
    """A run cannot start or could not finish; the message fits on one line and says what to do."""


def missing_packages(names: Sequence[str]) -> list[str]:
    """The packages among ``names`` that cannot be imported (a broken install counts as missing)."""
    missing = []
    for name in names:
        try:
            importlib.import_module(REQUIRED.get(name, name))
        except Exception:
            missing.append(name)
    return missing


def _check_packages() -> None:
    missing = missing_packages(list(REQUIRED))
    if missing:
        one = len(missing) == 1
        raise DemoError(f"the demo needs {' and '.join(missing)}, which {'is' if one else 'are'} not installed "
                        f"(or {'fails' if one else 'fail'} to import): pip install {' '.join(missing)}")


def _advantage_fn() -> Callable[..., Any]:
    """The estimator entry point: :func:`graphgpo.advantages`."""
    import graphgpo

    fn = getattr(graphgpo, "advantages", None)
    if fn is None:
        raise DemoError("graphgpo.advantages is not available: the native engine is not built or installed "
                        "(reinstall graphgpo: pip install .)")
    return fn


def _prepare_out(path: str) -> Path:
    """Create the output directory and make sure files can be written there, before any training."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".graphgpo_demo_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DemoError(f"cannot write to the output directory {str(out)!r} ({exc.strerror or exc}); "
                        "choose another with --out") from exc
    return out


def run_demo(cfg: DemoConfig, advantages: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Train every estimator on every seed, write ``results.json`` and the figures to ``cfg.out``.

    Returns the results. Raises :class:`~graphgpo.demo.config.ConfigError` for a setting outside its range
    and :class:`DemoError` when a run cannot start (missing package, unwritable ``out``), both before
    training. A failure while drawing the figures does not raise: ``results.json`` is written first, and
    ``results["plot_error"]`` says what went wrong.
    """
    if cfg.quick:
        for k, v in QUICK.items():
            setattr(cfg, k, min(getattr(cfg, k), v))
    validate(cfg)
    _check_packages()
    fn = advantages or _advantage_fn()
    out = _prepare_out(cfg.out)

    import torch

    torch.set_num_threads(cfg.threads or 1)  # the model is tiny: threading overhead outweighs any speed-up
    t0 = time.perf_counter()
    task = build_task(cfg.env, cfg.num_levels, cfg.level_seed, cfg.max_steps)
    setup_seconds = time.perf_counter() - t0
    jobs = [(est, seed) for est in cfg.estimators for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds)]
    example_est = "graphgpo" if "graphgpo" in cfg.estimators else cfg.estimators[-1]
    progress = Progress(len(jobs), cfg.progress)
    log = out / "runs.jsonl"
    log.write_text("")
    finished: list[RunResult] = []
    try:
        for est, seed in jobs:
            run = train_one(task, est, seed, cfg, fn, keep_group=est == example_est and seed == cfg.first_seed)
            finished.append(run)
            with open(log, "a") as fh:
                fh.write(json.dumps(_run_record(run), default=_json_default) + "\n")
            progress.done(run)
    except KeyboardInterrupt:
        progress.close()
        raise DemoError(f"interrupted after {len(finished)} of {len(jobs)} runs; the finished runs are in "
                        f"{log}") from None
    progress.close()
    runs = {est: [r for r in finished if r.estimator == est] for est in cfg.estimators}
    results = _collect(cfg, task, runs, setup_seconds, time.perf_counter() - t0)
    example = runs[example_est][0].example_group
    results["example_group"] = {"estimator": example_est, **(example or {})}
    results["files"] = {"json": str(out / "results.json"), "runs": str(log)}
    _write_json(out / "results.json", results)
    try:
        results["files"].update(_write_figures(out, cfg, task, runs, example_est, example))
    except Exception as exc:  # keep the results: they are written; say what failed
        results["plot_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    _write_json(out / "results.json", results)
    return results


class Progress:
    """One tick per finished run: a tqdm bar on a terminal, plain lines otherwise (logs, CI, pipes)."""

    def __init__(self, total: int, enabled: bool, stream=None) -> None:
        self.total, self.count, self.enabled = total, 0, enabled
        self.stream = stream or sys.stdout
        self.bar = None
        if enabled and _isatty(self.stream):
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines instead of a bar
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit="run", dynamic_ncols=True, file=self.stream)

    def done(self, run: RunResult) -> None:
        self.count += 1
        text = (f"{run.estimator} seed {run.seed}: AUC {run.auc:.1%}, final success {run.final_success:.1%} "
                f"({run.seconds:.1f} s)")
        if self.bar is not None:
            self.bar.set_description(text)
            self.bar.update(1)
        elif self.enabled:
            width = len(str(self.total))
            print(f"[{self.count:>{width}}/{self.total}] {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _run_record(run: RunResult) -> dict[str, Any]:
    return {k: v for k, v in asdict(run).items() if k != "example_group"}


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
        "runs": {est: [_run_record(r) for r in rs] for est, rs in runs.items()},
        "setup_seconds": setup,
        "wall_seconds": wall,
    }


def _write_figures(out: Path, cfg: DemoConfig, task: Task, runs: dict[str, list[RunResult]], example_est: str,
                   example: dict | None) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    from .plots import plot_curves, plot_group

    files = {"curves": str(out / "learning_curves.png"), "graph": str(out / "group_graph.png")}
    plot_curves(runs, cfg, files["curves"])
    plot_group(task, example, example_est, files["graph"])
    return files


def _write_json(path: Path, results: dict[str, Any]) -> None:
    """Write through a temporary file and a rename, so a crash never leaves half a results.json."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(results, fh, indent=1, default=_json_default)
    os.replace(tmp, path)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and math.isinf(x):
        return None
    raise TypeError(type(x))
