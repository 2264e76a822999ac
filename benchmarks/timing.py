"""Best-of-k wall-clock timing with a warm-up run and fresh inputs per run.

Two regimes. *Steady state* (the default, what ``timeit`` measures): the garbage collector runs once
before the series and is off during it, so back-to-back calls find warm caches and running threads.
*Cold start* (``cold=True``): a full ``gc.collect()`` before every call, outside the timer. On a big heap
that walks hundreds of MB, so caches start cold and the engine's worker threads have parked and must be
woken, as on the first call of a training step.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Timing:
    """The best time of ``runs`` timed calls (``warmed_up`` False: a single run without a warm-up).

    ``cpu_seconds`` is the process CPU time (all threads) of that best run: about ``seconds`` for one busy
    thread, up to k times ``seconds`` when k threads really ran at once.
    """

    seconds: float
    cpu_seconds: float
    runs: int
    warmed_up: bool
    output: Any = None

    def describe_runs(self) -> str:
        if not self.warmed_up:
            return "1 (no warm-up: slow)"
        return f"best of {self.runs}"


def _timed_call(call: Callable[[Any], Any], inputs: Any) -> tuple[float, float, Any]:
    """One call; returns (wall s, CPU s, output)."""
    cpu = time.process_time()
    start = time.perf_counter()
    output = call(inputs)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return seconds, cpu, output


def best_of(
    prepare: Callable[[], Any],
    call: Callable[[Any], Any],
    *,
    repeat: int,
    slow_s: float,
    budget_s: float,
    cold: bool = False,
) -> Timing:
    """Time ``call(prepare())``: a warm-up run, then up to ``repeat`` timed runs; keep the fastest.

    ``prepare`` runs outside the timer before every call (fresh inputs each time). If the warm-up run
    takes longer than ``slow_s`` it is reported as the only run; otherwise the number of timed runs is
    cut so that they fit in about ``budget_s`` seconds (at least one). ``cold``: see the module docstring.
    """
    gc.collect()
    gc.disable()
    try:
        return _best_of(prepare, call, repeat=repeat, slow_s=slow_s, budget_s=budget_s, cold=cold)
    finally:
        gc.enable()


def _best_of(prepare, call, *, repeat: int, slow_s: float, budget_s: float, cold: bool) -> Timing:
    def one_run() -> tuple[float, float, Any]:
        inputs = prepare()
        if cold:
            gc.collect()
        return _timed_call(call, inputs)

    first, first_cpu, output = one_run()
    if first > slow_s:
        return Timing(first, first_cpu, 1, warmed_up=False, output=output)
    runs = max(1, min(repeat, int(budget_s / max(first, 1e-9))))
    best, best_cpu = float("inf"), 0.0
    for _ in range(runs):
        seconds, cpu, _ = one_run()
        if seconds < best:
            best, best_cpu = seconds, cpu
    return Timing(best, best_cpu, runs, warmed_up=True, output=output)
