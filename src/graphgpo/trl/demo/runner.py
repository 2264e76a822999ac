"""The whole LLM demo: warm start, then every estimator on every seed, then results.json and the figures.

Settings, optional packages and the output directory are checked before anything trains; each finished
RL run is appended to ``runs.jsonl`` as it ends, and ``results.json`` is written before any figure is
drawn, so a plotting failure (or a Ctrl-C halfway) keeps what was computed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .config import LLMDemoConfig, validate
from .rl import RunOutput, RunSpec, train_one
from .warm import build_warm_start, make_level_sets

__all__ = ["DemoError", "run_llm_demo", "REQUIRED"]

#: Packages a run imports (pip name -> module name).
REQUIRED = {"torch": "torch", "trl": "trl", "matplotlib": "matplotlib"}


class DemoError(RuntimeError):
    """A run cannot start or could not finish; the message fits on one line and says what to do."""


def _check_packages() -> None:
    missing = []
    for pip_name, module in REQUIRED.items():
        try:
            importlib.import_module(module)
        except Exception:
            missing.append(pip_name)
    if missing:
        raise DemoError(f"the LLM demo needs {' and '.join(missing)}: pip install 'graphgpo[trl]' {' '.join(missing)}")


def _prepare_out(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DemoError(f"cannot write to the output directory {str(out)!r} ({exc.strerror or exc})") from None
    return out


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


class Progress:
    """A tqdm bar on a terminal, plain lines otherwise (logs, CI, pipes); silent when disabled."""

    def __init__(self, enabled: bool, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.bar = None
        self.tty = enabled and getattr(self.stream, "isatty", lambda: False)()

    def start(self, total: int, desc: str) -> None:
        self.close()
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, dynamic_ncols=True, file=self.stream)
        self.total, self.desc, self.count = total, desc, 0

    def update(self, count: int, note: str = "") -> None:
        self.count = count
        if self.bar is not None:
            self.bar.n = count
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            self.bar.refresh()

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_llm_demo(cfg: LLMDemoConfig) -> dict[str, Any]:
    """Run everything ``cfg`` defines and return (and write) the results."""
    validate(cfg)
    _check_packages()
    out = _prepare_out(cfg.out)
    progress = Progress(cfg.progress)
    started = time.perf_counter()
    load_before = _load_average()

    levels = make_level_sets(cfg)
    sft_total = cfg.sft_epochs * -(-cfg.sft_levels // cfg.sft_batch)
    progress.start(sft_total, "warm start (SFT)")
    progress.line(f"warm start: {cfg.sft_levels} noisy solutions, {sft_total} steps")
    warm = build_warm_start(
        cfg, levels, out, on_sft_step=lambda step, total, loss: progress.update(step, f"loss {loss:.3f}")
    )
    progress.close()
    before = sum(r.success for r in warm.before) / len(warm.before)
    from ...envs import SokobanEnvironment
    from .play import random_success

    floor = random_success(levels.eval, lambda: SokobanEnvironment(**cfg.env_kwargs()), seed=cfg.first_seed)
    progress.line(f"a uniformly random mover solves {floor:.3f} of the held-out levels")
    progress.line(
        f"warm start: {warm.parameters / 1e6:.2f}M parameters, warm start {warm.seconds['warm_start']:.0f} s, "
        f"held-out success {before:.3f} ({sum(r.success for r in warm.before)}/{len(warm.before)})"
    )

    specs = [
        RunSpec(
            estimator=est, seed=seed, checkpoint=warm.checkpoint, out_dir=str(out / "runs" / f"{est}-{seed}"),
            train_levels=levels.rl, eval_levels=levels.eval * cfg.eval_samples, env=cfg.env_kwargs(), steps=cfg.rl_steps,
            num_generations=cfg.num_generations, levels_per_step=cfg.levels_per_step, learning_rate=cfg.rl_lr,
            max_completion_length=_completion_budget(warm.episode_tokens_mean, cfg), max_new_tokens=cfg.max_new_tokens,
            omega=cfg.omega, temperature=cfg.temperature, threads=cfg.threads,
            eval_temperature=cfg.eval_temperature, eval_seed=cfg.first_seed,
        )
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds)
        for est in cfg.estimators
    ]
    runs_log = out / "runs.jsonl"
    runs_log.write_text("")
    runs: list[RunOutput] = []

    def finished(run: RunOutput) -> None:
        runs.append(run)
        with runs_log.open("a") as f:
            f.write(json.dumps(asdict(run)) + "\n")
        progress.line(
            f"{run.estimator} seed {run.seed}: held-out success {sum(run.eval_success)}/{len(run.eval_success)} "
            f"(warm start {sum(r.success for r in warm.before)}), {run.seconds:.0f} s"
        )

    t0 = time.perf_counter()
    progress.start(len(specs) * cfg.rl_steps, "RL")
    _run_all(specs, cfg.workers, progress, finished)
    progress.close()
    rl_seconds = time.perf_counter() - t0

    from .report import summarize, write_figures

    results = {
        "config": asdict(cfg),
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": _load_average()},
        "versions": _versions(),
        "warm_start": {
            "checkpoint": warm.checkpoint,
            "vocab_size": warm.vocab_size,
            "parameters": warm.parameters,
            "episode_tokens_mean": warm.episode_tokens_mean,
            "sft_losses": warm.sft_losses,
            "seconds": warm.seconds,
            "eval": [asdict(r) for r in warm.before],
        },
        "random_mover_success": floor,
        "runs": [asdict(r) for r in sorted(runs, key=lambda r: (r.estimator, r.seed))],
        "seconds": {"total": time.perf_counter() - started, "rl": rl_seconds, "cpu": _cpu_seconds()},
    }
    results["summary"] = summarize(results)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    results["figures"] = write_figures(out, results)
    return results


def _completion_budget(mean_tokens: float, cfg: LLMDemoConfig) -> int:
    """Completion tokens of an episode that uses every move (the warm start's mean episode, scaled)."""
    per_move = mean_tokens / (0.5 * (cfg.min_distance + cfg.max_distance) + 2)
    return int(per_move * (cfg.max_steps + 2))


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers (user + system): the cost of the run whatever
    else the machine was doing."""
    import resource

    return sum(
        u.ru_utime + u.ru_stime
        for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def _versions() -> dict[str, str]:
    out = {}
    for name in ("graphgpo", "torch", "transformers", "trl"):
        try:
            out[name] = str(getattr(importlib.import_module(name), "__version__", "?"))
        except Exception:  # pragma: no cover
            out[name] = "missing"
    return out


_progress_counter = None


def _init_worker(counter) -> None:
    global _progress_counter
    _progress_counter = counter


def _tick() -> None:
    if _progress_counter is not None:
        with _progress_counter.get_lock():
            _progress_counter.value += 1


def _work(spec: RunSpec) -> RunOutput:
    return train_one(spec, on_step=_tick)


def _run_all(specs: list[RunSpec], workers: int, progress: Progress, finished) -> None:
    """Run ``specs`` in ``workers`` spawned processes (in this process when 1), one torch thread each."""
    if workers <= 1 or len(specs) == 1:
        count = 0

        def step() -> None:
            nonlocal count
            count += 1
            progress.update(count)

        for spec in specs:
            finished(train_one(spec, on_step=step))
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    counter = ctx.Value("i", 0)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(counter,)) as pool:
        pending = {pool.submit(_work, spec) for spec in specs}
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            progress.update(counter.value)
            for future in done:
                finished(future.result())
