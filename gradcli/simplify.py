"""Graph simplification: constant folding, common-subexpression elimination,
algebraic identities and dead-node elimination.

Derivative rules are written generically (a cotangent times a local
derivative, a sum undoing a broadcast), so a raw derivative program carries
products with ones, sums of broadcasts and transposes of transposes that a
person writing the gradient by hand would never write.  Printing (`gradcli
graph`, the matrix form of `gradcli symbolic`) runs the program through
`simplify` first, so what is shown is as short as the hand-written gradient.

Every rewrite keeps the value (up to the rounding of a sum of n equal terms
versus one product by n) and the node's `origin`, so printers can still
name derivative nodes after the forward op they come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcli.graph import FOLD_LIMIT, Node, apply, const, toposort
from gradcli.ops import TABLE
from gradcli.ops import nodes as N

MAX_PASSES = 4
SMALL_CONSTANT = 64  # constants up to this size are compared by value


@dataclass(frozen=True)
class Stats:
    before: int      # nodes reachable from the outputs, before
    after: int       # and after
    folded: int      # nodes replaced by a constant
    merged: int      # duplicates merged (CSE)
    rewritten: int   # algebraic identities applied


@dataclass(frozen=True)
class Simplified:
    outputs: list[Node | None]
    mapping: dict[int, Node]   # id(old node) -> its replacement (for carrying names over)
    stats: Stats


def simplify(outputs: Sequence[Node | None], ieee: bool = False) -> Simplified:
    """Simplify the graph of `outputs`; repeated until nothing changes.

    `ieee=True` (evaluation) keeps products with zero, whose value is NaN
    where the other factor is inf or NaN; printing drops them."""
    present = [o for o in outputs if o is not None]
    before = len(toposort(present))
    mapping: dict[int, Node] = {id(n): n for n in toposort(present)}
    current = list(outputs)
    totals = [0, 0, 0]
    for _ in range(MAX_PASSES):
        rewriter = _Pass(ieee)
        step = rewriter.run([o for o in current if o is not None])
        mapping = {k: step.get(id(v), v) for k, v in mapping.items()}
        current = [None if o is None else step[id(o)] for o in current]
        totals = [t + c for t, c in zip(totals, rewriter.counts)]
        if not any(rewriter.counts):
            break
    after = len(toposort([o for o in current if o is not None]))
    return Simplified(current, mapping, Stats(before, after, *totals))


# ---- keys for CSE ----------------------------------------------------------------------

def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.size > SMALL_CONSTANT:  # large constants merge only with themselves
            return ("array-id", id(value))
        return ("array", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, (tuple, list)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if value is Ellipsis:
        return ("...",)
    return value


def _key(node: Node, inputs: tuple[Node, ...]) -> Any:
    if node.op == "input":
        return ("input", id(node))
    return (node.op, tuple(id(i) for i in inputs), _freeze(node.attrs), node.dtype, node.shape)


# ---- helpers ---------------------------------------------------------------------------

def uniform(node: Node) -> float | None:
    """The single value of a fill, or of a constant whose elements are all equal."""
    if node.op == "fill":
        return float(node.attrs["value"])
    if node.op == "const":
        value = node.attrs["value"]
        if value.size and value.dtype.kind == "f" and np.all(value == value.flat[0]):
            return float(value.flat[0])
    return None


def _constant(node: Node) -> np.ndarray | None:
    if node.op == "const":
        return node.attrs["value"]
    if node.op == "fill":
        return np.full(node.shape, node.attrs["value"], dtype=node.dtype)
    return None


def _is_eye(node: Node) -> bool:
    value = node.attrs.get("value") if node.op == "const" else None
    return (value is not None and value.ndim == 2 and value.shape[0] == value.shape[1]
            and bool(np.array_equal(value, np.eye(value.shape[0]))))


class _Pass:
    """One bottom-up rewrite: fold, rewrite identities, then merge duplicates."""

    def __init__(self, ieee: bool = False) -> None:
        self.ieee = ieee
        self.new: dict[int, Node] = {}
        self.canon: dict[Any, Node] = {}
        self.counts = [0, 0, 0]  # folded, merged, rewritten

    def run(self, outputs: list[Node]) -> dict[int, Node]:
        order = toposort(outputs)
        self.existing = {id(n) for n in order}
        for original in order:
            node = original
            inputs = tuple(self.new[id(i)] for i in node.inputs)
            if any(a is not b for a, b in zip(inputs, node.inputs)):
                node = apply(node.op, inputs, node.attrs, node.origin)
            result = self._fold(node) or self._identity(node) or node
            canonical = self.canon.setdefault(_key(result, result.inputs), result)
            if canonical is not result:
                self.counts[1] += 1
            self.new[id(original)] = canonical
            self.existing.add(id(canonical))
        return self.new

    def _fold(self, node: Node) -> Node | None:
        if not node.inputs or node.size > FOLD_LIMIT:
            return None
        values = [_constant(i) for i in node.inputs]
        if any(v is None for v in values):
            return None
        with np.errstate(all="ignore"):
            value = np.asarray(TABLE[node.op].forward(*values, **node.attrs), dtype=node.dtype)
        self.counts[0] += 1
        if value.ndim and value.size and value.dtype.kind == "f" \
                and np.all(value == value.flat[0]):
            return replace(N.fill(float(value.flat[0]), value.shape, node.dtype),
                           origin=node.origin)
        return replace(const(value), origin=node.origin)

    def _identity(self, node: Node) -> Node | None:
        result = _rewrite(node, self.ieee)
        if result is None or result is node:
            return None
        self.counts[2] += 1
        if id(result) not in self.existing and node.origin and not result.origin:
            result = replace(result, origin=node.origin)  # a new node: keep the label
        return result


def _same_shape(x: Node, node: Node) -> bool:
    return x.shape == node.shape and x.dtype == node.dtype


def _rewrite(node: Node, ieee: bool = False) -> Node | None:
    """One algebraic identity at `node`, or None."""
    op, ins = node.op, node.inputs
    if op in ("add", "mul"):
        a, b = ins
        unit = 0.0 if op == "add" else 1.0
        if uniform(b) == unit and _same_shape(a, node):
            return a
        if uniform(a) == unit and _same_shape(b, node):
            return b
        if op == "mul" and not ieee and 0.0 in (uniform(a), uniform(b)):
            return N.fill(0.0, node.shape, node.dtype)
    elif op == "pow" and uniform(ins[1]) == 1.0 and _same_shape(ins[0], node):
        return ins[0]
    elif op == "neg" and ins[0].op == "neg":
        return ins[0].inputs[0]
    elif op == "transpose":
        return _transpose(node)
    elif op in ("reshape", "broadcast_to"):
        x = ins[0]
        if x.shape == node.shape:
            return x
        if x.op == op or (op == "reshape" and x.op == "reshape"):
            return apply(op, x.inputs, node.attrs)
        if x.op == "fill":
            return N.fill(x.attrs["value"], node.shape, node.dtype)
    elif op == "sum":
        return _sum(node)
    elif op == "matmul":
        a, b = ins
        if _is_eye(a) and _same_shape(b, node):
            return b
        if _is_eye(b) and _same_shape(a, node):
            return a
        if not ieee and 0.0 in (uniform(a), uniform(b)):
            return N.fill(0.0, node.shape, node.dtype)
    elif op == "getitem":
        x, index = ins[0], node.attrs["index"]
        if x.shape == node.shape and all(i == slice(None) for i in index):
            return x
    elif op == "cast" and ins[0].dtype == node.dtype:
        return ins[0]
    return None


def _transpose(node: Node) -> Node | None:
    x, perm = node.inputs[0], tuple(node.attrs["perm"])
    if perm == tuple(range(len(perm))):
        return x
    if x.op == "transpose":
        inner = x.attrs["perm"]
        return N.transpose(x.inputs[0], tuple(inner[p] for p in perm))
    return None


def _sum(node: Node) -> Node | None:
    """sum over axes of broadcast_to(x) (or of a fill): the broadcast axes
    become a product by their size, so the copies are never made."""
    x, axes = node.inputs[0], tuple(node.attrs["axes"])
    if x.op == "fill":
        count = int(np.prod([x.shape[a] for a in axes]))
        return N.fill(x.attrs["value"] * count, node.shape, node.dtype)
    if x.op != "broadcast_to":
        return None
    inner = x.inputs[0]
    padded = (1,) * (x.ndim - inner.ndim) + inner.shape
    if any(padded[a] != 1 for a in axes):
        return None  # a summed axis is a real one: no shortcut
    if any(padded[a] != x.shape[a] for a in range(x.ndim) if a not in axes):
        return None  # the result is itself still a broadcast: leave it
    count = int(np.prod([x.shape[a] for a in axes]))
    base = N.reshape(inner, node.shape)
    return base if count == 1 else N.mul(base, N.scalar(float(count), base))
