"""The op table: every primitive, one row each (see `row.Primitive`), and
`apply`, which builds a node of one (see `table.py`)."""

from __future__ import annotations

from gradcli.engine.ops import einsum, elementwise, linalg, structure
from gradcli.engine.ops.row import Primitive
from gradcli.engine.ops.table import TABLE, apply, register

register(elementwise.UNARY, elementwise.BINARY, structure.ROWS, linalg.ROWS, einsum.ROWS)

__all__ = ["TABLE", "Primitive", "apply"]
