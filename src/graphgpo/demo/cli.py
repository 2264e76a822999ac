"""``graphgpo demo`` on the command line: its options (with their defaults in ``--help``), one-line errors,
and the printed table."""

from __future__ import annotations

import argparse
import sys
import types
from typing import NoReturn

from .config import ENV_SETTINGS, ESTIMATORS, TUNED, ConfigError, DemoConfig
from .report import format_table
from .runner import DemoError, run_demo

__all__ = ["add_arguments", "config_from_args", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``graphgpo demo``. Values are range-checked by :func:`~graphgpo.demo.config.validate`."""
    d = DemoConfig()
    # A bad value gives one line naming the option (argparse would print the whole usage first).
    parser.error = types.MethodType(_one_line_error, parser)  # type: ignore[method-assign]
    parser.add_argument("--env", choices=sorted(ENV_SETTINGS), default=d.env,
                        help="bundled environment (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=d.episodes,
                        help="episode budget per estimator and seed (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=d.seeds, help="seeds per estimator (default: %(default)s)")
    parser.add_argument("--first-seed", type=int, default=d.first_seed,
                        help="runs use seeds first-seed .. first-seed + seeds - 1 (default: %(default)s)")
    parser.add_argument("--estimators", default=",".join(d.estimators),
                        help=f"comma-separated subset of {','.join(ESTIMATORS)} (default: %(default)s)")
    parser.add_argument("--out", default=d.out,
                        help="output directory for results.json, runs.jsonl and the PNGs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny budget: a smoke test of a few seconds")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and engine threads (default: 1 for torch, the model is tiny; engine default)")
    parser.add_argument("--policy", choices=sorted(TUNED), default=d.policy,
                        help="mlp: MLP over the one-hot board text; tabular: one softmax per state "
                             "(default: %(default)s)")
    tuned = ", ".join(f"{v['lr']:g} for {k}" for k, v in TUNED.items())
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate, shared by all estimators (default: the tuned value, {tuned})")
    parser.add_argument("--target", type=float, default=d.target,
                        help="success rate for 'episodes to target' (default: %(default)s)")
    parser.add_argument("--omega", type=float, default=d.options["graphgpo"]["omega"],
                        help="GraphGPO omega (default: %(default)s, the official Sokoban value)")
    parser.add_argument("--gamma", type=float, default=d.options["gigpo"]["gamma"],
                        help="GiGPO gamma (default: %(default)s, the official value)")
    parser.add_argument("--no-progress", action="store_true",
                        help="print nothing while training (default: a bar on a terminal, else one line per run)")


def _one_line_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    estimators = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    cfg = DemoConfig(env=args.env, episodes=args.episodes, seeds=args.seeds, first_seed=args.first_seed,
                     estimators=estimators, out=args.out, quick=args.quick, threads=args.threads,
                     policy=args.policy, target=args.target, progress=not args.no_progress)
    cfg.lr = args.lr
    cfg.options["graphgpo"]["omega"] = args.omega
    cfg.options["gigpo"]["gamma"] = args.gamma
    return cfg


def main(args: argparse.Namespace) -> int:
    """Run the demo from parsed arguments; print the table; return an exit status.

    0: done; 1: the run could not start or finish, or a figure failed (results.json is kept); 2: a bad
    option value. Every error is one line on stderr.
    """
    prog = "graphgpo demo"
    try:
        cfg = config_from_args(args)
        results = run_demo(cfg)
    except ConfigError as exc:
        print(f"{prog}: error: --{_option_name(exc)}", file=sys.stderr)
        return 2
    except DemoError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    print()
    print(f"{cfg.env}: {results['task']['levels']} levels, {results['task']['episodes_per_run']} episodes per run, "
          f"{cfg.seeds} seeds, groups of {cfg.rollouts} rollouts x {cfg.groups} levels per iteration")
    print(format_table(results))
    print("mean ± std over seeds. AUC = mean training success. Credit accuracy = share of steps whose advantage "
          "sign\nmatches true progress (exact optimal distance to the goal decreases); see `graphgpo.demo` docs.")
    print(f"\nwall time {results['wall_seconds']:.1f} s; wrote " + ", ".join(results["files"].values()))
    if "plot_error" in results:
        print(f"{prog}: error: drawing the figures failed ({results['plot_error']}); the results are kept in "
              f"{results['files']['json']}", file=sys.stderr)
        return 1
    return 0


def _option_name(exc: ConfigError) -> str:
    """The config error as the command line spells it: ``first_seed must ...`` -> ``first-seed must ...``."""
    name, _, rest = str(exc).partition(" ")
    return f"{name.replace('_', '-')} {rest}"
