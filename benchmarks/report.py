"""Results of a benchmark run: per-shape measurements, ratios, targets and the Markdown report."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.data import Batch, Shape
from benchmarks.impls import METHODS, REPO_ROOT


@dataclass
class Row:
    """One implementation on one shape: its best time, or a note saying why there is none."""

    key: str
    label: str
    seconds: float | None = None
    runs: str = ""
    note: str = ""
    cpu_seconds: float | None = None  # process CPU time of the best run (all threads)
    max_diff: float | None = None  # max |advantage - reference| over the batch


@dataclass
class ShapeResult:
    shape: Shape
    stats: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    def seconds(self, key: str) -> float | None:
        for row in self.rows:
            if row.key == key:
                return row.seconds
        return None


def batch_stats(batch: Batch) -> dict[str, Any]:
    starts = np.r_[0, np.flatnonzero(np.diff(batch.trajectory)) + 1] if len(batch) else np.zeros(0, int)
    return {
        "rows": len(batch),
        "groups": batch.num_groups,
        "trajectories": batch.num_trajectories,
        "success": float(batch.success[starts].mean()) if len(batch) else 0.0,
        "invalid": float(1.0 - batch.valid.mean()) if len(batch) else 0.0,
        "state_mb": batch.text_bytes_total() / 1e6,
        "states": batch.shape.states,
    }


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or den is None or den <= 0 else num / den


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _fmt_rate(rows: int, seconds: float | None) -> str:
    if not seconds:
        return "—"
    rate = rows / seconds
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.1f} K"


def _fmt_x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


# ---------------------------------------------------------------- targets


@dataclass
class Target:
    """A performance target: ``measure(results, sweep)`` gives (measured text, passed or None if n/a)."""

    text: str
    measure: Callable[[dict[str, ShapeResult], list[ShapeResult]], tuple[str, bool | None]]


def _speedup_target(shape: str, slow_key: str, fast_key: str, least: float, *, also_cold: bool = False) -> Callable:
    """``also_cold``: quote the same ratio from a cold start next to it (informative, not judged)."""

    def measure(results, sweep):
        res = results.get(shape)
        ratio = res and _ratio(res.seconds(slow_key), res.seconds(fast_key))
        if ratio is None:
            return "n/a", None
        text = f"{_fmt_x(ratio)} ({_fmt_time(res.seconds(slow_key))} vs {_fmt_time(res.seconds(fast_key))})"
        cold = also_cold and _ratio(res.seconds(f"{slow_key}/cold"), res.seconds(f"{fast_key}/cold"))
        if cold:
            text += f"; cold start {_fmt_x(cold)}"
        return text, ratio >= least

    return measure


def _yardstick_target(shape: str, most: float) -> Callable:
    def measure(results, sweep):
        res = results.get(shape)
        ratio = res and _ratio(res.seconds("engine/graphgpo/1"), res.seconds("xxh3"))
        if ratio is None:
            return "n/a", None
        return (
            f"{_fmt_x(ratio)} the xxh3 time ({_fmt_time(res.seconds('engine/graphgpo/1'))} vs "
            f"{_fmt_time(res.seconds('xxh3'))})",
            ratio <= most,
        )

    return measure


def _under_target(shape: str, key: str, most_s: float) -> Callable:
    def measure(results, sweep):
        res = results.get(shape)
        seconds = res and res.seconds(key)
        if seconds is None:
            return "n/a", None
        return f"{_fmt_time(seconds)} for {res.stats['rows']:,} rows", seconds < most_s

    return measure


def _flat_target(most: float) -> Callable:
    def measure(results, sweep):
        per_row = [
            (r.stats["rows"], r.seconds("engine/graphgpo/1") / r.stats["rows"])
            for r in sweep
            if r.seconds("engine/graphgpo/1")
        ]
        if len(per_row) < 2:
            return "n/a", None
        values = [v for _, v in per_row]
        spread = max(values) / min(values)
        return (
            f"max/min = {spread:.2f} ({min(values) * 1e9:.0f}–{max(values) * 1e9:.0f} ns/row over "
            f"{per_row[0][0]:,}–{per_row[-1][0]:,} rows)",
            spread <= most,
        )

    return measure


TARGETS = (
    Target(
        "large-text: graphgpo (1 thread, hashing included) >= 100x faster than published style (uuid ids)",
        _speedup_target("large-text", "published/graphgpo", "engine/graphgpo/1", 100),
    ),
    Target(
        "large-text: graphgpo (1 thread, hashing included) >= 5x faster than linear Python",
        _speedup_target("large-text", "python/graphgpo", "engine/graphgpo/1", 5),
    ),
    Target(
        "large-text: graphgpo (1 thread, hashing included) within 3x of xxh3",
        _yardstick_target("large-text", 3),
    ),
    Target(
        "large-int: graphgpo (1 thread) >= 20x faster than linear Python",
        _speedup_target("large-int", "python/graphgpo", "engine/graphgpo/1", 20),
    ),
    Target(
        "huge: graphgpo (1 thread) >= 20x faster than linear Python",
        _speedup_target("huge", "python/graphgpo", "engine/graphgpo/1", 20),
    ),
    Target(
        "huge: graphgpo on the 1M-row batch under 1 s (1 thread)",
        _under_target("huge", "engine/graphgpo/1", 1.0),
    ),
    Target(
        "alfworld-similar: graphgpo merge='similar' (1 thread, hashing included) >= 100x faster than the "
        "official-style merging loop",
        _speedup_target("alfworld-similar", "official/graphgpo", "engine/graphgpo-similar/1", 100),
    ),
    Target(
        "sweep: graphgpo time per row flat (within 1.5x) from 10K to 1M rows (1 thread)", _flat_target(1.5)
    ),
    Target(
        "large-text: graphgpo with 2 threads >= 1.7x faster than 1 thread",
        _speedup_target("large-text", "engine/graphgpo/1", "engine/graphgpo/2", 1.7, also_cold=True),
    ),
    Target(
        "large-int: graphgpo with 2 threads >= 1.7x faster than 1 thread",
        _speedup_target("large-int", "engine/graphgpo/1", "engine/graphgpo/2", 1.7, also_cold=True),
    ),
    Target(
        "huge: graphgpo with 2 threads >= 1.7x faster than 1 thread",
        _speedup_target("huge", "engine/graphgpo/1", "engine/graphgpo/2", 1.7, also_cold=True),
    ),
)


def evaluate_targets(results: dict[str, ShapeResult], sweep: list[ShapeResult]) -> list[tuple[str, str, str]]:
    """(target, measured, PASS / FAIL / n/a) for every target."""
    out = []
    for target in TARGETS:
        measured, passed = target.measure(results, sweep)
        out.append((target.text, measured, "n/a" if passed is None else "PASS" if passed else "FAIL"))
    return out


# ---------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "no commit") + (" (working tree has uncommitted changes)" if dirty else "")


def _build_info(engine: Any) -> Any:
    """``engine.build_info()`` (a dict), a message if it raised, or None if the engine has none."""
    info = getattr(engine, "build_info", None)
    if not callable(info):
        return None
    try:
        return info()
    except Exception as exc:  # report, never fail the benchmark over it
        return f"build_info() raised {exc!r}"


def _engine_build(engine: Any) -> str:
    info = _build_info(engine)
    return str(info) if info is not None else "not reported"


def machine_info(engine: Any, engine_desc: str, load_at_start: tuple[float, ...]) -> list[tuple[str, str]]:
    """Rows of the Machine table (the load averages show how busy the shared machine was)."""
    try:
        import xxhash

        xxhash_version = xxhash.VERSION
    except ImportError:
        xxhash_version = "not installed"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return [
        ("date (UTC)", time.strftime("%Y-%m-%d %H:%M", time.gmtime())),
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("numpy", np.__version__),
        ("xxhash", xxhash_version),
        ("load average (1/5/15 min) at start", " / ".join(f"{x:.2f}" for x in load_at_start)),
        ("load average (1/5/15 min) at end", " / ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("engine", engine_desc),
        ("engine build", _engine_build(engine) if engine is not None else "—"),
        ("repository", _git_revision()),
    ]


# ---------------------------------------------------------------- Markdown


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def shape_section(res: ShapeResult) -> list[str]:
    s = res.stats
    n = s["rows"]
    lines = [f"### {res.shape.name}: {res.shape.description}", ""]
    size = f", {s['state_mb']:.1f} MB of state text" if s["state_mb"] else ""
    lines.append(
        f"{n:,} rows, {s['groups']:,} groups, {s['trajectories']:,} trajectories, "
        f"{s['success']:.0%} of trajectories succeed, {s['invalid']:.1%} invalid actions{size}."
    )
    lines.append("")
    table = []
    for row in res.rows:
        diff = "—" if row.max_diff is None else f"{row.max_diff:.1e}"
        ns = f"{row.seconds / n * 1e9:,.0f}" if row.seconds else "—"
        cpu = f"{row.cpu_seconds / row.seconds:.2f}" if row.seconds and row.cpu_seconds is not None else "—"
        time_text = _fmt_time(row.seconds) if row.seconds is not None else row.note
        table.append([row.label, time_text, _fmt_rate(n, row.seconds), ns, cpu, row.runs, diff])
    header = ["implementation", "time", "rows/s", "ns/row", "CPU/wall", "runs", "max abs diff vs reference"]
    lines += _table(header, table)
    baselines = (("published", "published style"), ("published-int", "published style with int64 ids"),
                 ("python", "linear Python"))  # fmt: skip
    ratios = []
    for m in METHODS:
        fast = res.seconds(f"engine/{m}/1")
        if fast is not None:
            ratios += [[f"engine {m} (1 thread) vs {name}", _fmt_x(_ratio(res.seconds(f"{family}/{m}"), fast))]
                       for family, name in baselines]  # fmt: skip
    for m in ("gigpo", "graphgpo"):
        fast = res.seconds(f"engine/{m}-similar/1")
        if fast is not None:
            ratios.append([f"engine {m}, merge='similar' (1 thread) vs the official-style loop",
                           _fmt_x(_ratio(res.seconds(f"official/{m}"), fast))])
    engine_time = res.seconds("engine/graphgpo/1")
    if engine_time is not None:
        xxh3 = res.seconds("xxh3")
        ratios += [
            ["engine graphgpo (1 thread) time / xxh3 time", _fmt_x(_ratio(engine_time, xxh3))],
            ["engine fingerprint time / xxh3 time", _fmt_x(_ratio(res.seconds("engine/fingerprint"), xxh3))],
            ["engine graphgpo: 2 threads vs 1 thread", _fmt_x(_ratio(engine_time, res.seconds("engine/graphgpo/2")))],
            ["engine graphgpo: 2 threads vs 1 thread, cold start",
             _fmt_x(_ratio(res.seconds("engine/graphgpo/1/cold"), res.seconds("engine/graphgpo/2/cold")))],
        ]  # fmt: skip
    if ratios:
        lines += ["", "Speed-ups measured in this run (how many times faster; time ratios are marked):", ""]
        lines += _table(["comparison", "ratio"], ratios)
    return lines + [""]


def sweep_section(sweep: list[ShapeResult]) -> list[str]:
    lines = ["### sweep: time per row, integer states, graphgpo, 1 thread", ""]
    table = []
    for res in sweep:
        n = res.stats["rows"]
        row = next((r for r in res.rows if r.key == "engine/graphgpo/1"), None)
        seconds = row.seconds if row else None
        table.append(
            [
                f"{n:,}",
                _fmt_time(seconds) if seconds is not None else (row.note if row else "—"),
                _fmt_rate(n, seconds),
                f"{seconds / n * 1e9:,.0f}" if seconds else "—",
                row.runs if row else "",
            ]
        )
    lines += _table(["rows", "time", "rows/s", "ns/row", "runs"], table)
    return lines + [""]


METHOD_NOTES = """\
How this was measured (see benchmarks/README.md):
- Every time is the best of k runs after one warm-up run (`time.perf_counter`; the garbage collector runs
  once before each series and is off during it, as `timeit` does): k is at least `--repeat`, more for fast
  calls (until about 0.5 s of timed calls, like `timeit`'s autorange; at most 1000), cut to the time budget.
  A run whose warm-up takes longer than the slow threshold is timed once.
- The engine's graphgpo at 1 and at 2 threads are timed in turn, round after round (their cold-start rows
  likewise), so that a noisy stretch of this shared machine hits both alike.
- "cold start" rows run `gc.collect()` before every call (outside the timer): on a big heap that leaves the
  caches cold and the engine's worker thread parked, as on the first call of a training step. The
  2-thread targets are judged on the steady-state rows; the cold-start ratio is quoted next to them.
- CPU/wall is the process CPU time (all threads) over the wall time of the best run: about 1 for one busy
  thread; with 2 threads it shows whether both really ran at once (the machine is shared; see the load).
- Inputs are prepared outside the timer, each implementation in its own format: the engine gets numpy
  int64 id arrays and the states as a list of `str` (or an int64 array); linear Python gets Python lists;
  the published style gets what verl gives the published code, group and trajectory ids as uuid strings in
  numpy object arrays (it calls `np.where` on them), and a list of states (the "int64 ids" rows give it
  the int64 ids instead). Text states are new `str` objects on every run, so no implementation reuses a
  string hash cached by an earlier run.
- Engine times include hashing the raw states (no precomputed fingerprints).
- The xxh3 yardstick is `[xxhash.xxh3_128_intdigest(b) for b in states]` over the UTF-8 bytes of the same
  states (bytes objects prepared outside the timer); for integer states each row's 8 bytes, and
  `xxh3-buffer` is one hash of the whole int64 buffer.
- "published style" (benchmarks/published_style.py) is written like the published GiGPO/GraphGPO code:
  `np.where` over the whole batch per group and per trajectory, dicts of lists, heapq Dijkstra, Python
  loops; it computes the same float64 numbers as SPEC. Its cost grows with trajectories x rows, so it is
  not run on the 1M-row batch.
- "max abs diff vs reference" compares each estimator's advantages with linear Python on the same batch
  (on alfworld-similar: with the official-style loop, which is the reference of `merge="similar"` there).
- alfworld-similar (`merge="similar"`, similarity 0.95): the official-style loop is the published style
  with the official merging (graphgpo: the recipe's StateCanonicalizer per task, difflib ratio, greedy
  first-fit against first-seen representatives, exact-match cache; gigpo: verl-agent's build_step_group
  loop, no cache), int64 ids. The engine gets the `str` states and merges them itself (hashing included).
"""


def _torch_sees_a_gpu() -> str:
    try:
        import torch
    except ImportError:
        return "no (torch not installed)"
    return "yes" if torch.cuda.is_available() else "no"


def gpu_section(engine: Any) -> list[str]:
    """Where GPU numbers come from, and whether this machine could have produced any (it is not timed here)."""
    info = _build_info(engine)
    built = isinstance(info, dict) and bool(info.get("cuda"))
    return [
        "## GPU",
        "",
        "This command times the CPU engine only. The CUDA path (`graphgpo.cuda`, a `GRAPHGPO_CUDA=ON` build) is",
        "timed against the CPU engine and a torch-only implementation by `python benchmarks/gpu.py` on a CUDA",
        "machine, and checked by `tests/test_cuda.py`; what has and has not run on a GPU is in docs/cuda.md.",
        "",
        f"On this machine: engine built with CUDA: {'yes' if built else 'no'}; a CUDA GPU visible to torch: "
        f"{_torch_sees_a_gpu()}. No GPU timings are reported here.",
        "",
    ]


def render(
    *,
    info: list[tuple[str, str]],
    results: dict[str, ShapeResult],
    sweep: list[ShapeResult],
    command: str,
    quick: bool,
    stand_in: bool,
    engine: Any = None,
) -> str:
    lines = ["# graphgpo benchmark results", "", f"Produced by `{command}`.", ""]
    if quick:
        lines += [
            "**Quick smoke run on tiny batches: the targets below are not meaningful at this size.**",
            "",
        ]
    if stand_in:
        lines += ["**STAND-IN ENGINE: the 'engine' rows time graphgpo.testing.reference, not the C++ engine.**", ""]
    lines += ["## Machine", ""] + _table(["", ""], [[k, v] for k, v in info]) + [""]
    lines += ["## Targets", ""]
    lines += _table(["target", "measured", "result"], [list(t) for t in evaluate_targets(results, sweep)])
    lines += ["", "## Results by shape", ""]
    for res in results.values():
        lines += shape_section(res)
    if sweep:
        lines += sweep_section(sweep)
    lines += gpu_section(engine)
    lines += ["## Method", "", METHOD_NOTES]
    return "\n".join(lines)
