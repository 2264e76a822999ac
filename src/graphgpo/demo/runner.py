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
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .config import BASELINE, QUICK, ConfigError, DemoConfig, Estimator, validate
from .stats import paired_difference, summarize
from .task import Task, build_task
from .training import RunResult, train_one

__all__ = ["DemoError", "METRICS", "run_demo", "missing_packages", "available_cpus"]

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
    """Train every estimator row on every seed, write ``results.json`` and the figures to ``cfg.out``.

    Runs go to ``cfg.jobs`` worker processes (0: one per available CPU); a run's numbers do not depend on
    the process it ran in. With ``advantages`` (a function with :func:`graphgpo.advantages`' signature, e.g.
    a reference implementation) every run stays in this process.

    Returns the results. Raises :class:`~graphgpo.demo.config.ConfigError` for a setting outside its range
    (the engine checks every row's options on a two-row batch first) and :class:`DemoError` when a run
    cannot start (missing package, unwritable ``out``), both before training. A failure while drawing the
    figures does not raise: ``results.json`` is written first, and ``results["plot_error"]`` says what
    went wrong.
    """
    clock = _Clock()
    source = _source_version()  # before the runs: the code they ran
    if cfg.quick:
        for k, v in QUICK.items():
            setattr(cfg, k, min(getattr(cfg, k), v))
    validate(cfg)
    _check_packages()
    fn = advantages or _advantage_fn()
    rows = cfg.rows()
    _preflight(rows, fn)
    out = _prepare_out(cfg.out)

    import torch

    torch.set_num_threads(cfg.threads or 1)  # the model is tiny: threading overhead outweighs any speed-up
    t0 = time.perf_counter()
    task = _task(cfg)
    setup_seconds = time.perf_counter() - t0
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    example_label = BASELINE if BASELINE in cfg.labels else cfg.labels[-1]
    # Seed-major order: an interrupted run leaves complete pairs behind.
    work = [(row, seed, row.label == example_label and seed == seeds[0]) for seed in seeds for row in rows]
    # --quick runs take a second or two: starting worker processes would cost more than it saves.
    auto = 1 if cfg.quick else available_cpus()
    jobs = 1 if advantages is not None else min(cfg.jobs or auto, len(work))
    progress = Progress(len(work), cfg.progress)
    log = out / "runs.jsonl"
    log.write_text("")
    finished: list[RunResult] = []

    def done(run: RunResult) -> None:
        finished.append(run)
        with open(log, "a") as fh:
            fh.write(json.dumps(_run_record(run), default=_json_default) + "\n")
        progress.done(run)

    try:
        if jobs == 1:
            for row, seed, keep in work:
                done(train_one(task, row, seed, cfg, fn, keep_group=keep))
        else:
            _run_in_processes(cfg, work, jobs, done)
    except KeyboardInterrupt:
        progress.close()
        raise DemoError(f"interrupted after {len(finished)} of {len(work)} runs; the finished runs are in "
                        f"{log}") from None
    progress.close()
    runs = {row.label: sorted((r for r in finished if r.estimator == row.label), key=lambda r: r.seed)
            for row in rows}
    results = {"source": source, **_collect(cfg, rows, task, runs)}
    results["timing"] = clock.stop(setup_seconds=setup_seconds, jobs=jobs, runs=finished)
    example = runs[example_label][0].example_group
    results["example_group"] = {"estimator": example_label, **(example or {})}
    results["files"] = {"json": str(out / "results.json"), "runs": str(log)}
    _write_json(out / "results.json", results)
    try:
        results["files"].update(_write_figures(out, cfg, task, runs, example_label, example))
    except Exception as exc:  # keep the results: they are written; say what failed
        results["plot_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    _write_json(out / "results.json", results)
    return results


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _preflight(rows: Sequence[Estimator], fn: Callable[..., Any]) -> None:
    """Let the engine check every row's method and options on a two-row batch, before any training."""
    import graphgpo

    for row in rows:
        extra: dict[str, Any] = {}
        if row.memory:
            if not hasattr(graphgpo, "GraphMemory"):
                raise DemoError(f"the estimator row {row.label!r} needs graphgpo.GraphMemory (graph memory), "
                                "which this build of graphgpo does not have")
            extra = {"memory": graphgpo.GraphMemory(), "task": np.zeros(2, dtype=np.int64)}
        try:
            fn(row.method, group=np.zeros(2, dtype=np.int64), trajectory=np.arange(2), state=np.zeros(2, np.int64),
               next_state=np.array([1, 2]), success=np.array([True, False]), valid=np.ones(2, dtype=bool),
               **row.options, **extra)
        except (ValueError, TypeError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"estimators row {row.label!r} ({row.method}, options {dict(row.options)}) is "
                              f"rejected by the engine: {message}") from exc


# -- runs in worker processes ------------------------------------------------------------------------------

_TASKS: dict[tuple, Task] = {}


def _task(cfg: DemoConfig) -> Task:
    """The run's task, built once per process (levels and their state tables are deterministic)."""
    key = (cfg.env, cfg.num_levels, cfg.level_seed, cfg.max_steps)
    if key not in _TASKS:
        _TASKS.clear()
        _TASKS[key] = build_task(*key)
    return _TASKS[key]


def _init_worker(threads: int | None) -> None:
    import torch

    torch.set_num_threads(threads or 1)
    # Ctrl-C is the parent's to handle: it stops the workers and keeps the finished runs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(item: tuple[DemoConfig, Estimator, int, bool]) -> RunResult:
    cfg, row, seed, keep_group = item
    # One engine thread per worker unless --threads says otherwise: the workers already fill the CPUs.
    return train_one(_task(cfg), row, seed, cfg, _advantage_fn(), keep_group=keep_group,
                     engine_threads=cfg.threads or 1)


def _run_in_processes(cfg: DemoConfig, work: list, jobs: int, done: Callable[[RunResult], None]) -> None:
    """Run ``work`` in ``jobs`` spawned processes, calling ``done`` as each run finishes (in the parent).

    Spawned, not forked: a fork of a process that has started torch's or the engine's threads can hang.
    On any exception here (Ctrl-C included) the workers are stopped at once.
    """
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker, initargs=(cfg.threads,))
    try:
        for run in pool.imap_unordered(_work, [(cfg, row, seed, keep) for row, seed, keep in work]):
            done(run)
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()


# -- time and load -----------------------------------------------------------------------------------------

class _Clock:
    """Wall time, CPU time of this process and its workers, and the load average, from start to stop."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = _cpu_seconds()
        self.load = _load_average()

    def stop(self, *, setup_seconds: float, jobs: int, runs: Sequence[RunResult]) -> dict[str, Any]:
        cpu = _cpu_seconds()
        return {
            "wall_seconds": time.perf_counter() - self.wall,
            "cpu_seconds": None if cpu is None or self.cpu is None else cpu - self.cpu,
            "runs_cpu_seconds": math.fsum(r.cpu_seconds for r in runs),
            "runs_wall_seconds": math.fsum(r.seconds for r in runs),
            "setup_seconds": setup_seconds,
            "jobs": jobs,
            "cpus": available_cpus(),
            "load_average_start": self.load,
            "load_average_end": _load_average(),
            "machine": _machine(),
        }


def _cpu_seconds() -> float | None:
    """User + system CPU seconds of this process and of its finished child processes."""
    try:
        import resource
    except ImportError:  # not on this OS
        return None
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _source_version() -> dict[str, Any]:
    """graphgpo's version and, in a git checkout, the commit (and whether files differ from it)."""
    import graphgpo

    info: dict[str, Any] = {"version": getattr(graphgpo, "__version__", None), "commit": None, "dirty": None}
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0:
            status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                                    capture_output=True, text=True, timeout=10)
            info["commit"] = commit.stdout.strip()
            info["dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


class Progress:
    """One tick per finished run: a tqdm bar on a terminal, plain lines otherwise (logs, CI, pipes)."""

    def __init__(self, total: int, enabled: bool, stream=None) -> None:
        self.total, self.count, self.enabled = total, 0, enabled
        self.stream = stream or sys.stdout
        self.bar = None
        if enabled and _isatty(self.stream):
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines instead of a bar, and one line that says why
                tqdm = None
                print("graphgpo demo: tqdm is not installed, so progress comes as plain lines "
                      "(pip install tqdm for a progress bar)", file=sys.stderr, flush=True)
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


METRICS = ("final_success", "auc", "episodes_to_target", "credit_accuracy", "credit_accuracy_solved_groups",
           "advantage_seconds")


def _collect(cfg: DemoConfig, rows: Sequence[Estimator], task: Task,
             runs: dict[str, list[RunResult]]) -> dict[str, Any]:
    def values(label: str, metric: str) -> list:
        return [getattr(r, metric) for r in runs[label]]

    summary = {label: {m: summarize(values(label, m)) for m in METRICS} for label in runs}
    baseline = BASELINE if BASELINE in runs else None
    paired = {label: {m: paired_difference(values(label, m), values(baseline, m)) for m in METRICS}
              for label in runs if baseline is not None and label != baseline}
    cfg_dict = asdict(cfg)
    cfg_dict["estimators"] = list(cfg.labels)
    cfg_dict["lr"], cfg_dict["entropy_coef"] = cfg.learning_rate, cfg.entropy  # the values actually used
    return {
        "config": cfg_dict,
        "estimators": [{"label": r.label, "method": r.method, "options": dict(r.options), "memory": r.memory}
                       for r in rows],
        "baseline": baseline,
        "task": {"env": task.name, "levels": len(task.levels), "states": int(task.next.shape[0]),
                 "max_steps": task.max_steps, "start_distance": task.dist[task.starts].tolist(),
                 "episodes_per_run": cfg.iterations * cfg.episodes_per_iteration},
        "seeds": [r.seed for r in next(iter(runs.values()))],
        "summary": summary,
        "paired": paired,
        "runs": {label: [_run_record(r) for r in rs] for label, rs in runs.items()},
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
