"""``graphgpo demo`` on the command line: its options (with their defaults in ``--help``), one-line errors,
and the printed table."""

from __future__ import annotations

import argparse
import sys
import textwrap
import types
from typing import NoReturn

from .config import ENV_SETTINGS, ESTIMATORS, LABELS, TUNED, ConfigError, DemoConfig
from .report import format_table, legend, timing_line
from .runner import DemoError, available_cpus, run_demo

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
    parser.add_argument("--estimators", default=",".join(d.labels),
                        help="comma-separated rows of the table, from: " + ", ".join(LABELS) + " (default: all)")
    parser.add_argument("--out", default=d.out,
                        help="output directory for results.json, runs.jsonl and the PNGs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny budget: a smoke test of a few seconds")
    parser.add_argument("--jobs", type=int, default=d.jobs,
                        help="processes training runs in parallel; 0: one per available CPU, here "
                             f"{available_cpus()} (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and engine threads per run (default: 1 for torch, the model is tiny; for the "
                             "engine 1 with several processes, else its default)")
    parser.add_argument("--policy", choices=sorted(TUNED), default=d.policy,
                        help="mlp: MLP over the one-hot board text; tabular: one softmax per state "
                             "(default: %(default)s)")
    tuned = ", ".join(f"{v['lr']:g} for {k}" for k, v in TUNED.items())
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate, shared by all estimators (default: the tuned value, {tuned})")
    parser.add_argument("--target", type=float, default=d.target,
                        help="success rate for 'episodes to target' (default: %(default)s)")
    parser.add_argument("--omega", type=float, default=None,
                        help="omega of every row that sets one (default: each row's own; "
                             f"{_row_values('omega')})")
    parser.add_argument("--gamma", type=float, default=None,
                        help=f"gamma of every row that sets one (default: each row's own; {_row_values('gamma')})")
    parser.add_argument("--no-progress", action="store_true",
                        help="print nothing while training (default: a bar on a terminal, else one line per run)")


def _row_values(option: str) -> str:
    return ", ".join(f"{row.label} {row.options[option]}" for row in ESTIMATORS if option in row.options) or "none"


def _one_line_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    estimators = tuple(" ".join(e.split()) for e in args.estimators.split(",") if e.strip())
    overrides = {k: getattr(args, k) for k in ("omega", "gamma") if getattr(args, k) is not None}
    return DemoConfig(env=args.env, episodes=args.episodes, seeds=args.seeds, first_seed=args.first_seed,
                      estimators=estimators, out=args.out, quick=args.quick, threads=args.threads, jobs=args.jobs,
                      policy=args.policy, lr=args.lr, target=args.target, overrides=overrides,
                      progress=not args.no_progress)


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
    task = results["task"]
    print()
    print(f"{cfg.env}: {task['levels']} levels, {task['episodes_per_run']} episodes per run, {cfg.seeds} seeds, "
          f"groups of {cfg.rollouts} rollouts x {cfg.groups} levels per iteration")
    print(format_table(results))
    print(textwrap.fill(legend(results), width=110))
    print("\n" + textwrap.fill(f"Took {timing_line(results)}.", width=110))
    print("Wrote " + ", ".join(results["files"].values()))
    if "plot_error" in results:
        print(f"{prog}: error: drawing the figures failed ({results['plot_error']}); the results are kept in "
              f"{results['files']['json']}", file=sys.stderr)
        return 1
    return 0


def _option_name(exc: ConfigError) -> str:
    """The config error as the command line spells it: ``first_seed must ...`` -> ``first-seed must ...``."""
    name, _, rest = str(exc).partition(" ")
    return f"{name.replace('_', '-')} {rest}"
