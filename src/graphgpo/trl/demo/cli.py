"""``graphgpo demo-llm`` (and ``examples/trl_learning.py``) on the command line."""

from __future__ import annotations

import argparse
import sys
import types
from dataclasses import fields, replace
from typing import NoReturn

from .config import ConfigError, LLMDemoConfig, validate

__all__ = ["add_arguments", "config_from_args", "main"]

# Options shown on the command line (dataclass field -> help); every default is printed by --help.
_OPTIONS = {
    "out": "output directory for results.json, runs.jsonl, the checkpoint and learning_curves.png",
    "seeds": "RL seeds per estimator",
    "first_seed": "runs use seeds first-seed .. first-seed + seeds - 1",
    "workers": "RL runs in parallel (processes with one torch thread each)",
    "threads": "torch threads per process (1: on a small CPU, one thread per run is fastest for tiny models)",
    "rl_steps": "RL steps per estimator and seed",
    "rl_lr": "RL learning rate",
    "num_generations": "rollouts per level (one graph per level)",
    "levels_per_step": "levels per RL step",
    "sft_levels": "levels (noisy optimal solutions) in the warm start",
    "sft_epochs": "warm-start epochs",
    "sft_lr": "warm-start learning rate",
    "noise": "probability that a warm-start move is replaced by a random solvable one",
    "eval_levels": "held-out levels played before and after RL",
    "eval_samples": "episodes per held-out level",
    "eval_temperature": "sampling temperature of the evaluation (0: greedy)",
    "omega": "GraphGPO omega (the official Sokoban value)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = LLMDemoConfig()
    parser.error = types.MethodType(_one_line_error, parser)  # type: ignore[method-assign]
    parser.add_argument("--estimators", default=",".join(d.estimators),
                        help="comma-separated advantage estimators (default: %(default)s)")
    types_of = {f.name: type(getattr(d, f.name)) for f in fields(d)}
    for name, text in _OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=types_of[name], default=getattr(d, name),
                            help=f"{text} (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of the same pipeline in about a minute (for CI); checks that tool "
                             "calls happened and that per-turn advantages differ")
    parser.add_argument("--no-progress", action="store_true", help="print nothing while training")


def _one_line_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")


def config_from_args(args: argparse.Namespace) -> LLMDemoConfig:
    values = {name: getattr(args, name) for name in _OPTIONS}
    estimators = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    cfg = replace(LLMDemoConfig(), **values, estimators=estimators, progress=not args.no_progress)
    return cfg.with_quick() if args.quick else cfg


def main(args: argparse.Namespace) -> int:
    import os

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")  # everything is built in-process: nothing to download
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from .report import format_table
    from .runner import DemoError, run_llm_demo

    try:
        cfg = config_from_args(args)
        validate(cfg)
        results = run_llm_demo(cfg)
    except (ConfigError, DemoError) as exc:
        print(f"graphgpo demo-llm: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    print(format_table(results))
    print(f"wrote {cfg.out}/results.json and {', '.join(results['figures'])}")
    if cfg.quick:
        problems = quick_check(results)
        if problems:
            print("quick check failed: " + "; ".join(problems), file=sys.stderr)
            return 1
        print("quick check passed: tool calls happened and per-turn advantages differ")
    return 0


def quick_check(results: dict) -> list[str]:
    """What ``--quick`` asserts: episodes with tool calls, and per-turn advantages that differ."""
    problems = []
    calls = [p.get("tools/call_frequency", 0.0) for run in results["runs"] for p in run["curve"]]
    if not calls or max(calls) <= 0:
        problems.append("no episode made a tool call")
    graph_runs = [r for r in results["runs"] if r["estimator"] != "grpo"]
    if graph_runs and not any(r["turn_stats"]["episodes_with_distinct_turns"] > 0 for r in graph_runs):
        problems.append("no episode had turns with different advantages")
    return problems
