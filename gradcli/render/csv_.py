"""`--format csv`: one row per element, for spreadsheets and `awk`.

Columns `quantity,index,value`: quantity is the entry's path joined with "."
(grad.a, jacobian.y.a), index is the element's C-order index joined with ";"
(`0;1`; empty for a 0-d value), value is spelled like json (shortest digits
that round-trip in the array's dtype, nan/inf/-inf bare) or, with
`--precision N`, with N significant digits (integers and booleans are exact
and never rounded). An unconnected entry is one row with empty index and
empty value; an empty array has no rows. Lines end in "\\n" and the csv module
quotes fields that need it (a source named `inp[0,0]` contains a comma).
"""

from __future__ import annotations

import csv
import io

import numpy as np

from .model import Result
from .tree import as_array, float_digits, spell_elements


def _values(arr: np.ndarray, precision: int | None) -> list[str]:
    if precision is not None and arr.dtype.kind == "f":
        return [format(x, f".{precision}g") for x in float_digits(arr)]
    return spell_elements(arr)


def render_csv(result: Result, precision: int | None = None) -> bytes:
    """All entries as CSV rows under the header quantity,index,value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["quantity", "index", "value"])
    for entry in result.entries:
        quantity = ".".join(entry.path)
        if entry.value is None:
            writer.writerow([quantity, "", ""])
            continue
        arr = as_array(entry.value)
        indices = (";".join(map(str, idx)) for idx in np.ndindex(arr.shape))
        values = _values(arr, precision)
        writer.writerows([quantity, idx, v] for idx, v in zip(indices, values, strict=True))
    return out.getvalue().encode("utf-8")
