"""`--format text` (the default): what a person reads in a terminal.

Layout: the summary lines (what was computed, e.g. "grad: d(sum of y)/d(a),
order 1, float64"), then per entry a blank line, the title with shape and
dtype (`d(sum of y)/d(a)  shape (2, 2) float64`), the array indented by two
spaces, and any note. An unconnected entry prints its title, `None` and the
note saying why.

Numbers: floats with 8 significant digits by default, or `--precision N`
significant digits (Python's `g` format, so 0.5 stays 0.5 and 1e-12 is not
printed as 0.0), always with a "." or an exponent so a float never looks like
an integer; float32 starts from its own shortest digits, so 0.1 prints as 0.1
at any precision. Decimal points line up down a column (nan/inf right-aligned), numpy
brackets mark the axes, and every element is printed (no "..." summarising:
text is for reading what was asked; use json/csv/npz for tooling). ANSI bold
titles only when `color` is true; the CLI decides (e.g. a terminal, no
NO_COLOR), this module never looks at the environment.
"""

from __future__ import annotations

import sys

import numpy as np

from .model import Entry, Result
from .tree import as_array, float_digits

DEFAULT_SIGNIFICANT = 8
_WIDTH = 100  # wrap array rows like the project's line length
_INDENT = "  "
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"


def _float_text(x: float, significant: int) -> str:
    s = format(x, f".{significant}g")
    if any(c in s for c in ".en"):  # has a point, an exponent, or is nan/inf
        return s
    return s + ".0"


def _element_texts(arr: np.ndarray, precision: int | None) -> list[str]:
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


def _aligned(texts: list[str]) -> list[str]:
    """Pad so decimal points line up in a column (as numpy does); others right-aligned."""
    parts = [_split_point(t) for t in texts]
    split = [p for p in parts if p is not None]
    head_w = max((len(h) for h, _ in split), default=0)
    tail_w = max((len(t) for _, t in split), default=0)
    cells = [t if p is None else p[0].rjust(head_w) + p[1].ljust(tail_w)
             for t, p in zip(texts, parts, strict=True)]
    width = max((len(c) for c in cells), default=0)
    return [c.rjust(width) for c in cells]


def format_array(arr: np.ndarray, precision: int | None = None) -> str:
    """The array as numpy-style text with aligned columns (a bare number for 0-d)."""
    texts = _element_texts(arr, precision)
    if arr.ndim == 0:
        return texts[0]
    cells = np.array(_aligned(texts), dtype=str).reshape(arr.shape)
    return np.array2string(cells, max_line_width=_WIDTH - len(_INDENT), separator=" ",
                           threshold=sys.maxsize, formatter={"all": str})


def _indented(text: str) -> list[str]:
    return [_INDENT + line if line else line for line in text.splitlines()]


def _entry_lines(entry: Entry, precision: int | None, color: bool) -> list[str]:
    title = f"{_BOLD}{entry.title}{_RESET}" if color else entry.title
    if entry.value is None:
        lines = [title, _INDENT + "None"]
    else:
        arr = as_array(entry.value)
        lines = [f"{title}  shape {tuple(arr.shape)} {arr.dtype}"]
        lines += _indented(format_array(arr, precision))
        matrix = _as_matrix(arr, entry.row_axes)
        if matrix is not None:
            lines.append(f"{_INDENT}as a {matrix.shape[0]} x {matrix.shape[1]} matrix "
                         "(rows: first quantity flattened, columns: second):")
            lines += _indented(format_array(matrix, precision))
    if entry.note:
        lines += _indented(entry.note)
    return lines


# Matrices larger than this are only useful in json/npz; text stays readable.
MATRIX_LIMIT = 16


def _as_matrix(arr: np.ndarray, row_axes: int | None) -> np.ndarray | None:
    """The block reshaped rows x columns, when that differs from its own shape."""
    if row_axes is None or arr.size == 0 or arr.ndim < 3:
        return None  # a vector or a matrix already reads as one
    rows = int(np.prod(arr.shape[:row_axes], dtype=np.int64))
    cols = int(np.prod(arr.shape[row_axes:], dtype=np.int64))
    if rows > MATRIX_LIMIT or cols > MATRIX_LIMIT or arr.shape == (rows, cols):
        return None
    return arr.reshape(rows, cols)


def render_text(result: Result, precision: int | None = None, color: bool = False) -> bytes:
    """Summary, then each entry; UTF-8 with a trailing newline."""
    lines = list(result.summary)
    for entry in result.entries:
        if lines:
            lines.append("")
        lines += _entry_lines(entry, precision, color)
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
