"""Best-of-k wall-clock timing with a warm-up run and fresh inputs per run.

Two regimes. *Steady state* (the default, what ``timeit`` measures): the garbage collector runs once
before the series and is off during it, so back-to-back calls find warm caches and running threads.
*Cold start* (``cold=True``): a full ``gc.collect()`` before every call, outside the timer. On a big heap
that walks hundreds of MB, so caches start cold and the engine's worker threads have parked and must be
woken, as on the first call of a training step.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_RUNS = 1000  # timed runs per measurement, at most


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
    min_total_s: float = 0.5,
) -> Timing:
    """Time ``call(prepare())``: a warm-up run, then timed runs; keep the fastest.

    ``prepare`` runs outside the timer before every call (fresh inputs each time). If the warm-up run
    takes longer than ``slow_s`` it is reported as the only run. Otherwise there are at least ``repeat``
    timed runs, more for fast calls (until about ``min_total_s`` of timed calls, like ``timeit``'s
    autorange), all cut to fit in about ``budget_s`` seconds (at least one). ``cold``: see the module
    docstring.
    """
    return best_of_interleaved(
        [(prepare, call)], repeat=repeat, slow_s=slow_s, budget_s=budget_s, cold=cold, min_total_s=min_total_s
    )[0]


def best_of_interleaved(
    items: list[tuple[Callable[[], Any], Callable[[Any], Any]]],
    *,
    repeat: int,
    slow_s: float,
    budget_s: float,
    cold: bool = False,
    min_total_s: float = 0.5,
) -> list[Timing]:
    """:func:`best_of` for several ``(prepare, call)`` pairs timed in turn, round after round, so that a
    noisy stretch of a shared machine hits all of them alike: for ratios between them (1 vs 2 threads)."""
    gc.collect()
    gc.disable()
    try:
        return _best_of_interleaved(items, repeat, slow_s, budget_s, cold, min_total_s)
    finally:
        gc.enable()


def _best_of_interleaved(items, repeat, slow_s, budget_s, cold, min_total_s) -> list[Timing]:
    def one_run(prepare, call) -> tuple[float, float, Any]:
        inputs = prepare()
        if cold:
            gc.collect()
        return _timed_call(call, inputs)

    started = time.perf_counter()
    firsts = [one_run(prepare, call) for prepare, call in items]
    round_wall_s = time.perf_counter() - started  # with input preparation (and collections)
    round_s = max(sum(seconds for seconds, _, _ in firsts), 1e-9)
    if any(seconds > slow_s for seconds, _, _ in firsts):
        return [Timing(seconds, cpu, 1, warmed_up=False, output=output) for seconds, cpu, output in firsts]
    wanted = max(repeat, math.ceil(min_total_s / round_s))
    runs = max(1, min(wanted, MAX_RUNS, int(budget_s / max(round_wall_s, 1e-9))))
    best = [(float("inf"), 0.0)] * len(items)
    for _ in range(runs):
        for k, (prepare, call) in enumerate(items):
            seconds, cpu, _ = one_run(prepare, call)
            if seconds < best[k][0]:
                best[k] = (seconds, cpu)
    return [
        Timing(seconds, cpu, runs, warmed_up=True, output=first[2])
        for (seconds, cpu), first in zip(best, firsts)
    ]
