"""User-facing errors and the exit codes the CLI maps them to.

The engine raises these; only the CLI turns them into messages, so the
library never prints and never exits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_NUMERIC = 3
EXIT_BUG = 70
EXIT_INTERRUPTED = 130  # SIGINT (128 + 2), as shells report it
EXIT_TERMINATED = 143   # SIGTERM (128 + 15)


@dataclass(frozen=True)
class Location:
    """A place in a spec file: 1-based line and column, as editors count."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def shifted(self, columns: int) -> Location:
        return Location(self.file, self.line, self.column + columns)


class AliasLocation(Location):
    """Where a value reached through an alias is: the use (`*name`, first, so
    FILE:LINE:COL is the line to edit) and the anchored text it stands for
    (where an expression's columns are counted)."""

    alias: str
    anchored: Location

    def __init__(self, use: Location, alias: str, anchored: Location) -> None:
        super().__init__(use.file, use.line, use.column)
        object.__setattr__(self, "alias", alias)
        object.__setattr__(self, "anchored", anchored)

    def __str__(self) -> str:
        anchored = self.anchored
        return (f"{self.file}:{self.line}:{self.column} (alias *{self.alias}, defined at "
                f"{anchored.line}:{anchored.column})")

    def shifted(self, columns: int) -> Location:
        return AliasLocation(Location(self.file, self.line, self.column), self.alias,
                             self.anchored.shifted(columns))


class GradcliError(Exception):
    """Base of every error a user can cause; carries its exit code."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, location: Location | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class SpecError(GradcliError):
    """A spec file, an expression or a command-line value is wrong."""


class ShapeError(SpecError):
    """Shapes or dtypes of an op's operands do not fit; located by the caller."""


class NoSymbolicForm(SpecError):
    """An op sympy cannot express (sort, eigh, svd, qr); raised by the
    op's sympy rule, so `check` compares with finite differences only and
    `symbolic` says why it has no closed form."""


class UnconnectedError(SpecError):
    """`--unconnected error` and a source the outputs do not depend on."""


class UndefinedDerivative(SpecError):
    """A derivative asked for at a point where it does not exist or cannot be
    computed reliably (eigenvectors at repeated eigenvalues): raised while
    the derivative program runs, with the numbers that decide it."""


class NumericFault(GradcliError):
    """A non-finite number where the user asked for `--check-finite`."""

    exit_code = EXIT_NUMERIC


def suggest(word: Any, options: Iterable[Any]) -> str:
    """" (did you mean 'x'?)" for the closest of `options`, or "": every
    unknown key or name the user can mistype gets the same hint."""
    import difflib  # only when there is a mistake to explain

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def shortlist(items: Iterable[Any], limit: int = 10, sep: str = ", ") -> str:
    """"a, b, c" — or, past `limit` items, "a, b, …, j … and 29,990 more":
    a message names what it lists, but an .npz of 30,000 members must not
    make a 630 KB line."""
    shown: list[str] = []
    more = 0
    for item in items:
        if len(shown) < limit:
            shown.append(str(item))
        else:
            more += 1
    return sep.join(shown) + (f" … and {more:,} more" if more else "")


def one_line(text: str) -> str:
    """`text` with control characters escaped (`\\n`, `\\x00`): an error is
    one line on stderr even when it quotes a file name with a newline."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
