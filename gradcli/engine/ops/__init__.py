"""The op table: every primitive, one row each (see `row.Primitive`), and
`apply`, which builds a node of one (see `table.py`)."""

from __future__ import annotations

from gradcli.engine.ops import (
    conv,
    decompositions,
    einsum,
    elementwise,
    gather,
    linalg,
    rounding,
    scans,
    softmax,
    special,
    spectral,
    stable,
    structure,
    svd,
    windows,
)
from gradcli.engine.ops.row import Primitive
from gradcli.engine.ops.table import TABLE, apply, register

register(elementwise.UNARY, elementwise.BINARY, structure.ROWS, linalg.ROWS, einsum.ROWS,
         rounding.ROWS, special.ROWS, decompositions.ROWS, spectral.ROWS, svd.ROWS,
         gather.ROWS, scans.ROWS, stable.ROWS, softmax.ROWS, windows.ROWS, conv.ROWS)

__all__ = ["TABLE", "Primitive", "apply"]
