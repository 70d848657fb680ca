"""One array as text, in numpy's layout: summarised like numpy, or all of it.

Cells: floats with 8 significant digits by default, or `precision` (Python's
`g` format: 0.5 stays 0.5, 1e-12 is not printed as 0.0), always with a "."
or an exponent so a float never looks like an integer; float32 starts from
its own shortest digits.  Decimal points line up down a column (nan/inf
right-aligned) and every cell has the width of the widest, as numpy pads.

An array of more than `threshold` elements (numpy's default 1000) is
summarised as numpy summarises: the first and last 3 items of each axis
with "..." between, by `np.array2string` itself on the real array, whose
formatter is called only for the shown elements, so a 5M-element gradient
costs what its 6 (or 36, ...) shown elements cost.

All of an array (`threshold` None, or a small array) is written a chunk at
a time: numpy's `array2string` builds its text with repeated string
concatenation, quadratic in the length of a row (a 5M-element vector did not
finish in 20 minutes).  Here one pass measures the column widths and a
second writes the chunks, each as one spelling matrix (spell.py: numbers,
padding, brackets and line breaks side by side), in exactly numpy's layout
(tests compare the two): rows wrapped at the line width, continuation lines
indented past the brackets, a blank line between 2-D blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .arrays import Progress, pieces, table
from .defaults import DEFAULT_THRESHOLD
from .spell import CSV, pack, side_by_side, spell
from .tree import float_digits

__all__ = ["DEFAULT_THRESHOLD", "array_text", "summary_text", "write_full"]

DEFAULT_SIGNIFICANT = 8
EDGE_ITEMS = 3  # numpy's: items shown at each end of a summarised axis
LINE_WIDTH = 98  # the project's 100 columns, minus the two-space indent of arrays


def _float_text(x: float, significant: int) -> str:
    s = format(x, f".{significant}g")
    if any(c in s for c in ".en"):  # has a point, an exponent, or is nan/inf
        return s
    return s + ".0"


def element_texts(arr: np.ndarray, precision: int | None) -> list[str]:
    """Each element's text, in C order."""
    if arr.dtype.kind == "f":
        significant = DEFAULT_SIGNIFICANT if precision is None else precision
        return [_float_text(x, significant) for x in float_digits(arr)]
    return [str(x) for x in arr.ravel().tolist()]  # ints, and True/False as numpy prints


def _split_point(text: str) -> tuple[str, str] | None:
    """(digits before the point, the rest) of a finite number; None for nan/inf/ints."""
    for mark in (".", "e"):
        if mark in text and text[0] in "-0123456789" and "n" not in text:
            head, _, tail = text.partition(mark)
            return head, mark + tail
    return None


@dataclass(frozen=True)
class Columns:
    """Widths that line decimal points up: before the point, from the point
    on, and of the texts that have no point (nan, inf, integers)."""

    head: int = 0
    tail: int = 0
    other: int = 0

    @staticmethod
    def of(texts: list[str]) -> Columns:
        parts = [_split_point(t) for t in texts]
        split = [p for p in parts if p is not None]
        return Columns(max((len(h) for h, _ in split), default=0),
                       max((len(t) for _, t in split), default=0),
                       max((len(t) for t, p in zip(texts, parts) if p is None), default=0))

    def merge(self, other: Columns) -> Columns:
        return Columns(max(self.head, other.head), max(self.tail, other.tail),
                       max(self.other, other.other))

    @property
    def width(self) -> int:
        return max(self.head + self.tail, self.other)

    def cell(self, text: str) -> str:
        part = _split_point(text)
        body = text if part is None else part[0].rjust(self.head) + part[1].ljust(self.tail)
        return body.rjust(self.width)


def _edges(arr: np.ndarray, items: int) -> np.ndarray:
    """The elements a summary shows: the first and last `items` of each long axis."""
    for axis, n in enumerate(arr.shape):
        if n > 2 * items:
            ends = (np.arange(items), np.arange(n - items, n))
            arr = np.take(arr, np.concatenate(ends), axis=axis)
    return arr


def summary_text(arr: np.ndarray, precision: int | None, threshold: int) -> str:
    """numpy's summary of an array of more than `threshold` elements."""
    columns = Columns.of(element_texts(_edges(arr, EDGE_ITEMS), precision))

    def cell(x: object) -> str:
        return columns.cell(element_texts(np.asarray(x).reshape(1), precision)[0])

    return np.array2string(arr, max_line_width=LINE_WIDTH, separator=" ",
                           threshold=threshold, edgeitems=EDGE_ITEMS, formatter={"all": cell})


def _per_line(width: int, ndim: int) -> int:
    """Cells on a line (numpy's wrapping): the first cell starts past `ndim`
    brackets or spaces, and a line ends before `LINE_WIDTH - ndim` columns."""
    room = LINE_WIDTH - 2 * ndim - width
    return room // (width + 1) + 1 if room >= 0 else 1


_BOOLS = np.frombuffer(b"False" + b"True\0", dtype=np.uint8).reshape(2, 5)


def _spelled(piece: np.ndarray, precision: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The texts of a piece as a spelling matrix (spell.py: the same text
    as `element_texts`), and which rows split at a point (finite floats)."""
    if piece.dtype.kind == "b":
        return _BOOLS[piece.astype(np.intp)], np.zeros(len(piece), dtype=bool)
    if piece.dtype.kind != "f":
        return spell(piece, CSV), np.zeros(len(piece), dtype=bool)
    significant = DEFAULT_SIGNIFICANT if precision is None else precision
    return spell(piece, CSV, significant), np.isfinite(piece)


def _measure(matrix: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, np.ndarray, Columns]:
    """Each text's length and the length before its point, and their widths."""
    length = (matrix != 0).sum(axis=1)
    head = np.argmax((matrix == ord(".")) | (matrix == ord("e")), axis=1)
    columns = Columns(int(head[split].max(initial=0)),
                      int((length - head)[split].max(initial=0)),
                      int(length[~split].max(initial=0)))
    return length, np.where(split, head, length), columns


def _pads(count: np.ndarray, width: int) -> np.ndarray:
    """`count` spaces per row in `width` columns (NUL where there are none)."""
    return ((np.arange(width) < count[:, None]) * ord(" ")).astype(np.uint8)


def write_full(stream: BinaryIO, arr: np.ndarray, precision: int | None,
               indent: str = "", progress: Progress | None = None) -> None:
    """All of an array, each line starting with `indent`, no final newline."""
    if arr.size == 0 or arr.ndim == 0:
        texts = element_texts(arr, precision)
        text = texts[0] if arr.ndim == 0 else np.array2string(arr)
        stream.write((indent + text).encode())
        return
    columns = Columns()
    for piece in pieces(arr):  # first pass: the widths of the columns
        columns = columns.merge(_measure(*_spelled(piece, precision))[2])
    ndim, row, width = arr.ndim, arr.shape[-1], columns.width
    per_line = _per_line(width, ndim)
    # rows spanned by each outer axis: an axis starts (and the one before
    # ends) at a row its span divides
    spans = [math.prod(arr.shape[-1 - j:-1]) for j in range(1, ndim)]
    # what comes before a cell: nothing, a continuation line's indent, or a
    # row's start with the axes that open there (the very first row last)
    heads = table(["", indent + " " * ndim]
                   + ["\n" * o + indent + " " * (ndim - o) + "[" * o for o in range(1, ndim + 1)]
                   + [indent + "[" * ndim])
    # ... and after it: a space, a line break (the line's trailing spaces
    # dropped, as numpy does), or the closing brackets of a row's end
    tails = table([" ", "\n"] + ["]" * c for c in range(1, ndim + 1)])
    done = 0
    for piece in pieces(arr):
        matrix, split = _spelled(piece, precision)
        length, head, _ = _measure(matrix, split)
        position = np.arange(done, done + len(piece), dtype=np.int64)
        r, c = np.divmod(position, row)
        starts = 1 + sum((r % span == 0).astype(np.intp) for span in spans)
        ends = 1 + sum(((r + 1) % span == 0).astype(np.intp) for span in spans)
        before = np.where(c % per_line == 0, 1, 0)
        before = np.where(c == 0, np.where(r == 0, ndim + 2, starts + 1), before)
        after = np.where((c + 1) % per_line == 0, 1, 0)
        after = np.where(c == row - 1, ends + 1, after)
        left = np.where(split, width - columns.head - columns.tail + columns.head - head,
                        width - length)
        right = np.where(split & (after != 1), columns.tail - (length - head), 0)
        cells = side_by_side(heads[before], _pads(left, width), matrix,
                             _pads(right, columns.tail), tails[after])
        stream.write(pack(cells))
        done += len(piece)
        if progress is not None:
            progress(len(piece))


def array_text(arr: np.ndarray, precision: int | None = None,
               threshold: int | None = None) -> str:
    """The array as text: summarised beyond `threshold` elements, else all of it."""
    if threshold is not None and arr.size > threshold:
        return summary_text(arr, precision, threshold)
    import io

    buffer = io.BytesIO()
    write_full(buffer, arr, precision)
    return buffer.getvalue().decode()
