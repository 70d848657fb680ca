"""numpy.linalg.norm: vector norms over one axis, matrix norms over two.

ord=None keeps gradcli's 2-norm over any axes (Frobenius for matrices), which
never overflows (`reduce.norm_kept`).  Vector p-norms are scaled the same
way; matrix norms 2, -2 and 'nuc' go through the singular values, so they
inherit svd's convention at repeated singular values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops import svd as V
from gradcli.engine.ops.row import Accuracy
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import axis_arg, bool_arg, int_sequence, one_axis, static
from gradcli.language.functions.context import Context, to_float
from gradcli.language.functions.reduce import _dominated, _finish, _max_kept, norm_kept
from gradcli.language.functions.registry import define

Axes = tuple[int, ...]
MATRIX_ORDERS = ("fro", "f", "nuc")


def _c(value: float, like: Node) -> Node:
    return N.scalar(value, like)


def _min_kept(x: Node, axes: Axes) -> Node:
    return N.neg(_max_kept(N.neg(x), axes))


def _order(value: Any) -> float | str | None:
    value = static(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise SpecError(f"argument 'ord' must be a number, inf, -inf, 'fro' or 'nuc', "
                        f"got {value!r}")
    return float(value)


def _p_norm_kept(x: Node, axes: Axes, p: float) -> Node:
    """(sum |x|**p)**(1/p) as s * (sum (|x|/s)**p)**(1/p) with s = max|x|
    (gradient-free), so nothing overflows; the outer root is double-wrapped
    in where so a zero slice gets gradient 0 (as the 2-norm)."""
    tiny = float(np.finfo(x.dtype).tiny)
    s = N.stop_gradient(_max_kept(N.unary("abs", x), axes))
    s = apply("maximum", (s, _c(tiny, x)))
    s = N.where(N.compare("lt", s, _c(math.inf, x)), s, _c(1.0, x))
    y = N.mul(N.unary("abs", x), N.reciprocal(s))
    total = N.reduce_sum(N.power(y, _c(p, x)), axes, keepdims=True)
    positive = N.compare("ne", total, _c(0.0, x))
    safe = N.where(positive, total, _c(1.0, x))
    root = N.where(positive, N.power(safe, _c(1.0 / p, x)), _c(0.0, x))
    return N.mul(s, root)


def _vector_kept(x: Node, axis: int, order: float | str | None) -> Node:
    axes = (axis,)
    if order is None or order == 2.0:
        return norm_kept(x, axes)
    if isinstance(order, str):
        raise SpecError(f"ord={order!r} is a matrix norm: give axis= two axes, or a 2-D array")
    if order == math.inf:
        return _max_kept(N.unary("abs", x), axes)
    if order == -math.inf:
        return _min_kept(N.unary("abs", x), axes)
    if order == 0.0:
        nonzero = N.mask(N.compare("ne", x, _c(0.0, x)), x)
        return N.reduce_sum(nonzero, axes, keepdims=True)
    if order == 1.0:
        return N.reduce_sum(N.unary("abs", x), axes, keepdims=True)
    if math.isnan(order):
        raise SpecError("argument 'ord' is nan")
    return _p_norm_kept(x, axes, order)


def _matrix_kept(x: Node, rows: int, cols: int, order: float | str | None) -> Node:
    both = tuple(sorted((rows, cols)))
    if order is None or order in ("fro", "f"):
        return norm_kept(x, both)
    if order in (2.0, -2.0, "nuc"):
        rest = [i for i in range(x.ndim) if i not in (rows, cols)]
        s = V.svd_s(N.transpose(x, rest + [rows, cols]))
        last = (s.ndim - 1,)
        if order == "nuc":
            out = N.reduce_sum(s, last)
        else:
            out = N.reshape((_max_kept if order == 2.0 else _min_kept)(s, last), s.shape[:-1])
        return N.reshape(out, N.kept_shape(x.shape, both))
    if order in (1.0, -1.0, math.inf, -math.inf):
        # 1: the largest column sum (sum over rows); inf: the largest row sum.
        summed, picked = (rows, cols) if abs(order) == 1.0 else (cols, rows)
        sums = N.reduce_sum(N.unary("abs", x), (summed,), keepdims=True)
        return (_max_kept if order > 0 else _min_kept)(sums, (picked,))
    raise SpecError(f"ord={order!r} is not a matrix norm: use 'fro', 'nuc', 2, -2, 1, -1, "
                    "inf or -inf")


P_DOMINATED = ("vectors with one entry 100 times the others: the diagonal of the Hessian, "
               "(p - 1) r_i**(p-2) (1 - r_i**p) / norm with r = |x|/norm, is formed as a "
               "difference that cancels to the p-th power of the small entries' ratio")
TOP_OF_FLOAT32 = ("at the top of float32 (a vector [1, 1e-3, -2e-3] * 1e35): the graph "
                  "scales by s = max|x| and 1/s = 1e-35, and a small entry's tangent or "
                  "second derivative passes through a subnormal (or an overflowing) "
                  "intermediate before the scale returns")
P_NORM_ACCURACY = (
    Accuracy(1, 2e-5, f"{TOP_OF_FLOAT32}: 1.3e-5", "float32", "ord=3"),
    Accuracy(2, 1e-7, f"{P_DOMINATED}: 3.8e-8 at [1, 1e-3, -2e-3] times any scale",
             variant="ord=3"),
    Accuracy(2, 20.0, f"{P_DOMINATED}: 19 (no digits left) at [1, 1e-3, -2e-3] * 1e-10; "
                      f"and {TOP_OF_FLOAT32}", "float32", "ord=3"),
    Accuracy(2, math.inf, f"{TOP_OF_FLOAT32}: inf where the truth is -1.7e-31",
             "float32", "ord=0.5"),
)


def norm(ctx: Context, x: Any, ord: Any = None, axis: Any = None,  # noqa: A002 - numpy's name
         keepdims: Any = False) -> Node:
    x = to_float(ctx, x)
    keep = bool_arg("keepdims", keepdims)
    order = _order(ord)
    if order is None:
        axes = axis_arg("axis", axis, x.ndim)  # the 2-norm over any axes (numpy: one or two)
        return _finish(norm_kept(x, axes), x, axes, keep)
    if axis is None:
        if x.ndim not in (1, 2):
            raise ShapeError(f"ord={ord!r} needs a 1-D or 2-D array, or axis= naming one "
                             f"axis (a vector norm) or two (a matrix norm); got shape {x.shape}")
        chosen: Axes = tuple(range(x.ndim))
    else:
        chosen = tuple(one_axis("axis", a, x.ndim) for a in int_sequence("axis", axis))
    if len(chosen) == 1:
        out = _vector_kept(x, chosen[0], order)
    elif len(chosen) == 2:
        if chosen[0] == chosen[1]:
            raise ShapeError(f"axis={axis!r} names the same axis twice")
        out = _matrix_kept(x, chosen[0], chosen[1], order)
    else:
        raise ShapeError(f"ord={ord!r} takes one axis (a vector norm) or two (a matrix norm), "
                         f"got axis={axis!r}")
    return _finish(out, x, tuple(sorted(chosen)), keep)


FUNCTIONS = [
    define("norm", norm, "numpy.linalg.norm: ord=None the 2-norm over axis (all axes by "
           "default; Frobenius for matrices), never overflowing; vector ords over one axis "
           "(2, 1, inf, -inf, 0 = count of non-zeros, any p); matrix ords over two axes "
           "('fro', 'nuc', 2, -2, 1, -1, inf, -inf)",
           "a zero vector or matrix gets gradient 0 (norm'(0) = 0); abs'(0) = 0 and ties "
           "split evenly for 1, inf and their matrix forms; ord=2, -2 and 'nuc' follow svd "
           "at repeated singular values",
           accuracy=_dominated("the diagonal (r**2 - x_i**2) / r**3", 2e-10, 1.1e-10, 5e-2)
           + P_NORM_ACCURACY),
]
