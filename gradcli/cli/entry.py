"""The console entry point (`gradcli`, `python -m gradcli`): Ctrl-C and
`kill` end gradcli with one line and the conventional exit code, at any
moment, the imports included.

So this module imports only the standard library's lightest modules and
installs the handlers first; click, numpy and the rest of gradcli are
imported after (`gradcli.cli.group.run`).  A signal raises `Stopped`
where the program is, like Python's own KeyboardInterrupt, so every
`finally` runs and an `-o` file being written is removed (render/atomic.py);
`Stopped` is a BaseException that is not a KeyboardInterrupt, so neither
click (which turns a KeyboardInterrupt into "Aborted!" and exit 1) nor
gradcli's "internal error" net (`except Exception`) catches it.

Exit codes: 130 after SIGINT, 143 after SIGTERM (128 + the signal's
number, as shells report them).  A signal the parent set to be ignored
(`nohup`, a background job of a non-interactive shell) stays ignored.

`GRADCLI_TEST_PAUSE=POINT` makes gradcli stop at POINT (`imports`,
`compute`, `write`), say so on stderr and wait for a signal: the tests send
their signal after reading that line, so they need no timing guesses.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, NoReturn

PAUSE_VARIABLE = "GRADCLI_TEST_PAUSE"
PAUSE_SECONDS = 120  # a paused run that gets no signal goes on (a test then fails, not hangs)


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived; raised where the program was."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        # imported here: gradcli.errors costs dataclasses (and inspect) at start
        from gradcli.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

        return EXIT_TERMINATED if self.signum == signal.SIGTERM else EXIT_INTERRUPTED

    @property
    def line(self) -> str:
        return "gradcli: terminated" if self.signum == signal.SIGTERM else "gradcli: interrupted"


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


Handlers = dict[int, Any]


def install() -> Handlers:
    """Our handlers for SIGINT and SIGTERM, unless the parent ignores them;
    returns the previous ones (`restore` puts them back)."""
    previous: Handlers = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        try:
            previous[signum] = signal.signal(signum, _raise)
        except ValueError:  # not the main thread (an embedding program): leave them
            break
    return previous


def restore(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def pause(point: str) -> None:
    """The test hook (see the module's docstring); nothing unless asked for."""
    if os.environ.get(PAUSE_VARIABLE) != point:
        return
    os.write(2, f"gradcli: test pause at {point}\n".encode())
    deadline = time.monotonic() + PAUSE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)


def pause_at(point: str) -> Callable[[], None]:
    return lambda: pause(point)


def _stop(exc: Stopped) -> NoReturn:
    # A second Ctrl-C while we say goodbye must not print a traceback.
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except ValueError:
            break
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    try:
        os.write(2, (exc.line + "\n").encode())
    except OSError:
        pass
    sys.exit(exc.exit_code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: handlers first, then the imports, then the command."""
    previous = install()
    try:
        try:
            pause("imports")
            from gradcli.cli.group import run  # the heavy part: click, then each command's

            code = run(argv)
        except Stopped as exc:
            _stop(exc)
    finally:
        restore(previous)  # matters when main() is called in-process (the tests)
    sys.exit(code)
