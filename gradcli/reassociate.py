"""Reassociate products so that small factors meet first.

Batched derivative programs multiply a large tangent stack by a chain of
per-sample factors: `(T * a) * b` with T of shape (k, N, m) and a, b of shape
(N, m).  `T * (a * b)` gives the same values up to rounding and makes one
pass over the small arrays instead of one over the large one.  Only products
whose inner result has no other reader are rewritten, so nothing is computed
twice."""

from __future__ import annotations

from collections.abc import Sequence

from gradcli.graph import Node, apply, toposort


def reassociate(outputs: Sequence[Node]) -> list[Node]:
    order = toposort(outputs)
    readers: dict[int, int] = {}
    for node in order:
        for x in node.inputs:
            readers[id(x)] = readers.get(id(x), 0) + 1
    for o in outputs:
        readers[id(o)] = readers.get(id(o), 0) + 1
    new: dict[int, Node] = {}
    for node in order:
        inputs = tuple(new.get(id(i), i) for i in node.inputs)
        rebuilt = node
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            rebuilt = Node(node.op, inputs, node.attrs, node.shape, node.dtype, node.origin)
        if node.op == "mul":
            rebuilt = _small_first(rebuilt, readers)
        new[id(node)] = rebuilt
    return [new[id(o)] for o in outputs]


def _smaller(x: Node, big: Node) -> bool:
    """Fewer axes (a per-sample factor against a stack, whatever the stack's
    size, so chunked and unchunked runs round alike) or fewer elements."""
    return x.ndim < big.ndim or (x.ndim == big.ndim and x.size < big.size)


def _small_first(node: Node, readers: dict[int, int]) -> Node:
    """(big * a) * b -> big * (a * b) when a and b are both smaller than big."""
    for inner, b in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        if inner.op != "mul" or readers.get(id(inner), 0) != 1 or inner.dtype != b.dtype:
            continue
        for big, a in ((inner.inputs[0], inner.inputs[1]), (inner.inputs[1], inner.inputs[0])):
            if big.shape == node.shape and _smaller(a, big) and _smaller(b, big):
                return Node("mul", (big, apply("mul", (a, b))), node.attrs, node.shape,
                            node.dtype, node.origin)
    return node
