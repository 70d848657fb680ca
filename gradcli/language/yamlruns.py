"""Long runs of `name: number` lines, read without the event parser.

A spec of 200,000 scalar inputs is 200,000 lines `  x1: 0.5`, and libyaml
alone spends some 2 µs a line making their events and marks; the budget
for loading them is 2 s (docs/limits.md).  So a run of at least MIN_RUN
consecutive lines of exactly that form, at one indentation, is read here by
regular expressions, and the parser is given the text with the run's
interior (all lines but its first and last) turned into as many blank lines
of as many characters: every offset, line and column after it stays what
it was.

The reader then confirms what the lines are, because a regular expression
cannot see context (the lines might be inside a block scalar, a quoted
string or a flow collection): it must meet the first line's key as a plain
key of a block mapping, its value as the plain scalar written there, and
the last line's key as the very next event.  Then the first and last lines
are keys of one block mapping at their indentation, and so is every
interior line (each is followed by a line at the same indentation, so no
value continues onto the next line), and the interior's entries are put
between them.  If any run is not confirmed, or reading fails, the reader
reads the original text the ordinary way: the fast lane never changes a
value, a location or an error, only how long they take.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_RUN = 64
PLAIN_FLOAT = r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?"  # a float under YAML 1.1, always
# A decimal integer under YAML 1.1 ("010" is octal there, so not this), of
# at most 18 digits (Python refuses to convert more than 4300).
PLAIN_INT = r"[-+]?(?:0|[1-9][0-9]{0,17})"
_NUMBER = rf"(?:{PLAIN_FLOAT}|{PLAIN_INT})"
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,127}"  # libyaml allows simple keys up to 1024 characters
_LINE = rf"{_NAME}:[ ]+{_NUMBER}[ ]*\n"
# A maximal run of such lines at one indentation: the backreference repeats
# the first line's indentation, and a name's first character is no space.
# Both are compiled when first used (re keeps them), not at import: every
# `gradcli grad` imports this module, few specs have a run.
_RUN = rf"^([ ]*){_LINE}(?:\1{_LINE})*"
_ENTRY = rf"[ ]*({_NAME}):[ ]+({_NUMBER})[ ]*\n"


@dataclass
class Run:
    """The run's first key (an offset) and value (its text), its last key,
    and the interior's entries in order."""

    text: str
    first_key: int
    first_value: str
    last_key: int
    interior: tuple[int, int]  # [start, end) of the interior lines
    keys: tuple[str, ...]
    values: list[float | int]
    _offsets: dict[str, tuple[int, int]] | None = field(default=None, repr=False)

    def offsets(self, key: str) -> tuple[int, int] | None:
        """The offsets of an interior key and of its value (found when first
        asked for: only error messages and origins ask)."""
        if self._offsets is None:
            self._offsets = {m.group(1): (m.start(1), m.start(2)) for m in
                             re.compile(_ENTRY).finditer(self.text, *self.interior)}
        return self._offsets.get(key)


@dataclass(frozen=True)
class Runs:
    """The text the parser reads, and the runs by their first key's offset."""

    text: str
    by_first_key: dict[int, Run]


def find_runs(text: str, implicit_first: str, is_string: Callable[[str], bool]) -> Runs | None:
    """The runs of `text` (None if it has none).  YAML 1.1 makes some plain
    keys no strings (`on` a bool, `null` None): a key starting with one of
    `implicit_first` (where the resolver's implicit types start) is asked
    `is_string`, and a run with another key is left to the parser, as is a
    run with a duplicate key (the parser reports it)."""
    entry = re.compile(_ENTRY)
    special = re.compile(rf"^[ ]*([{re.escape(implicit_first)}][A-Za-z0-9_]*):", re.MULTILINE)
    found: dict[int, Run] = {}
    pieces: list[str] = []
    done = 0
    for match in re.finditer(_RUN, text, re.MULTILINE):
        start, end = match.span()
        if text.count("\n", start, end) < MIN_RUN:
            continue
        first_end = text.index("\n", start) + 1
        last_start = text.rindex("\n", start, end - 1) + 1
        interior = text[first_end:last_start]
        # every interior line is `name: number` (the match says so): its
        # words alternate "name:" and number
        words = interior.split()
        keys, values = tuple(word[:-1] for word in words[0::2]), words[1::2]
        if len(set(keys)) < len(keys) or \
                not all(map(is_string, set(special.findall(interior)))):
            continue
        # a float has the line's only ".", an integer none
        numbers = list(map(float, values)) if interior.count(".") == len(values) else \
            [float(v) if "." in v else int(v) for v in values]
        first = entry.match(text, start)
        last = entry.match(text, last_start)
        assert first is not None and last is not None  # the run's own lines
        found[first.start(1)] = Run(text, first.start(1), first.group(2), last.start(1),
                                    (first_end, last_start), keys, numbers)
        pieces += [text[done:first_end], " " * (len(interior) - len(keys)), "\n" * len(keys)]
        done = last_start
    if not found:
        return None
    pieces.append(text[done:])
    return Runs("".join(pieces), found)
