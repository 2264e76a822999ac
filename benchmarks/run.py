"""Run the graphgpo benchmarks and write ``benchmarks/RESULTS.md``.

From the repository root::

    python -m benchmarks.run                      # everything (tens of minutes on 2 cores)
    python -m benchmarks.run --quick --out /tmp/r.md   # seconds-long smoke run on tiny batches
    python -m benchmarks.run --shapes large-text,sweep --repeat 3

Shapes: alfworld, large-text, large-int, huge, alfworld-similar, long-horizon, sweep (see benchmarks/data.py).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import data, impls  # noqa: E402
from benchmarks.report import Row, ShapeResult, batch_stats, machine_info, render  # noqa: E402
from benchmarks.timing import best_of_interleaved  # noqa: E402

ALL_SHAPES = (*data.SHAPES, "sweep")
QUADRATIC_SKIP = {"huge"}  # shapes on which the published style is not run


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plan(name: str, batch: data.Batch, engine, reference) -> tuple[list[impls.Impl], list[Row]]:
    """What to time on one shape, and the rows that are skipped (with the reason)."""
    todo: list[impls.Impl] = []
    skipped: list[Row] = []
    if batch.shape.states == "similar-text":
        return impls.similar_impls(batch, engine), skipped
    if name.startswith("sweep-"):
        if engine is not None:
            todo += impls.engine_impls(
                batch, engine, methods=("graphgpo",), extra_threads=(), fingerprint=False
            )
        else:
            skipped.append(Row("engine/graphgpo/1", "engine graphgpo, 1 thread", note="n/a (no engine)"))
        return todo, skipped
    if name in QUADRATIC_SKIP:
        skipped += [
            Row(f"published/{m}", f"published style, {m}", note="skipped (quadratic)") for m in impls.METHODS
        ]
    else:
        todo += impls.published_impls(batch)
    if reference is not None:
        todo += impls.python_impls(batch, reference)
    else:
        skipped += [
            Row(f"python/{m}", f"linear Python (reference), {m}", note="n/a (graphgpo.testing not importable)")
            for m in impls.METHODS
        ]
    try:
        import xxhash  # noqa: F401

        todo += impls.xxh3_impls(batch)
    except ImportError:
        skipped.append(Row("xxh3", "xxh3_128 per state (yardstick)", note="n/a (pip install xxhash)"))
    if engine is not None:
        todo += impls.engine_impls(batch, engine)
    else:
        skipped.append(Row("engine/graphgpo/1", "engine", note="n/a (engine not available)"))
    return todo, skipped


def run_shape(shape: data.Shape, engine, reference, args) -> ShapeResult:
    start = time.perf_counter()
    batch = data.generate(shape)
    result = ShapeResult(shape, batch_stats(batch))
    _log(f"[{shape.name}] {len(batch):,} rows generated in {time.perf_counter() - start:.1f} s")
    todo, skipped = plan(shape.name, batch, engine, reference)
    outputs: dict[str, tuple[str, np.ndarray]] = {}  # key -> (method, advantages)
    done: set[str] = set()
    for impl in todo:
        if impl.key in done:
            continue
        batch_of = [i for i in todo if i.together is not None and i.together == impl.together] or [impl]
        done.update(i.key for i in batch_of)
        rows = [Row(i.key, i.label) for i in batch_of]
        try:
            timings = best_of_interleaved(
                [(i.prepare, i.call) for i in batch_of],
                repeat=args.repeat,
                slow_s=args.slow_s,
                budget_s=args.budget_s,
                cold=impl.cold,
            )
        except Exception as exc:  # one broken implementation must not hide the others' numbers
            for i, row in zip(batch_of, rows):
                row.note = f"error: {type(exc).__name__}: {exc}"[:200]
                _log(f"[{shape.name}] {i.label}: {row.note}")
            result.rows += rows
            continue
        for i, row, timing in zip(batch_of, rows, timings):
            row.seconds, row.cpu_seconds, row.runs = timing.seconds, timing.cpu_seconds, timing.describe_runs()
            if i.method is not None:
                outputs[i.key] = (i.method, np.asarray(timing.output, dtype=np.float64))
            _log(f"[{shape.name}] {i.label}: {row.seconds * 1e3:,.1f} ms ({row.runs})")
        result.rows += rows
    for row in result.rows:
        if row.key not in outputs:
            continue
        method, values = outputs[row.key]
        # The reference of a shape: linear Python, or the official-style loop on "similar-text" shapes.
        ref = next((k for k in (f"python/{method}", f"official/{method}") if k in outputs), None)
        if ref is not None:
            row.max_diff = float(np.max(np.abs(values - outputs[ref][1]), initial=0.0))
    result.rows += skipped
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny batches, one run each (a smoke test)")
    parser.add_argument(
        "--shapes", default=",".join(ALL_SHAPES), help=f"comma-separated subset of {', '.join(ALL_SHAPES)}"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed runs after the warm-up (default 5, quick 1)"
    )
    parser.add_argument(
        "--out",
        default=str(impls.REPO_ROOT / "benchmarks" / "RESULTS.md"),
        help="where to write the Markdown report",
    )
    parser.add_argument(
        "--slow-s",
        type=float,
        default=20.0,
        help="a warm-up run longer than this is the only run (default 20 s)",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=60.0,
        help="cut the repeats of one measurement to about this many seconds (default 60)",
    )
    parser.add_argument(
        "--engine",
        choices=("graphgpo", "reference"),
        default="graphgpo",
        help="'reference' times graphgpo.testing.reference as a STAND-IN engine (harness testing only)",
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    names = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = sorted(set(names) - set(ALL_SHAPES))
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; choose from {', '.join(ALL_SHAPES)}")

    load_at_start = os.getloadavg()
    engine, engine_desc = impls.load_engine(args.engine)
    reference = impls.load_reference()
    _log(f"engine: {engine_desc}")
    if reference is None:
        _log("linear Python: graphgpo.testing.reference not importable, skipped")

    shapes = data.QUICK_SHAPES if args.quick else data.SHAPES
    results = {name: run_shape(shapes[name], engine, reference, args) for name in names if name != "sweep"}
    sweep = []
    if "sweep" in names:
        for rows in data.QUICK_SWEEP_ROWS if args.quick else data.SWEEP_ROWS:
            sweep.append(run_shape(data.sweep_shape(rows), engine, reference, args))

    command = "python -m benchmarks.run " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    report = render(
        info=machine_info(engine, engine_desc, load_at_start),
        results=results,
        sweep=sweep,
        command=command.strip(),
        quick=args.quick,
        stand_in=args.engine == "reference",
        engine=engine,
    )
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    _log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
