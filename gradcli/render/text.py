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
at any precision. Decimal points line up down a column (nan/inf right-aligned)
and numpy brackets mark the axes (textarray.py).  An array of more than
`threshold` elements (default 1000, numpy's) is summarised as numpy does, the
first and last 3 items of each axis around "...", followed by a line saying
how many elements were shown; `threshold` None prints every element (`--full`).
Text is for reading; json/csv/npz/npy are for tooling and always complete.
ANSI bold titles only when `color` is true; the CLI decides (e.g. a
terminal, no NO_COLOR), this module never looks at the environment.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np

from .arrays import Progress
from .model import Entry, Result
from .textarray import DEFAULT_THRESHOLD, EDGE_ITEMS, array_text, summary_text, write_full
from .tree import as_array

__all__ = ["DEFAULT_THRESHOLD", "render_text", "write_text"]

_INDENT = "  "
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
# Matrices larger than this are only useful in json/npz; text stays readable.
MATRIX_LIMIT = 16


def _indented(text: str) -> str:
    return "\n".join(_INDENT + line if line else line for line in text.splitlines())


def _as_matrix(arr: np.ndarray, row_axes: int | None) -> np.ndarray | None:
    """The block reshaped rows x columns, when that differs from its own shape."""
    if row_axes is None or arr.size == 0 or arr.ndim < 3:
        return None  # a vector or a matrix already reads as one
    rows = int(np.prod(arr.shape[:row_axes], dtype=np.int64))
    cols = int(np.prod(arr.shape[row_axes:], dtype=np.int64))
    if rows > MATRIX_LIMIT or cols > MATRIX_LIMIT or arr.shape == (rows, cols):
        return None
    return arr.reshape(rows, cols)


def _write_entry(stream: BinaryIO, entry: Entry, precision: int | None, color: bool,
                 threshold: int | None, progress: Progress | None) -> None:
    title = f"{_BOLD}{entry.title}{_RESET}" if color else entry.title
    if entry.value is None:
        stream.write(f"{title}\n{_INDENT}None\n".encode())
    else:
        arr = as_array(entry.value)
        stream.write(f"{title}  shape {tuple(arr.shape)} {arr.dtype}\n".encode())
        if threshold is not None and arr.size > threshold:
            stream.write((_indented(summary_text(arr, precision, threshold)) + "\n").encode())
            shown = int(np.prod([min(n, 2 * EDGE_ITEMS) for n in arr.shape]))
            if shown < arr.size:  # (a low --threshold can "summarise" a short array whole)
                stream.write(f"{_INDENT}({shown:,} of {arr.size:,} elements shown; --full "
                             "prints all, --format npz keeps them)\n".encode())
            if progress is not None:
                progress(arr.size)
        else:
            write_full(stream, arr, precision, _INDENT, progress)
            stream.write(b"\n")
        matrix = _as_matrix(arr, entry.row_axes)
        if matrix is not None:
            stream.write(f"{_INDENT}as a {matrix.shape[0]} x {matrix.shape[1]} matrix "
                         "(rows: first quantity flattened, columns: second):\n".encode())
            stream.write((_indented(array_text(matrix, precision)) + "\n").encode())
    if entry.note:
        stream.write((_indented(entry.note) + "\n").encode())


def write_text(result: Result, stream: BinaryIO, precision: int | None = None,
               color: bool = False, threshold: int | None = DEFAULT_THRESHOLD,
               progress: Progress | None = None) -> None:
    """Summary, then each entry, UTF-8; `threshold` None prints every element."""
    first = True
    for line in result.summary:
        stream.write(f"{line}\n".encode())
        first = False
    for entry in result.entries:
        if not first:
            stream.write(b"\n")
        first = False
        _write_entry(stream, entry, precision, color, threshold, progress)


def render_text(result: Result, precision: int | None = None, color: bool = False,
                threshold: int | None = DEFAULT_THRESHOLD) -> bytes:
    """`write_text` as bytes."""
    buffer = io.BytesIO()
    write_text(result, buffer, precision, color, threshold)
    return buffer.getvalue()
