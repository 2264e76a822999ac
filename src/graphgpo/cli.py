"""The ``graphgpo`` command line (also ``python -m graphgpo``).

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
from pathlib import Path

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("train a small policy on bundled Sokoban with grpo, gigpo and graphgpo and compare them",
             "graphgpo.demo:"),
    "demo-llm": ("warm-start a small chat LLM on bundled Sokoban, then train it with GraphGPOTrainer (grpo vs "
                 "graphgpo) on CPU and compare held-out success", "graphgpo.trl.demo:"),
    "info": ("print the version, how the engine was built, and which optional packages are installed",
             "graphgpo.cli:_info_"),
    "docs": ("list the documentation shipped with the package, or print one page (e.g. graphgpo docs spec)",
             "graphgpo.cli:_docs_"),
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


def _version() -> str:
    """The engine's version; the installed metadata if the engine cannot be loaded (info says why)."""
    try:
        from . import _core

        return _core.version()
    except Exception:  # report something: --version must not crash on a broken build
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("graphgpo") + " (engine not loadable: run graphgpo info)"
        except PackageNotFoundError:
            return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: prints ``graphgpo X.Y.Z`` and exits 0 (the version is read only when asked for)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"graphgpo {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphgpo", description="Graph-based credit assignment for LLM agents.",
        epilog="Run 'graphgpo COMMAND --help' for a command's options; 'graphgpo docs' lists the documentation.")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {**COMMANDS, **_plugin_commands()}
    for name, (help_text, target) in commands.items():
        # No options here (not even -h): each command's options are registered only when it runs, so a
        # broken optional dependency of one command never breaks the others or the top-level --help.
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.set_defaults(_target=target)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``graphgpo`` console script and of ``python -m graphgpo``."""
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

#: Optional packages and what each one enables (``info`` prints this next to the installed version).
OPTIONAL_PACKAGES: dict[str, str] = {
    "numpy": "required",
    "torch": "torch tensors as inputs, graphgpo demo, the TRL trainer",
    "trl": "graphgpo.trl.GraphGPOTrainer (pip install '.[trl]')",
    "matplotlib": "graphgpo demo's figures",
    "tqdm": "progress bars",
    "networkx": "GraphBatch.to_networkx",
}


def _info_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object (the same fields)")


def _collect_info() -> dict[str, object]:
    info: dict[str, object] = {"python": sys.version.split()[0]}
    try:
        import graphgpo

        info["version"] = graphgpo.__version__
        info["build_info"] = graphgpo.build_info()
        info["docs"] = graphgpo.docs_path()
    except Exception as exc:  # report, don't crash: info is what users run when something is broken
        info["error"] = f"{type(exc).__name__}: {exc}"
    for mod in OPTIONAL_PACKAGES:
        try:
            info[mod] = getattr(importlib.import_module(mod), "__version__", "installed")
        except Exception:
            info[mod] = None
    return info


def _info_text(info: dict[str, object]) -> list[str]:
    lines = [f"graphgpo {info.get('version', '(not importable)')} on Python {info['python']}"]
    if "error" in info:
        lines.append(f"  error: the package cannot be loaded: {info['error']}")
    build = info.get("build_info")
    if isinstance(build, dict):
        cxx = int(build.get("cxx_standard", 0)) // 100 % 100
        lines += [
            f"  engine: C++{cxx} built with {build.get('compiler')}, C ABI version {build.get('abi_version')}"
            + (", debug build" if build.get("debug") else ""),
            f"  threads: {build.get('threads')} by default (num_threads=None); results never depend on it",
            "  CUDA kernels: " + ("compiled in (graphgpo.cuda)" if build.get("cuda")
                                  else "not compiled in (CPU build; GRAPHGPO_CUDA=ON pip install . adds them)"),
        ]
    if info.get("docs"):
        found = Path(str(info["docs"])).is_dir()
        lines.append(f"  docs: {info['docs']}" + (" (graphgpo docs lists them)" if found
                                                   else " is missing: reinstall graphgpo"))
    lines.append("optional packages (version, or 'missing', and what each enables):")
    width = max(len(m) for m in OPTIONAL_PACKAGES)
    for mod, use in OPTIONAL_PACKAGES.items():
        version = info.get(mod) or "missing"
        lines.append(f"  {mod:<{width}}  {version!s:<12} {use}")
    return lines


def _info_main(args: argparse.Namespace) -> int:
    info = _collect_info()
    if args.json:
        print(json.dumps(info, default=str))
    else:
        print("\n".join(_info_text(info)))
    return 0 if "error" not in info else 1


# -- graphgpo docs ---------------------------------------------------------------------------------------

def _docs_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("page", nargs="?", help="a page to print, by name (spec, guide, ...); "
                                                "without it, list the pages and where they are")


_FIRST_PAGES = ("guide", "spec")


def _docs_main(args: argparse.Namespace) -> int:
    from ._paths import docs_path

    root = Path(docs_path())
    # The guide and the contract first, then the other pages by name.
    found = sorted(root.glob("*.md"), key=lambda p: (p.stem.lower() not in _FIRST_PAGES,
                                                     _FIRST_PAGES.index(p.stem.lower())
                                                     if p.stem.lower() in _FIRST_PAGES else 0, p.stem.lower()))
    pages = {p.stem.lower(): p for p in found}
    if not pages:
        print(f"graphgpo docs: no documentation found in {root} (reinstall graphgpo)", file=sys.stderr)
        return 1
    if args.page is None:
        print(f"Documentation shipped with graphgpo, in {root}:")
        for name, path in pages.items():
            print(f"  {name:<10} {path.name:<14} {_title(path)}")
        print("Print one with: graphgpo docs NAME")
        return 0
    page = pages.get(args.page.lower().removesuffix(".md"))
    if page is None:
        print(f"graphgpo docs: no page {args.page!r}; pages: {', '.join(pages)}", file=sys.stderr)
        return 2
    sys.stdout.write(page.read_text(encoding="utf-8"))
    return 0


def _title(path: Path) -> str:
    """The first heading of a Markdown page."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
