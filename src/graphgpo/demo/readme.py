"""``python -m graphgpo.demo.readme RESULTS_JSON``: the README's demo numbers, from a demo run.

Rewrites the block of ``README.md`` (``--readme PATH``) between the markers
(:data:`graphgpo.demo.report.BEGIN` / ``END``) from a run's ``results.json``; ``--check`` writes nothing
and exits 1 when the block differs; ``--table`` prints the run's table. So the README's numbers always come from a run of the code, never from
hand edits. (A module of its own, not imported by :mod:`graphgpo.demo`, so ``python -m`` runs it cleanly.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import format_table, legend, readme_block, replace_block

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphgpo.demo.readme",
                                     description="Write a demo run's numbers into the README's demo block.")
    parser.add_argument("results", help="results.json of a demo run")
    parser.add_argument("--readme", default="README.md", help="the Markdown file to rewrite (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the block differs")
    parser.add_argument("--table", action="store_true", help="write nothing; print the run's table")
    args = parser.parse_args(argv)
    try:
        results = json.loads(Path(args.results).read_text())
    except (OSError, ValueError) as exc:
        print(f"{parser.prog}: error: cannot read {args.results}: {exc}", file=sys.stderr)
        return 1
    if args.table:
        print(format_table(results) + "\n" + legend(results))
        return 0
    path = Path(args.readme)
    try:
        text = path.read_text()
        new = replace_block(text, readme_block(results))
    except (OSError, ValueError) as exc:
        print(f"{parser.prog}: error: {path}: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if new != text:
            print(f"{parser.prog}: the demo block of {path} differs from {args.results}; rewrite it with "
                  f"python -m graphgpo.demo.readme {args.results} --readme {path}", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    print(f"wrote the demo block of {path} from {args.results}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
