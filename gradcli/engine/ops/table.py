"""The op table and `apply`, the one way to build a node of a primitive.

The IR (`graph.py`) knows no op; this module is where a node meets its row.
The family modules (elementwise, structure, linalg, einsum) define rows, and
the `ops` package registers them here once, when it is first imported, so
`apply` finds every row by name without importing anything at call time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcli.engine.graph import (
    EMPTY,
    FOLD_LIMIT,
    NEVER_FOLDED,
    NO_ORIGIN,
    Node,
    Origin,
    constant_array,
    constant_node,
)
from gradcli.engine.ops.row import Primitive

_ROWS: dict[str, Primitive] = {}
TABLE: Mapping[str, Primitive] = MappingProxyType(_ROWS)


def register(*families: Iterable[Primitive]) -> None:
    """Add rows to the table; a name defined twice is a bug in the op families."""
    for family in families:
        for row in family:
            if row.name in _ROWS:
                raise AssertionError(f"primitive {row.name} defined twice")
            _ROWS[row.name] = row


def apply(op: str, inputs: Iterable[Node], attrs: Mapping[str, Any] | None = None,
          origin: Origin = NO_ORIGIN) -> Node:
    """Build a node of primitive `op`, inferring shape and dtype by its row's rule.

    Operands that are all small constants are evaluated now by the row's own
    forward (the evaluator run early: the value is the one evaluation would
    give, and constants have no derivative)."""
    row = TABLE[op]
    ins = tuple(inputs)
    frozen = MappingProxyType(dict(attrs)) if attrs else EMPTY
    shape, dtype = row.infer(ins, frozen)
    node = Node(op, ins, frozen, tuple(int(d) for d in shape), dtype, origin)
    if ins and op not in NEVER_FOLDED and all(i.op in ("const", "fill") for i in ins) \
            and node.size <= FOLD_LIMIT and all(i.size <= FOLD_LIMIT for i in ins):
        with np.errstate(all="ignore"):
            value = np.asarray(row.forward(*(constant_array(i) for i in ins), **frozen),
                               dtype=dtype)
        return constant_node(value)
    return node
