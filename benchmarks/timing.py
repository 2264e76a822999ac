"""Best-of-k wall-clock timing with a warm-up run and fresh inputs per run."""

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
    """One call with the garbage collector off (as ``timeit`` does); returns (wall s, CPU s, output)."""
    gc.collect()
    gc.disable()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        output = call(inputs)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        gc.enable()
    return seconds, cpu, output


def best_of(
    prepare: Callable[[], Any], call: Callable[[Any], Any], *, repeat: int, slow_s: float, budget_s: float
) -> Timing:
    """Time ``call(prepare())``: a warm-up run, then up to ``repeat`` timed runs; keep the fastest.

    ``prepare`` runs outside the timer before every call (fresh inputs each time). If the warm-up run
    takes longer than ``slow_s`` it is reported as the only run; otherwise the number of timed runs is
    cut so that they fit in about ``budget_s`` seconds (at least one).
    """
    first, first_cpu, output = _timed_call(call, prepare())
    if first > slow_s:
        return Timing(first, first_cpu, 1, warmed_up=False, output=output)
    runs = max(1, min(repeat, int(budget_s / max(first, 1e-9))))
    best, best_cpu = float("inf"), 0.0
    for _ in range(runs):
        seconds, cpu, _ = _timed_call(call, prepare())
        if seconds < best:
            best, best_cpu = seconds, cpu
    return Timing(best, best_cpu, runs, warmed_up=True, output=output)
