"""The ``graphgpo`` command line.

Subcommands are listed in :data:`COMMANDS` as ``name -> (help, "module:prefix")``. The module is imported
only when its command runs, and must define ``<prefix>add_arguments(parser)`` and ``<prefix>main(args) ->
int`` (the prefix is empty for modules that implement a single command, such as :mod:`graphgpo.demo`).
To add a command, add one line to the table. Installed packages can also contribute commands through the
``graphgpo.commands`` entry-point group; each entry point loads a module with ``add_arguments``/``main``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("train a small policy on bundled Sokoban with grpo, gigpo and graphgpo and compare them",
             "graphgpo.demo:"),
    "demo-llm": ("warm-start a small chat LLM on bundled Sokoban, then train it with GraphGPOTrainer (grpo vs "
                 "graphgpo) on CPU and compare held-out success", "graphgpo.trl.demo:"),
    "info": ("print the version and build information", "graphgpo.cli:_info_"),
}


def _resolve(target: str):
    module_name, _, prefix = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, prefix + "add_arguments"), getattr(module, prefix + "main")


def _plugin_commands() -> dict[str, tuple[str, str]]:
    """Commands declared by other installed packages (entry-point group ``graphgpo.commands``)."""
    try:
        from importlib.metadata import entry_points

        found = entry_points(group="graphgpo.commands")
    except Exception:  # pragma: no cover - broken metadata must not break the CLI
        return {}
    return {ep.name: (f"(plugin) {ep.value}", ep.value + ":") for ep in found if ep.name not in COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphgpo", description="Graph-based credit assignment for LLM agents.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {**COMMANDS, **_plugin_commands()}
    for name, (help_text, target) in commands.items():
        # No options here (not even -h): each command's options are registered only when it runs, so a
        # broken optional dependency of one command never breaks the others or the top-level --help.
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.set_defaults(_target=target)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``graphgpo`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known, _ = parser.parse_known_args(argv)
    if known.command is None:
        parser.print_help()
        return 0
    add_arguments, run = _resolve(known._target)
    # Re-parse with the selected command's own options.
    sub = argparse.ArgumentParser(prog=f"graphgpo {known.command}",
                                  description={**COMMANDS, **_plugin_commands()}[known.command][0])
    add_arguments(sub)
    args = sub.parse_args(argv[argv.index(known.command) + 1:])
    return int(run(args) or 0)


# -- graphgpo info ---------------------------------------------------------------------------------------

def _info_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _info_main(args: argparse.Namespace) -> int:
    info: dict[str, object] = {"python": sys.version.split()[0]}
    try:
        import graphgpo

        info["version"] = getattr(graphgpo, "__version__", "unknown")
        build_info = getattr(graphgpo, "build_info", None)
        if callable(build_info):
            info["build_info"] = build_info()
        info["advantages"] = callable(getattr(graphgpo, "advantages", None))
    except Exception as exc:  # report, don't crash: info is what users run when something is broken
        info["error"] = f"{type(exc).__name__}: {exc}"
    for mod in ("numpy", "torch", "matplotlib", "tqdm", "networkx", "trl"):
        try:
            info[mod] = getattr(importlib.import_module(mod), "__version__", "installed")
        except Exception:
            info[mod] = None
    if args.json:
        print(json.dumps(info, default=str))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0 if "error" not in info else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
