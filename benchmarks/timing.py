"""Median-of-repeats timing of warm calls, in one process for every peer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def peak_bytes(call: Callable[[], object]) -> int:
    """Peak memory allocated during one warm call (numpy reports its buffers to
    tracemalloc; peers with their own allocators are not comparable this way)."""
    import tracemalloc

    call()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def median_seconds(call: Callable[[], object], budget: float = 0.5, repeats: int = 15) -> float:
    """Median time of one warm call: calls are grouped so each group lasts
    about budget/repeats seconds, which keeps timer resolution out of tiny calls."""
    call()  # warm: compile, plan, caches
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget / repeats / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)
