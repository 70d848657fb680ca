"""Median-of-repeats timing of warm calls (one engine per process: worker.py)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(call: Callable[[], object], budget: float = 0.5, repeats: int = 15,
                   least: int = 3) -> float:
    """Median wall time of one warm call (see `medians`)."""
    return medians(call, budget, repeats, least)[0]


def medians(call: Callable[[], object], budget: float = 0.5, repeats: int = 15,
            least: int = 3) -> tuple[float, float]:
    """Median wall time and median CPU time (all the process's threads) of one
    warm call: calls are grouped so each group lasts about budget/repeats
    seconds, which keeps timer resolution out of tiny calls; a call slower
    than the budget allows still gets `least` samples.  CPU time leaves out
    the time the process waited for a CPU other work held (but counts threads
    spinning while they wait for each other)."""
    call()  # warm: compile, plan, caches
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget / repeats / once))
    if number == 1:
        repeats = max(least, min(repeats, int(budget / once)))
    walls, cpus = [], []
    for _ in range(repeats):
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(number):
            call()
        walls.append((time.perf_counter() - start) / number)
        cpus.append((time.process_time() - cpu) / number)
    return statistics.median(walls), statistics.median(cpus)
