"""Common-subexpression elimination: nodes with the same op, attributes and
(deduplicated) inputs become one.  Derivative rules rebuild the same
subexpressions freely (cosh(x) in a first and a second derivative), and
batched programs would otherwise compute them once per use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.graph import Node, toposort

SMALL_CONSTANT = 64  # constants up to this size are compared by value


def _attr_key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.size <= SMALL_CONSTANT:
            return ("array", value.shape, str(value.dtype), value.tobytes())
        return ("array-id", id(value))
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, (tuple, list)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    return value


def dedupe(outputs: Sequence[Node]) -> list[Node]:
    """The outputs rebuilt so that no two nodes compute the same thing."""
    canonical: dict[int, Node] = {}
    seen: dict[Any, Node] = {}
    for node in toposort(outputs):
        inputs = tuple(canonical[id(i)] for i in node.inputs)
        key = (node.op, tuple(id(i) for i in inputs),
               tuple(sorted((k, _attr_key(v)) for k, v in node.attrs.items())),
               node.shape, node.dtype)
        found = seen.get(key)
        if found is None:
            if any(a is not b for a, b in zip(inputs, node.inputs)):
                found = Node(node.op, inputs, node.attrs, node.shape, node.dtype, node.origin)
            else:
                found = node
            seen[key] = found
        canonical[id(node)] = found
    return [canonical[id(o)] for o in outputs]
