"""Bounds on the work a command does, in place of wall-clock limits (which
fail on a loaded machine and pass on a fast one whatever the code does).

`measured(memory)` runs a block under a memory cap and records its cost:

- memory: on Linux the block's address space is capped at `memory` bytes
  above what the process maps at the start (RLIMIT_AS), so an allocation
  beyond it fails at once with MemoryError, even one whose pages the OS
  would map lazily (gradcli then reports running out of memory instead of
  the expected refusal), and `peak` is the growth of resident memory
  (VmHWM, reset at the start).  Elsewhere `peak` is tracemalloc's peak
  (Python objects and numpy arrays; exact, but ten times slower on the
  pure-Python YAML parsing of the large hostile specs);
- `nodes`: graph nodes built (`gradcli.engine.graph.Node`);
- `fifos`: FIFOs opened.  Opening one blocks until a writer appears, so
  while measuring, an open of a FIFO raises instead (the command then fails
  rather than hangs) and is recorded here.

`assert_bounded(work, ...)` checks the record (and that the command did
not report running out of memory).  No tests here.
"""

from __future__ import annotations

import builtins
import io
import os
import re
import stat
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gradcli.engine.graph import Node

MiB = 1 << 20
LINUX = sys.platform.startswith("linux") and os.access("/proc/self/clear_refs", os.W_OK)


@dataclass
class Work:
    memory: int
    peak: int = 0
    nodes: int = 0
    fifos: list[str] = field(default_factory=list)


def _status(key: str) -> int:
    """A size from /proc/self/status, in bytes."""
    with open("/proc/self/status") as handle:
        found = re.search(rf"^{key}:\s+(\d+) kB", handle.read(), re.M)
    assert found is not None, key
    return int(found.group(1)) * 1024


def _is_fifo(path: Any) -> bool:
    if isinstance(path, int):
        return False
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, TypeError, ValueError):
        return False


def _guarded(real: Callable[..., Any], work: Work) -> Callable[..., Any]:
    def opener(path: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_fifo(path):
            work.fifos.append(os.fspath(path))
            raise OSError(f"the test refuses to open the FIFO {path} (it would block)")
        return real(path, *args, **kwargs)

    return opener


@contextmanager
def _memory(work: Work) -> Iterator[None]:
    if LINUX:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _status("VmSize") + work.memory
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # VmHWM := VmRSS
        start = _status("VmRSS")
        resource.setrlimit(resource.RLIMIT_AS, (min(c for c in (cap, soft, hard) if c >= 0), hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            work.peak = _status("VmHWM") - start
        return
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        yield
    finally:
        work.peak = tracemalloc.get_traced_memory()[1] - start
        if not was_tracing:
            tracemalloc.stop()


@contextmanager
def measured(memory: int) -> Iterator[Work]:
    work = Work(memory)
    real_init, real_open, real_os_open = Node.__init__, builtins.open, os.open

    def counting_init(self: Node, *args: Any, **kwargs: Any) -> None:
        work.nodes += 1
        real_init(self, *args, **kwargs)

    Node.__init__ = counting_init  # type: ignore[method-assign]
    builtins.open = io.open = _guarded(real_open, work)  # type: ignore[assignment]
    os.open = _guarded(real_os_open, work)
    try:
        with _memory(work):
            yield work
    finally:
        Node.__init__ = real_init  # type: ignore[method-assign]
        builtins.open = io.open = real_open
        os.open = real_os_open


def assert_bounded(work: Work, what: Any, nodes: int, stderr: str = "") -> None:
    """Within the limits; `stderr`, the command's, must not report running out
    of memory: on Linux that is how an allocation beyond the cap ends."""
    assert "out of memory" not in stderr, (what, f"beyond the {work.memory / MiB:.0f} MiB cap",
                                           stderr)
    assert work.peak <= work.memory, (what, f"peak {work.peak / MiB:.1f} MiB > "
                                            f"{work.memory / MiB:.0f} MiB")
    assert work.nodes <= nodes, (what, f"{work.nodes} graph nodes > {nodes}")
    assert not work.fifos, (what, f"opened FIFOs {work.fifos}")


def peak_bytes(call: Callable[[], object]) -> int:
    """The most memory Python objects held at once during `call()` (tracemalloc)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
