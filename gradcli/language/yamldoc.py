"""A parsed YAML document and where each of its values was written.

The reader (yamlread.py) keeps a character offset per value and key: a spec
of 200,000 inputs has 400,000 of them, and an int costs less than a
Location.  Offsets become FILE:LINE:COL only when a message or an origin
asks for one; the entries of long runs (yamlruns.py) are found in their
text then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gradcli.errors import Location

if TYPE_CHECKING:
    import numpy as np

    from gradcli.language.yamlruns import Run

Path = tuple[Any, ...]
# What YAML counts as a line break besides \r (libyaml's marks count these).
_BREAKS = (0x0A, 0x85, 0x2028, 0x2029)
Found = Location | int  # a Location, or a character offset made one when asked for


class Positions:
    """Character offsets of one text as 1-based lines and columns; the
    line starts are found once, when the first location is asked for."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: np.ndarray | None = None
        # a value reached through an alias is located at its anchored text
        # each time the alias is expanded (up to MAX_NODES times)
        self.made: dict[tuple[str, int], Location] = {}

    def location(self, file: str, offset: int) -> Location:
        made = self.made.get((file, offset))
        if made is None:
            if self.starts is None:
                self.starts = _line_starts(self.text)
            line = int(self.starts.searchsorted(offset, side="right"))
            made = Location(file, line, offset - int(self.starts[line - 1]) + 1)
            self.made[(file, offset)] = made
        return made


def _line_starts(text: str) -> np.ndarray:
    """Offsets where lines start: after \\n, \\r (but not the \\r of \\r\\n),
    NEL, LS and PS.  With numpy over the code points, as a spec of 200,000
    lines is read in ~30 ms this way and ~200 ms by a regular expression.
    numpy is imported here, not above: shell completion reads documents and
    must start without it."""
    import numpy as np

    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    ends = codes == _BREAKS[0]
    for code in _BREAKS[1:]:
        ends |= codes == code
    lone_cr = codes == 0x0D
    lone_cr[:-1] &= codes[1:] != 0x0A
    return np.concatenate(([0], np.flatnonzero(ends | lone_cr) + 1))


@dataclass(frozen=True)
class Document:
    """The parsed document plus the location of every value and mapping key
    (character offsets into the text where it was read, made Locations when
    asked for, and the entries of long runs, found in their text when asked
    for)."""

    data: Any
    file: str
    values: dict[Path, Found] = field(default_factory=dict)
    keys: dict[Path, Found] = field(default_factory=dict)
    quoted: dict[Path, bool] = field(default_factory=dict)
    positions: Positions | None = None
    runs: tuple[tuple[Path, Run], ...] = ()

    def _location(self, found: Found) -> Location:
        if isinstance(found, Location):
            return found
        assert self.positions is not None  # offsets come with their text
        return self.positions.location(self.file, found)

    def _in_run(self, path: Path, which: int) -> Found | None:
        for mapping, run in self.runs:
            if path[:-1] == mapping:
                offsets = run.offsets(path[-1])
                if offsets is not None:
                    return offsets[which]
        return None

    def at(self, path: Path) -> Location:
        """Location of the value at `path`, or of its nearest located parent."""
        for end in range(len(path), -1, -1):
            key = tuple(path[:end])
            found = self.values.get(key)
            if found is None and self.runs and key:
                found = self._in_run(key, 1)
            if found is not None:
                return self._location(found)
        return Location(self.file, 1, 1)

    def key_at(self, path: Path) -> Location:
        path = tuple(path)
        found = self.keys.get(path)
        if found is None and self.runs and path:
            found = self._in_run(path, 0)
        return self._location(found) if found is not None else self.at(path)
