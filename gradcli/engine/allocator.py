"""Keep freed numpy buffers in the heap instead of returning them to the OS.

With glibc's defaults a freed buffer above 128 KiB is unmapped or trimmed,
so the next allocation of the same size faults its pages in again.  Planned
programs no longer depend on it for their intermediates: the static memory
plan (memory.py) writes those into buffers kept between calls, and a warm
call allocates only its results (0 page faults a call on the benchmark
workloads, with or without this tuning).  Steps without an in-place form
still allocate (`where`, the softmax family's internals, indexing, `concat`,
pools too large to keep): for them raising the mmap and trim thresholds
still removes the faults (a softmax-and-where gradient on (1000, 64):
451 minor page faults a call untuned, 0 tuned; on the loaded 2-CPU host of
docs/performance.md the wall time did not differ measurably).

It changes the whole process, so the library never does it by itself: the
command line applies it at its entry point (`gradcli.cli.group.main`), and
a program using the Python API opts in with `gradcli.tune_allocator()`.
GRADCLI_MALLOC_TUNING=0 keeps the allocator untouched even then (e.g. when
embedding the CLI in a process that tunes malloc itself).
"""

from __future__ import annotations

import functools
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20   # glibc's maximum for 64-bit
TRIM_THRESHOLD = 256 << 20


@functools.cache
def tune_allocator() -> bool:
    """Once per process; True when glibc accepted the settings."""
    if os.environ.get("GRADCLI_MALLOC_TUNING", "1") == "0":
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to do
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
