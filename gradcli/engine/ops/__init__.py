"""The op table: every primitive, one row each (see `row.Primitive`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gradcli.engine.ops import (
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
)
from gradcli.engine.ops.row import Primitive

FAMILIES = (elementwise.UNARY, elementwise.BINARY, structure.ROWS, linalg.ROWS, einsum.ROWS,
            rounding.ROWS, special.ROWS, decompositions.ROWS, spectral.ROWS, svd.ROWS,
            gather.ROWS, scans.ROWS, stable.ROWS, softmax.ROWS)


def _table() -> Mapping[str, Primitive]:
    table: dict[str, Primitive] = {}
    for family in FAMILIES:
        for row in family:
            if row.name in table:  # two rows of one name: the later would win silently
                raise AssertionError(f"primitive {row.name} defined twice")
            table[row.name] = row
    return MappingProxyType(table)


TABLE: Mapping[str, Primitive] = _table()
