"""``graphgpo demo`` on the command line: its options, and printing the table."""

from __future__ import annotations

import argparse

from .config import ENV_SETTINGS, DemoConfig
from .report import format_table
from .runner import run_demo

__all__ = ["add_arguments", "config_from_args", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``graphgpo demo``."""
    d = DemoConfig()
    parser.add_argument("--env", choices=sorted(ENV_SETTINGS), default=d.env, help="bundled environment")
    parser.add_argument("--episodes", type=int, default=d.episodes,
                        help="episode budget per estimator and seed (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=d.seeds, help="seeds per estimator (default %(default)s)")
    parser.add_argument("--estimators", default=",".join(d.estimators),
                        help="comma-separated subset of grpo,gigpo,graphgpo")
    parser.add_argument("--out", default=d.out, help="output directory for the PNGs and results.json")
    parser.add_argument("--quick", action="store_true", help="tiny budget (smoke test, a few seconds)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and engine threads (default: 1 for torch, the model is tiny; engine default)")
    parser.add_argument("--policy", choices=("mlp", "tabular"), default=d.policy,
                        help="mlp: MLP over the one-hot board text; tabular: one softmax per state")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate, shared by all estimators (default: tuned value for --policy)")
    parser.add_argument("--target", type=float, default=d.target, help="success rate for 'episodes to target'")
    parser.add_argument("--omega", type=float, default=d.options["graphgpo"]["omega"], help="GraphGPO omega")
    parser.add_argument("--gamma", type=float, default=d.options["gigpo"]["gamma"], help="GiGPO gamma")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    estimators = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    cfg = DemoConfig(env=args.env, episodes=args.episodes, seeds=args.seeds, estimators=estimators, out=args.out,
                     quick=args.quick, threads=args.threads, policy=args.policy, target=args.target,
                     progress=not args.no_progress)
    cfg.lr = args.lr
    cfg.options["graphgpo"]["omega"] = args.omega
    cfg.options["gigpo"]["gamma"] = args.gamma
    return cfg


def main(args: argparse.Namespace) -> int:
    """Run the demo from parsed arguments; print the table; return an exit status."""
    cfg = config_from_args(args)
    results = run_demo(cfg)
    print()
    print(f"{cfg.env}: {results['task']['levels']} levels, {results['task']['episodes_per_run']} episodes per run, "
          f"{cfg.seeds} seeds, groups of {cfg.rollouts} rollouts x {cfg.groups} levels per iteration")
    print(format_table(results))
    print("mean ± std over seeds. AUC = mean training success. Credit accuracy = share of steps whose advantage "
          "sign\nmatches true progress (exact optimal distance to the goal decreases); see `graphgpo.demo` docs.")
    print(f"\nwall time {results['wall_seconds']:.1f} s; wrote " + ", ".join(results["files"].values()))
    return 0
