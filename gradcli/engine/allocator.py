"""Keep freed numpy buffers in the heap instead of returning them to the OS.

Every op of a program allocates its result.  With glibc's defaults a freed
buffer above 128 KiB is unmapped or trimmed, so the next op of the same size
faults its pages in again: on a 1000x64 float64 chain that is 4/5 of the run
time (500 us where the arithmetic takes 90 us).  Raising the mmap and trim
thresholds once removes that.

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
