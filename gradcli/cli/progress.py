"""A progress bar for long work (Jacobians and Hessians in chunks, many
specs), drawn on stderr only when stderr is a terminal.

The engine reports progress through a plain callback `(done, total)` and
knows nothing about terminals; this module is the CLI's side of it.  When
stderr is not a TTY (a pipe, a file, CI, `2>log`), the bar does nothing at
all, so scripts and `--format json | jq` see exactly the same bytes with or
without it.  On a terminal it waits `delay` seconds before it first draws
(quick runs never flash a bar), redraws at most every `min_interval`
seconds, and erases itself when closed, so the results that follow on
stdout start on a clean line.

    with progress_bar("jacobian") as bar:
        blocks = problem.jacobian(progress=bar)

Why not `click.progressbar` (click 8.x)?  On a pipe it still prints its
label once, which would change what scripts see on stderr; it draws as
soon as it is entered, so quick runs flash a bar; it redraws on every
step; it ends by leaving the bar and a newline on the terminal instead of
erasing it; and it counts steps towards one fixed length, while the
engine reports `(done, total)` per batched run, whose totals differ.
Each of those is a behaviour tests/test_progress.py pins; covering them on
top of click's bar would take about as much code as this one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

Clock = Callable[[], float]


class ProgressBar:
    """A `(done, total)` callback drawing `label [#####-----]  45%  9/20`."""

    def __init__(self, label: str, stream: TextIO | None = None, delay: float = 0.5,
                 min_interval: float = 0.1, width: int | None = None,
                 clock: Clock = time.monotonic) -> None:
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _is_tty(self.stream)
        self.delay, self.min_interval = delay, min_interval
        self.width = width
        self.clock = clock
        self.start = clock()
        self.last_draw: float | None = None
        self.drawn = 0  # length of the line on screen, to erase it

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = self.clock()
        if now - self.start < self.delay:
            return
        finished = done >= total
        if (self.last_draw is not None and not finished
                and now - self.last_draw < self.min_interval):
            return
        self.last_draw = now
        self._draw(self.line(done, total))

    def line(self, done: int, total: int) -> str:
        """The text of the bar, fitted to the terminal width."""
        done = max(0, min(done, total))
        counts = f"{100 * done // total:3d}%  {done}/{total}"
        columns = self.width or _columns(self.stream)
        room = max(10, min(40, columns - len(self.label) - len(counts) - 6))
        filled = room * done // total
        text = f"{self.label} [{'#' * filled}{'-' * (room - filled)}] {counts}"
        return text[: max(1, columns - 1)]

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self.drawn - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self.drawn = len(text)

    def close(self) -> None:
        """Erase the bar (if one was drawn) so later output starts cleanly."""
        if self.enabled and self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def progress_bar(label: str, stream: TextIO | None = None, delay: float = 0.5,
                 min_interval: float = 0.1) -> ProgressBar:
    """A bar for `label` on `stream` (default: the current sys.stderr)."""
    return ProgressBar(label, stream, delay, min_interval)


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _columns(stream: TextIO) -> int:
    import os
    import shutil

    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size().columns
