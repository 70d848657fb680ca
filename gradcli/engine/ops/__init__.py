"""The op table: every primitive, one row each (see `row.Primitive`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gradcli.engine.ops import einsum, elementwise, linalg, softmax, stable, structure
from gradcli.engine.ops.row import Primitive

TABLE: Mapping[str, Primitive] = MappingProxyType(
    {row.name: row for family in (elementwise.UNARY, elementwise.BINARY, structure.ROWS,
                                  linalg.ROWS, einsum.ROWS, stable.ROWS,
                                  softmax.ROWS) for row in family}
)
