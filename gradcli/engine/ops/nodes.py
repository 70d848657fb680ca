"""Functions that build primitive nodes.

Derivative rules are written with these, so every derivative is itself a graph
of primitives and can be differentiated again.  They build exactly what they
are asked for (skipping only operations that would do nothing, like a
reshape to the same shape): the algebra that keeps derivative programs small
lives in the rule table (`rules.py`), applied by `rewrite.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradcli.engine.graph import Node, Shape, const, const_value, is_const_scalar
from gradcli.engine.ops.table import apply


def scalar(value: float, like: Node) -> Node:
    """A 0-d constant of `like`'s float dtype."""
    return const(np.asarray(value, dtype=like.dtype if like.is_float else "float64"))


def fill(value: float, shape: Shape, dtype: str) -> Node:
    return apply("fill", (), {"value": float(value), "shape": tuple(shape), "dtype": dtype})


def zeros_like(x: Node) -> Node:
    return fill(0.0, x.shape, x.dtype)


def ones_like(x: Node) -> Node:
    return fill(1.0, x.shape, x.dtype)


def _is_zero(x: Node) -> bool:
    return (x.op == "fill" and x.attrs["value"] == 0.0) or is_const_scalar(x, 0.0)


def _broadcast_shape(a: Node, b: Node) -> Shape:
    from gradcli.errors import ShapeError

    try:
        return tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise ShapeError(f"shapes {a.shape} and {b.shape} do not broadcast together") from None


def add(a: Node, b: Node) -> Node:
    _broadcast_shape(a, b)
    return apply("add", (a, b))


def mul(a: Node, b: Node) -> Node:
    _broadcast_shape(a, b)
    return apply("mul", (a, b))


def mul_derivative(g: Node, d: Node) -> Node:
    """g * d for a cotangent/tangent g and a local derivative d.

    When g is `where(c, t, 0)` (the untaken branch of a `where` gets exactly
    zero), the product is `where(c, t * d, 0)`: positions where d is inf or
    NaN because the branch is invalid there (log(0), sqrt(-1)) then stay 0
    instead of 0 * inf = NaN.  Only derivative rules use this; user
    arithmetic keeps IEEE semantics.
    """
    if g.op == "where" and g.dtype == d.dtype:
        cond, taken, other = g.inputs
        if _is_zero(other):
            return where(cond, mul_derivative(taken, d), other)
        if _is_zero(taken):
            return where(cond, taken, mul_derivative(other, d))
    return mul(g, d)


def neg(a: Node) -> Node:
    return apply("neg", (a,))


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


def power(a: Node, b: Node) -> Node:
    return apply("pow", (a, b))


def reciprocal(a: Node) -> Node:
    return power(a, scalar(-1.0, a))


def div(a: Node, b: Node) -> Node:
    value = const_value(b)
    if value is not None and value.ndim == 0 and value != 0:
        return mul(a, scalar(1.0 / float(value), a))
    return mul(a, reciprocal(b))


def square(a: Node) -> Node:
    return mul(a, a)


def unary(op: str, a: Node) -> Node:
    return apply(op, (a,))


def where(cond: Node, a: Node, b: Node) -> Node:
    return apply("where", (cond, a, b))


def compare(op: str, a: Node, b: Node) -> Node:
    return apply(op, (a, b))


def mask(cond: Node, like: Node) -> Node:
    """A float 0/1 array from a boolean node, in `like`'s dtype."""
    return where(cond, scalar(1.0, like), scalar(0.0, like))


def stop_gradient(a: Node) -> Node:
    return apply("stop_gradient", (a,))


def cast(a: Node, dtype: str) -> Node:
    return a if a.dtype == dtype else apply("cast", (a,), {"dtype": dtype})


# ---- structure -------------------------------------------------------------

def reshape(a: Node, shape: Shape) -> Node:
    shape = tuple(int(d) for d in shape)
    if a.shape == shape:
        return a
    return apply("reshape", (a,), {"shape": shape})


def broadcast_to(a: Node, shape: Shape) -> Node:
    shape = tuple(int(d) for d in shape)
    if a.shape == shape:
        return a
    return apply("broadcast_to", (a,), {"shape": shape})


def transpose(a: Node, perm: Sequence[int] | None = None) -> Node:
    perm = tuple(reversed(range(a.ndim))) if perm is None else tuple(int(p) for p in perm)
    if perm == tuple(range(a.ndim)):
        return a
    return apply("transpose", (a,), {"perm": perm})


def swap_last(a: Node) -> Node:
    """Transpose of the last two axes (matrix transpose of a stack)."""
    perm = list(range(a.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return transpose(a, perm)


def reduce_sum(a: Node, axes: tuple[int, ...], keepdims: bool = False) -> Node:
    if not axes:
        return a
    out = apply("sum", (a,), {"axes": tuple(axes)})
    return reshape(out, kept_shape(a.shape, axes)) if keepdims else out


def kept_shape(shape: Shape, axes: tuple[int, ...]) -> Shape:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def dropped_shape(shape: Shape, axes: tuple[int, ...]) -> Shape:
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def sum_to(g: Node, shape: Shape) -> Node:
    """Undo numpy broadcasting: sum `g` down to `shape` (the vjp of a broadcast)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1
    )
    return reshape(reduce_sum(g, axes), shape)


def expand_to(g: Node, shape: Shape, axes: tuple[int, ...]) -> Node:
    """Inverse of a reduction over `axes`: put the axes back and broadcast."""
    return broadcast_to(reshape(g, kept_shape(shape, axes)), shape)


def matmul(a: Node, b: Node) -> Node:
    return apply("matmul", (a, b))
