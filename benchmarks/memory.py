"""Graph memory benchmark (issue 13's targets), measured in one run, written into ``benchmarks/RESULTS.md``.

From the repository root::

    python -m benchmarks.memory                 # the full run (about a minute), updates RESULTS.md
    python -m benchmarks.memory --quick --out /tmp/memory.md   # a seconds-long smoke run

What it does: the large-int batch (62K rows, 128 groups; ``benchmarks/data.py``) is the call. The memory is
filled first with 79 variants of it (each state id XOR-ed with a per-variant salt, tasks numbered apart),
10,112 tasks, bounded at 100 edges per task and 1M edges in all: a memory holding 1M edges over about 10K
tasks, the call's own 128 tasks among them. Then, interleaved (a noisy stretch of a shared machine hits both
alike), the call without memory and the call with it, on 1 and 2 threads, wall and CPU time; each call with
memory stores its edges, so the memory churns as in training (new edges in, the least recently seen out).
Then the bytes per stored edge (``stats()``), and ``save`` / ``load`` of the 1M-edge memory.

Targets: with memory at most 2x the time without; at most 48 bytes per stored edge; save and load of 1M edges
under 1 s each.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/memory.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import graphgpo  # noqa: E402
from benchmarks import data  # noqa: E402

BEGIN, END = "<!-- memory benchmark: begin -->", "<!-- memory benchmark: end -->"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def fill(batch: data.Batch, variants: int, per_task: int, total: int) -> tuple[graphgpo.GraphMemory, dict]:
    """A memory of ``variants`` salted copies of the batch's tasks, bounded as given."""
    states = batch.states()
    groups = np.unique(batch.group, return_inverse=True)[1].astype(np.int64)
    num_groups = int(groups.max()) + 1
    memory = graphgpo.GraphMemory(max_edges_per_task=per_task, max_edges=total)
    rng = np.random.default_rng(13)
    base = {"group": batch.group, "trajectory": batch.trajectory, "success": batch.success, "valid": batch.valid}
    for v in range(variants):
        salt = 0 if v == 0 else int(rng.integers(1, 1 << 62))
        graphgpo.advantages("graphgpo", memory=memory, task=groups + num_groups * v, state=states ^ salt, **base)
    call = {**base, "state": states}
    return memory, {"call": call, "task": groups}


def interleaved_minima(calls, rounds: int) -> list[tuple[float, float]]:
    """(best wall seconds, best CPU seconds) of each call, timed in turn for ``rounds`` rounds after a
    warm-up (garbage collection off). CPU is the process CPU time (all threads): the work, which a shared
    machine's scheduler does not stretch the way it stretches wall time."""
    import gc

    for c in calls:
        c()
    best = [(float("inf"), float("inf")) for _ in calls]
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for k, c in enumerate(calls):
                cpu, wall = time.process_time(), time.perf_counter()
                c()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                best[k] = (min(best[k][0], wall), min(best[k][1], cpu))
    finally:
        gc.enable()
    return best


def run(quick: bool) -> list[str]:
    shape = data.QUICK_SHAPES["large-int"] if quick else data.SHAPES["large-int"]
    batch = data.generate(shape)
    variants, per_task, total = (8, 100, 20_000) if quick else (79, 100, 1_000_000)
    load_before = os.getloadavg()
    started = time.perf_counter()
    memory, inputs = fill(batch, variants, per_task, total)
    fill_s = time.perf_counter() - started
    stats = memory.stats()
    call, task = inputs["call"], inputs["task"]

    lines = []
    timings = {}
    rounds = 5 if quick else 60
    for threads in (1, 2):
        calls = (lambda t=threads: graphgpo.advantages("graphgpo", num_threads=t, **call),
                 lambda t=threads: graphgpo.advantages("graphgpo", num_threads=t, memory=memory, task=task, **call),
                 # Control: a call of about the same CPU time without memory (the plain call twice).
                 lambda t=threads: [graphgpo.advantages("graphgpo", num_threads=t, **call) for _ in range(2)])
        timings[threads] = interleaved_minima(calls, rounds)
    after = memory.stats()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.ggm"
        save_s, load_s = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            memory.save(path)
            save_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            loaded = graphgpo.GraphMemory.load(path)
            load_s.append(time.perf_counter() - t0)
        file_mb = path.stat().st_size / 1e6
        assert loaded.stats()["edges"] == after["edges"]
    load_after = os.getloadavg()

    n = len(batch)
    bytes_per_edge = after["bytes"] / max(after["edges"], 1)
    lines += [
        BEGIN,
        "## Graph memory (`python -m benchmarks.memory`)",
        "",
        f"The large-int batch ({n:,} rows, {batch.num_groups} groups) as the call; the memory filled with "
        f"{variants} salted variants of it ({variants * batch.num_groups:,} tasks, at most {per_task} edges per "
        f"task and {total:,} in all) in {fill_s:.1f} s: {stats['edges']:,} edges over {stats['tasks']:,} tasks "
        f"before the timed calls, {after['edges']:,} over {after['tasks']:,} after. Every timed call with memory "
        "stores its edges (new ones in, the least recently seen out). The two calls are timed in turn; CPU is "
        "the process CPU time (all threads). The machine is shared: load average "
        f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} at start, "
        f"{load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} at end "
        f"(commit {_commit()}, graphgpo {graphgpo.__version__}).",
        "",
        "| call | wall time | CPU time |",
        "|---|---|---|",
    ]
    for threads, ((plain_wall, plain_cpu), (mem_wall, mem_cpu), (twice_wall, twice_cpu)) in timings.items():
        label = f"{threads} thread{'s' if threads > 1 else ''}"
        lines.append(f"| graphgpo, {label} | {_ms(plain_wall)} | {_ms(plain_cpu)} |")
        lines.append(f"| graphgpo + memory, {label} | {_ms(mem_wall)} | {_ms(mem_cpu)} |")
        lines.append(f"| control: graphgpo twice in a row, no memory, {label} | {_ms(twice_wall)} | "
                     f"{_ms(twice_cpu)} |")
    lines += [
        "",
        f"Best of {rounds} rounds each (garbage collection off). The target is judged on CPU time: on a shared "
        "machine a call that outlasts its scheduler time slice waits for the CPU, which stretches a 5 ms call "
        "far more than a 3 ms one. The control row shows it: two plain calls in a row, no memory at all, take "
        "about as much wall time as the call with memory. The wall-time ratio is shown beside the target.",
        "",
        "| target | measured | result |",
        "|---|---|---|",
    ]
    for threads, ((plain_wall, plain_cpu), (mem_wall, mem_cpu), _) in timings.items():
        ratio = mem_cpu / plain_cpu
        lines.append(f"| call with a memory of {after['edges']:,} edges over {after['tasks']:,} tasks at most 2x "
                     f"the call without ({threads} thread{'s' if threads > 1 else ''}) | {ratio:.2f}x CPU time "
                     f"({_ms(mem_cpu)} vs {_ms(plain_cpu)}); wall time {mem_wall / plain_wall:.2f}x "
                     f"({_ms(mem_wall)} vs {_ms(plain_wall)}) | {'PASS' if ratio <= 2 else 'FAIL'} |")
    lines.append(f"| at most 48 bytes per stored edge | {bytes_per_edge:.1f} bytes ({after['bytes']:,} bytes, "
                 f"{after['edges']:,} edges) | {'PASS' if bytes_per_edge <= 48 else 'FAIL'} |")
    lines.append(f"| save of {after['edges']:,} edges under 1 s | {min(save_s):.3f} s (best of 3; "
                 f"{file_mb:.1f} MB, fsync included) | {'PASS' if min(save_s) < 1 else 'FAIL'} |")
    lines.append(f"| load of {after['edges']:,} edges under 1 s | {min(load_s):.3f} s (best of 3; checksum and "
                 f"every edge checked) | {'PASS' if min(load_s) < 1 else 'FAIL'} |")
    lines += ["", END]
    return lines


def _commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write(lines: list[str], out: Path) -> None:
    """Replace the section between the markers in ``out`` (append it if there is none)."""
    section = "\n".join(lines) + "\n"
    text = out.read_text() if out.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small memory and few runs (a smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the markdown file to update")
    args = parser.parse_args(argv)
    lines = run(args.quick)
    write(lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
