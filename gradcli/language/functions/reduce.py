"""Reductions over axes (numpy's `axis=None|int|tuple`, `keepdims=False`).

Each is written so that it stays finite and exact where the textbook
formula is not: max-shifted logsumexp, a max-scaled 2-norm whose derivative
at zero is 0 instead of nan, a product by halving instead of division.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Accuracy
from gradcli.engine.ops.structure import getitem
from gradcli.errors import ShapeError
from gradcli.language.functions.args import axis_arg, bool_arg, int_arg
from gradcli.language.functions.context import Context, promote, times, to_float
from gradcli.language.functions.registry import define

Axes = tuple[int, ...]
TIES = "ties split the derivative evenly among the tied elements"


def c(value: float, like: Node) -> Node:
    return N.scalar(value, like)


def _count(x: Node, axes: Axes) -> int:
    return int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


def _finish(out: Node, x: Node, axes: Axes, keepdims: Any) -> Node:
    """`out` reduced with kept (size-1) axes; drop them unless keepdims."""
    shape = N.kept_shape(x.shape, axes) if keepdims else N.dropped_shape(x.shape, axes)
    return N.reshape(out, shape)


def _numeric(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)  # bools (masks) count as floats; ints stay ints
    return x


def _setup(ctx: Context, x: Any, axis: Any, keepdims: Any, *, floats: bool) -> tuple[Node, Axes]:
    x = to_float(ctx, x) if floats else _numeric(ctx, x)
    bool_arg("keepdims", keepdims)
    return x, axis_arg("axis", axis, x.ndim)


def sum_(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=False)
    return _finish(N.reduce_sum(x, axes, keepdims=True), x, axes, keepdims)


def _mean(x: Node, axes: Axes, keepdims: bool, ddof: int = 0) -> Node:
    n = _count(x, axes) - ddof
    scale = 1.0 / n if n > 0 else math.nan  # numpy: nan for an empty mean
    return _finish(times(N.reduce_sum(x, axes, keepdims=True), c(scale, x)), x, axes, keepdims)


def mean(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=True)
    return _mean(x, axes, keepdims)


def _max_kept(x: Node, axes: Axes) -> Node:
    """max over axes with the axes kept as size 1 (the max primitive splits ties)."""
    if not axes:
        return x
    if _count(x, axes) == 0:
        raise ShapeError(f"cannot reduce zero elements (shape {x.shape}, axes {axes}): "
                         "the result would have no value")
    return N.reshape(apply("max", (x,), {"axes": axes}), N.kept_shape(x.shape, axes))


def max_(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=False)
    return _finish(_max_kept(x, axes), x, axes, keepdims)


def min_(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=False)
    return _finish(N.neg(_max_kept(N.neg(x), axes)), x, axes, keepdims)


def prod(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False) -> Node:
    """Product by a balanced tree of multiplications: no division, so zeros
    are fine, and every level is one elementwise multiply of two halves."""
    x, axes = _setup(ctx, x, axis, keepdims, floats=False)
    rest = [i for i in range(x.ndim) if i not in axes]
    rest_shape = tuple(x.shape[i] for i in rest)
    count = _count(x, axes)
    if count == 0:
        return _finish(N.fill(1.0, N.kept_shape(x.shape, axes), x.dtype), x, axes, keepdims)
    v = N.reshape(N.transpose(x, rest + list(axes)), rest_shape + (count,))
    last = len(rest_shape)
    while v.shape[-1] > 1:
        n = v.shape[-1]
        half = n // 2
        pairs = N.mul(getitem(v, (Ellipsis, slice(0, half))),
                      getitem(v, (Ellipsis, slice(half, 2 * half))))
        v = pairs if n % 2 == 0 else apply(
            "concat", (pairs, getitem(v, (Ellipsis, slice(2 * half, n)))), {"axis": last})
    return _finish(N.reshape(v, N.kept_shape(x.shape, axes)), x, axes, keepdims)


def over_last(x: Node, axes: Axes, op: str) -> Node:
    """A last-axis row of the softmax family applied over `axes`: the axes are
    moved to the end and flattened into one, then put back.  logsumexp comes
    back with the axes kept as size 1."""
    if _count(x, axes) == 0:
        raise ShapeError(f"cannot reduce zero elements (shape {x.shape}, axes {axes}): "
                         "the result would have no value")
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = rest + list(axes)
    moved = N.transpose(x, perm)
    out = apply(op, (N.reshape(moved, moved.shape[:len(rest)] + (_count(x, axes),)),))
    if op == "logsumexp":
        return N.reshape(out, N.kept_shape(x.shape, axes))
    inverse = [perm.index(i) for i in range(x.ndim)]
    return N.transpose(N.reshape(out, moved.shape), inverse)


def logsumexp_kept(x: Node, axes: Axes) -> Node:
    """log(sum(exp(x))) over axes, kept as size 1: the `logsumexp` row, which is
    m + log1p(sum of the others' exp(x - m)), so nothing overflows and a
    dominant logit keeps the last digits (engine/ops/softmax.py)."""
    if not axes:
        return x
    return over_last(x, axes, "logsumexp")


def logsumexp(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=True)
    return _finish(logsumexp_kept(x, axes), x, axes, keepdims)


def norm_kept(x: Node, axes: Axes) -> Node:
    """2-norm over axes, kept as size 1.

    s * sqrt(sum((x / s)**2)) with s = max |x| (gradient-free, clamped to the
    smallest normal number and replaced by 1 if not finite) cannot overflow
    or underflow, and for any constant s > 0 it *is* the norm, so every
    derivative is exact.  The sqrt is double-wrapped in where: at a zero
    slice its derivative (inf) is never formed and the gradient is 0.
    """
    tiny = float(np.finfo(x.dtype).tiny)
    s = N.stop_gradient(_max_kept(N.unary("abs", x), axes))
    s = apply("maximum", (s, c(tiny, x)))
    s = N.where(N.compare("lt", s, c(math.inf, x)), s, c(1.0, x))
    y = N.mul(x, N.reciprocal(s))
    total = N.reduce_sum(N.mul(y, y), axes, keepdims=True)
    positive = N.compare("ne", total, c(0.0, x))  # "ne", not "gt": a nan stays nan
    root = N.where(positive, N.unary("sqrt", N.where(positive, total, c(1.0, x))), c(0.0, x))
    return N.mul(s, root)


def _centered(x: Node, axes: Axes) -> Node:
    return N.sub(x, _mean(x, axes, True))


def _ddof(value: Any) -> int:
    return int_arg("ddof", value, minimum=0)


def var(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False, ddof: Any = 0) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=True)
    d = _centered(x, axes)
    return _mean(N.mul(d, d), axes, keepdims, _ddof(ddof))


def std(ctx: Context, x: Any, axis: Any = None, keepdims: Any = False, ddof: Any = 0) -> Node:
    x, axes = _setup(ctx, x, axis, keepdims, floats=True)
    n = _count(x, axes) - _ddof(ddof)
    scale = 1.0 / math.sqrt(n) if n > 0 else math.nan
    return _finish(times(norm_kept(_centered(x, axes), axes), c(scale, x)), x, axes, keepdims)


def _dominated(what: str, bound64: float, seen64: float, bound32: float
               ) -> tuple[Accuracy, ...]:
    """The second derivatives of a norm at a vector with one entry 100 times
    the others: the graph forms 1/r - x_i**2/r**3, which cancels."""
    reason = (f"vectors with one entry 100 times the others: {what} is formed as "
              f"1/r - x_i**2/r**3, which cancels to the square of the small entries' ratio "
              f"({seen64:.1g} at [1, 1e-3, -2e-3] times any scale)")
    return (Accuracy(2, bound64, reason), Accuracy(2, bound32, reason, "float32"))


AXIS_DOC = "over axis (None: all; an int or a tuple), keepdims as numpy"
FUNCTIONS = [
    define("sum", sum_, f"sum {AXIS_DOC}"),
    define("mean", mean, f"arithmetic mean {AXIS_DOC}"),
    define("prod", prod, f"product {AXIS_DOC}; exact with zeros (no division)"),
    define("max", max_, f"largest element {AXIS_DOC}", TIES),
    define("min", min_, f"smallest element {AXIS_DOC}", TIES),
    define("logsumexp", logsumexp, f"log(sum(exp(x))) {AXIS_DOC}, stable for any x"),
    define("var", var, f"variance {AXIS_DOC}; ddof=0 divides by N (numpy's default)"),
    define("std", std, f"standard deviation {AXIS_DOC}; ddof=0 as numpy",
           "std of a constant slice has derivative 0 (not nan)",
           accuracy=_dominated("entries of the Hessian of the norm of x - mean", 1e-10, 7e-11,
                               5e-2)),
]
