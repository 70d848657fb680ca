"""One array written to a binary stream chunk by chunk: json, yaml and csv.

The writers take the elements in C order, in pieces of any length, so a
caller that produces a result piece by piece (a sweep over points, blocks of
a Jacobian) can write it as it goes and never hold it whole:

    writer = JsonArray(stream, shape, dtype)
    for block in blocks:          # the next elements in C order, any length
        writer.write(block)
    writer.close()                # checks the count, writes the closing brackets

`write_array(writer, arr)` feeds a whole array in pieces of `CHUNK`
elements (no copy of the array, one chunk at a time for a non-contiguous
one).  Each piece is spelled by spell.py (no Python object per element),
with the brackets, separators and indices of its position laid out beside
the numbers, and written with one `stream.write`: memory is O(chunk).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from .spell import (
    CSV,
    G_FORMAT,
    JSON,
    YAML,
    Dialect,
    constant,
    pack,
    side_by_side,
    spell,
    spell_integers,
)

# Elements per piece: spelling takes ~400 bytes of work space per element
# (~6.5 MB), and a piece this long makes numpy's per-call overhead negligible.
CHUNK = 1 << 14


def pieces(arr: np.ndarray, size: int | None = None) -> Iterator[np.ndarray]:
    """The elements of `arr` in C order, as 1-D arrays of at most `size`
    (default `CHUNK`) elements (views when `arr` is C-contiguous, else a
    copy of one piece)."""
    size = size or CHUNK
    if arr.ndim == 0:
        yield arr.reshape(1)
    elif arr.flags.c_contiguous or arr.ndim == 1:
        flat = arr.reshape(-1) if arr.flags.c_contiguous else arr
        for start in range(0, flat.size, size):
            yield np.ascontiguousarray(flat[start:start + size])
    else:
        per_row = math.prod(arr.shape[1:])
        if per_row > size:
            for row in arr:
                yield from pieces(row, size)
        elif per_row:
            rows = size // per_row
            for start in range(0, arr.shape[0], rows):
                yield arr[start:start + rows].reshape(-1)


class ArrayWriter:
    """Writes one array of `shape` and `dtype` to `stream`: `write(values)`
    takes the next elements in C order (any number, any shape: they are
    flattened), `close()` checks that all of them came and finishes the
    text.  Subclasses spell the elements (`_write`) and the end (`_close`)."""

    def __init__(self, stream: BinaryIO, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.stream = stream
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.size = math.prod(self.shape)
        self.done = 0

    def write(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        if not np.can_cast(values.dtype, self.dtype, "same_kind"):
            raise TypeError(f"cannot write {values.dtype} values as {self.dtype}")
        values = values.astype(self.dtype, copy=False).reshape(-1)
        if self.done + len(values) > self.size:
            raise ValueError(f"more than the {self.size} elements of shape {self.shape}")
        for start in range(0, len(values), CHUNK):  # a large block still costs O(chunk)
            piece = values[start:start + CHUNK]
            self._write(piece, self.done)
            self.done += len(piece)

    def close(self) -> None:
        if self.done != self.size:
            raise ValueError(f"{self.done} of the {self.size} elements of shape {self.shape} "
                             "were written")
        self._close()

    def _write(self, values: np.ndarray, start: int) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


Progress = Callable[[int], None]  # called with the number of elements just written


def write_array(writer: ArrayWriter, arr: np.ndarray, size: int | None = None,
                progress: Progress | None = None) -> None:
    """All of `arr` through `writer`, in pieces, then close it."""
    for piece in pieces(arr, size):
        writer.write(piece)
        if progress is not None:
            progress(len(piece))
    writer.close()


def _starts(positions: np.ndarray, spans: list[int]) -> np.ndarray:
    """How many of the `spans` (element counts of nested axes) start at each position."""
    count = np.zeros(len(positions), dtype=np.intp)
    for span in spans:
        count += positions % span == 0
    return count


def table(texts: list[str]) -> np.ndarray:
    """Short texts as rows of a NUL-padded byte table, to pick from per element."""
    width = max(1, *(len(t) for t in texts))
    return np.array([t.encode().ljust(width, b"\0") for t in texts], dtype=f"S{width}").view(
        np.uint8).reshape(len(texts), width)


def _empty_nested(shape: tuple[int, ...]) -> str:
    """Nested empty lists of an array without elements, as JSON ("[[], []]")."""
    if not shape or shape[0] == 0:
        return "[]"
    return "[" + ", ".join([_empty_nested(shape[1:])] * shape[0]) + "]"


class JsonArray(ArrayWriter):
    """Nested lists (`[[1.0, 2.0], [3.0, 4.0]]`), a bare number for 0-d,
    spelled as `--format json` spells numbers (shortest round-trip digits,
    "nan"/"inf"/"-inf" quoted); `dialect` changes only how numbers read."""

    def __init__(self, stream: BinaryIO, shape: tuple[int, ...], dtype: np.dtype,
                 dialect: Dialect = JSON) -> None:
        super().__init__(stream, shape, dtype)
        self.dialect = dialect
        # element counts of the inner axes: a bracket opens where one divides the position
        self.spans = [math.prod(self.shape[-j:]) for j in range(1, len(self.shape))]
        depth = len(self.spans)
        self.opens = table(["[" * c for c in range(depth + 1)])
        # closing brackets then ", "; the last element of all has no separator
        self.closes = table(["]" * c + ", " for c in range(depth + 1)] + ["]" * depth])
        if self.shape and self.size:
            stream.write(b"[")

    def _write(self, values: np.ndarray, start: int) -> None:
        n = len(values)
        numbers = spell(values, self.dialect)
        if not self.shape:
            self.stream.write(pack(numbers))
            return
        positions = np.arange(start, start + n, dtype=np.int64)
        closing = _starts(positions + 1, self.spans)
        if start + n == self.size:
            closing[-1] = len(self.closes) - 1
        parts = [numbers, self.closes[closing]]
        if self.spans:
            parts.insert(0, self.opens[_starts(positions, self.spans)])
        self.stream.write(pack(side_by_side(*parts)))

    def _close(self) -> None:
        if not self.size:
            self.stream.write(_empty_nested(self.shape).encode())
        elif self.shape:
            self.stream.write(b"]")


class YamlArray(ArrayWriter):
    """The value after `key:` in a YAML block mapping whose keys sit at
    `indent`: " 1.0" for 0-d, a flow sequence for 1-D (" [1.0, 2.0]"), and
    for more axes block sequences whose rows are flow sequences, as PyYAML
    writes them:

        a:
        - - [0.0, 1.0]
          - [2.0, 3.0]

    A row longer than `per_line` numbers goes on over more lines, indented
    past its "[".  (PyYAML wraps at a width instead, which depends on the
    length of every number before: one element after another.)"""

    def __init__(self, stream: BinaryIO, shape: tuple[int, ...], dtype: np.dtype,
                 indent: str = "", per_line: int = 8) -> None:
        super().__init__(stream, shape, dtype)
        self.per_line = per_line
        self.row = self.shape[-1] if self.shape else 1
        # element counts of the outer axes: "- " for each axis that starts at a row
        self.spans = [math.prod(self.shape[-j:]) for j in range(1, len(self.shape))]
        depth = len(self.spans)
        self.heads = table([""] + ["\n" + indent + "  " * (depth - c) + "- " * c + "["
                                    for c in range(1, depth + 1)])
        margin = len(indent) + (2 * depth + 1 if depth else 2)
        self.tails = table([", ", ",\n" + " " * margin, "]"])
        if not self.size:
            stream.write(_empty_yaml(self.shape, indent).encode())
        elif not depth:
            stream.write(b" [" if self.shape else b" ")

    def _write(self, values: np.ndarray, start: int) -> None:
        numbers = spell(values, YAML)
        if not self.shape:
            self.stream.write(pack(numbers))
            return
        column = np.arange(start, start + len(values), dtype=np.int64) % self.row
        last = column == self.row - 1
        tail = np.where(last, 2, ((column + 1) % self.per_line == 0).astype(np.intp))
        parts = [numbers, self.tails[tail]]
        if self.spans:
            positions = np.arange(start, start + len(values), dtype=np.int64)
            parts.insert(0, self.heads[_starts(positions, self.spans) * (column == 0)])
        self.stream.write(pack(side_by_side(*parts)))

    def _close(self) -> None:
        pass


def _empty_yaml(shape: tuple[int, ...], indent: str) -> str:
    """An array without elements: " []", or block sequences down to the
    first empty axis ("- []" per row), as PyYAML writes nested empty lists."""
    if len(shape) <= 1 or shape[0] == 0:
        return " []"
    import yaml

    nested = np.zeros(shape[: shape.index(0) + 1]).tolist()
    text = yaml.safe_dump(nested, default_flow_style=None)
    return "".join("\n" + indent + line for line in text.splitlines())


class CsvArray(ArrayWriter):
    """Rows `quantity,index,value` of one array (csv_.py): the index is the
    element's C-order index joined by ";" (empty for 0-d); the value is
    spelled like json with non-finite words bare, or, with `precision`,
    with that many significant digits (floats only)."""

    def __init__(self, stream: BinaryIO, quantity: str, shape: tuple[int, ...],
                 dtype: np.dtype, precision: int | None = None) -> None:
        import csv
        import io

        super().__init__(stream, shape, dtype)
        field = io.StringIO()
        csv.writer(field, lineterminator="").writerow([quantity, ""])  # quoted as csv needs
        self.prefix = field.getvalue().encode("utf-8")  # "quantity,"
        self.precision = precision if self.dtype.kind == "f" else None

    def _write(self, values: np.ndarray, start: int) -> None:
        n = len(values)
        parts = [constant(n, self.prefix)]
        if self.shape:
            index = np.unravel_index(np.arange(start, start + n), self.shape)
            for axis, coordinate in enumerate(index):
                if axis:
                    parts.append(constant(n, b";"))
                parts.append(spell_integers(coordinate))
        parts.append(constant(n, b","))
        parts.append(self._values(values))
        parts.append(constant(n, b"\n"))
        self.stream.write(pack(side_by_side(*parts)))

    def _values(self, values: np.ndarray) -> np.ndarray:
        if self.precision is None:
            return spell(values, CSV)
        return spell(values, G_FORMAT, self.precision)  # format(x, ".Pg"), as before

    def _close(self) -> None:
        pass
