"""Composites of numpy's array API around matrices: diagonal, triu/tril,
kron, cross, inner.  All are built from primitives (getitem, where, mul,
reshape, matmul), so their derivatives and sympy forms come with them."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.matrix_nodes import triangle_mask
from gradcli.engine.ops.structure import getitem
from gradcli.errors import ShapeError
from gradcli.language.functions.args import int_arg, one_axis
from gradcli.language.functions.context import Context, promote
from gradcli.language.functions.linalg import _tensordot
from gradcli.language.functions.linalg import diagonal as take_diagonal
from gradcli.language.functions.registry import define


def diagonal(ctx: Context, x: Any, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Node:
    """numpy.diagonal: the diagonal of the (axis1, axis2) planes becomes the last axis."""
    (x,) = promote(ctx, x)
    if x.ndim < 2:
        raise ShapeError(f"needs at least 2 dimensions, got shape {x.shape}")
    ax1, ax2 = one_axis("axis1", axis1, x.ndim), one_axis("axis2", axis2, x.ndim)
    if ax1 == ax2:
        raise ShapeError("axis1 and axis2 must be different axes")
    return take_diagonal(x, int_arg("offset", offset), ax1, ax2)


def _triangle(ctx: Context, x: Any, k: Any, lower: bool) -> Node:
    """numpy.tril/triu on the last two axes; a 1-D x is a row repeated, as numpy."""
    (x,) = promote(ctx, x)
    if x.ndim == 0:
        raise ShapeError("needs at least 1 dimension, got a scalar")
    rows, cols = (x.shape[-1], x.shape[-1]) if x.ndim == 1 else x.shape[-2:]
    mask = triangle_mask(rows, cols, int_arg("k", k), lower)
    zero = const(np.zeros((), dtype=x.dtype))
    return N.where(const(mask), x, zero)


def tril(ctx: Context, m: Any, k: Any = 0) -> Node:
    return _triangle(ctx, m, k, True)


def triu(ctx: Context, m: Any, k: Any = 0) -> Node:
    return _triangle(ctx, m, k, False)


def kron(ctx: Context, a: Any, b: Any) -> Node:
    """numpy.kron: the shorter shape is padded with leading 1s, then block
    (i, j, ...) of the result is a[i, j, ...] * b: one broadcast product of
    interleaved axes and a reshape."""
    a, b = promote(ctx, a, b)
    if a.ndim == 0 or b.ndim == 0:
        return apply("mul", (a, b))
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    wide_a = N.reshape(a, tuple(d for size in sa for d in (size, 1)))
    wide_b = N.reshape(b, tuple(d for size in sb for d in (1, size)))
    return N.reshape(apply("mul", (wide_a, wide_b)), tuple(x * y for x, y in zip(sa, sb)))


def _move(x: Node, source: int, target: int) -> Node:
    perm = [i for i in range(x.ndim) if i != source]
    perm.insert(target, source)
    return N.transpose(x, perm)


def cross(ctx: Context, a: Any, b: Any, axisa: Any = -1, axisb: Any = -1, axisc: Any = -1,
          axis: Any = None) -> Node:
    """numpy.cross of 3-vectors along axisa of a and axisb of b (axis= sets all
    three); the other axes broadcast; the result's vectors lie along axisc."""
    a, b = promote(ctx, a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("needs arrays of 3-vectors, got a scalar")
    if axis is not None:
        axisa = axisb = axisc = axis
    a = _move(a, one_axis("axisa", axisa, a.ndim), a.ndim - 1)
    b = _move(b, one_axis("axisb", axisb, b.ndim), b.ndim - 1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ShapeError(f"needs vectors of 3 components along the axis, got {a.shape[-1]} "
                         f"and {b.shape[-1]} (2-vectors are deprecated in numpy 2 and not "
                         "supported)")
    try:
        shape = tuple(np.broadcast_shapes(a.shape[:-1], b.shape[:-1]))
    except ValueError:
        raise ShapeError(f"the vectors' other axes {a.shape[:-1]} and {b.shape[:-1]} do not "
                         "broadcast together") from None
    part = [getitem(v, (Ellipsis, i)) for v in (a, b) for i in range(3)]
    a0, a1, a2, b0, b1, b2 = part
    comps = [N.sub(N.mul(a1, b2), N.mul(a2, b1)), N.sub(N.mul(a2, b0), N.mul(a0, b2)),
             N.sub(N.mul(a0, b1), N.mul(a1, b0))]
    stacked = apply("concat", [N.reshape(N.broadcast_to(c, shape), shape + (1,)) for c in comps],
                    {"axis": len(shape)})
    return _move(stacked, stacked.ndim - 1, one_axis("axisc", axisc, stacked.ndim))


def inner(ctx: Context, a: Any, b: Any) -> Node:
    """numpy.inner: the sum over the last axes, shape a.shape[:-1] + b.shape[:-1];
    a scalar operand multiplies."""
    a, b = promote(ctx, a, b)
    if a.ndim == 0 or b.ndim == 0:
        return apply("mul", (a, b))
    return _tensordot(a, b, [a.ndim - 1], [b.ndim - 1])


FUNCTIONS = [
    define("diagonal", diagonal, "numpy.diagonal: the offset diagonal of the (axis1, axis2) "
           "planes, as the last axis"),
    define("tril", tril, "lower triangle of the last two axes (below diagonal k), zeros "
           "above (numpy.tril)"),
    define("triu", triu, "upper triangle of the last two axes (above diagonal k), zeros "
           "below (numpy.triu)"),
    define("kron", kron, "Kronecker product (numpy.kron, any number of axes)"),
    define("cross", cross, "cross product of 3-vectors along axisa/axisb (axis= sets all), "
           "other axes broadcast (numpy.cross)"),
    define("inner", inner, "sum over the last axes, shape a.shape[:-1] + b.shape[:-1] "
           "(numpy.inner)"),
]
