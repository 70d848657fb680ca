"""`--format csv`: one row per element, for spreadsheets and `awk`.

Columns `quantity,index,value`: quantity is the entry's path joined with "."
(grad.a, jacobian.y.a), index is the element's C-order index joined with ";"
(`0;1`; empty for a 0-d value), value is spelled like json (shortest digits
that round-trip in the array's dtype, nan/inf/-inf bare) or, with
`--precision N`, with N significant digits (integers and booleans are exact
and never rounded). An unconnected entry is one row with empty index and
empty value; an empty array has no rows. Lines end in "\\n" and the csv module
quotes fields that need it (a source named `inp[0,0]` contains a comma).
Rows are written a chunk of elements at a time, indices and values spelled
with numpy (spell.py); `--precision` formats each float with Python.
"""

from __future__ import annotations

import csv
import io
from typing import BinaryIO

from .arrays import CsvArray, Progress, write_array
from .model import Result
from .tree import as_array


def write_csv(result: Result, stream: BinaryIO, precision: int | None = None,
              progress: Progress | None = None) -> None:
    """All entries as CSV rows under the header quantity,index,value, each
    array written in chunks by `arrays.CsvArray`."""
    stream.write(b"quantity,index,value\n")
    for entry in result.entries:
        quantity = ".".join(entry.path)
        if entry.value is None:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow([quantity, "", ""])
            stream.write(line.getvalue().encode("utf-8"))
            continue
        arr = as_array(entry.value)
        write_array(CsvArray(stream, quantity, arr.shape, arr.dtype, precision), arr,
                    progress=progress)


def render_csv(result: Result, precision: int | None = None) -> bytes:
    """`write_csv` as bytes."""
    buffer = io.BytesIO()
    write_csv(result, buffer, precision)
    return buffer.getvalue()
