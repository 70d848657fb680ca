"""Derivative forms that keep full relative precision at every order, for
the rows of `elementwise.py`, and the two logarithms whose derivative needs
its constant inside the reciprocal.

Derivative rules are graphs, and their derivatives are whatever autodiff
makes of them, so a form has to be stable *as a graph*:
- 1 - x**2 is `where(|x| < 1/2, 1 - x*x, (1 - x)(1 + x))`: each branch is
  exact where it is taken (1 - x is exact for x in [1/2, 2]), and so is its
  derivative (-(x + x), or -(1 + x) + (1 - x) with both terms near 1);
- quadratics that overflow (1 + x**2 at 1e200, a**2 + b**2) are scaled by a
  gradient-free s (`stop_gradient`): for any constant s the scaled formula
  *is* the function, so every derivative is exact, and its intermediates
  stay near 1 (the trick of `norm`);
- products are grouped so that no intermediate leaves the range when the
  result is a normal number (x**-2 * c is (x * (1/c))**-2).
docs/accuracy.md shows the measured errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import batch_elementwise, infer_elementwise, sym_elementwise
from gradcli.engine.ops.row import Primitive
from gradcli.engine.ops.table import apply


def c(value: float, like: Node) -> Node:
    return N.scalar(value, like)


def one_minus_square(x: Node) -> Node:
    """1 - x**2 without cancellation, for |x| <= 1 (arcsin, arccos, arctanh)."""
    small = N.compare("lt", N.unary("abs", x), c(0.5, x))
    near_one = N.mul(N.sub(c(1.0, x), x), N.add(c(1.0, x), x))
    return N.where(small, N.sub(c(1.0, x), N.square(x)), near_one)


def _scale(x: Node, threshold: float) -> tuple[Node, Node]:
    """(s, 1/s): s = |x| where |x| > threshold, else 1, without a derivative."""
    size = N.unary("abs", x)
    s = N.stop_gradient(N.where(N.compare("gt", size, c(threshold, x)), size, c(1.0, x)))
    return s, N.reciprocal(s)


def inv_sqrt_one_plus_square(x: Node) -> Node:
    """(1 + x**2)**-1/2 = (1/s) ((x/s)**2 + (1/s)**2)**-1/2 (arcsinh')."""
    _, inv = _scale(x, 1.0)
    u = N.mul(x, inv)
    return N.mul(inv, N.power(N.add(N.square(u), N.square(inv)), c(-0.5, x)))


def inv_one_plus_square(x: Node) -> Node:
    """1 / (1 + x**2) = (1/s)**2 / ((x/s)**2 + (1/s)**2) (arctan')."""
    _, inv = _scale(x, 1.0)
    u = N.mul(x, inv)
    return N.mul(N.mul(inv, N.reciprocal(N.add(N.square(u), N.square(inv)))), inv)


def inv_sqrt_square_minus_one(x: Node) -> Node:
    """(x**2 - 1)**-1/2 for x >= 1 (arccosh'): (x - 1)(x + 1) up to x = 2, where
    x - 1 is exact; above, (1/s) ((u - 1/s)(u + 1/s))**-1/2 with u = x/s, whose
    factors stay in [1/2, 3/2]."""
    _, inv = _scale(x, 2.0)
    u = N.mul(x, inv)
    product = N.mul(N.sub(u, inv), N.add(u, inv))
    return N.mul(inv, N.power(product, c(-0.5, x)))


def arctan2_partials(a: Node, b: Node) -> tuple[Node, Node]:
    """(b, -a) / (a**2 + b**2) with both operands scaled by s = max(|a|, |b|):
    ((b/s) q / s, -(a/s) q / s) with q = 1 / ((a/s)**2 + (b/s)**2) in [1/2, 1]."""
    s = N.stop_gradient(apply("maximum", (N.unary("abs", a), N.unary("abs", b))))
    inv = N.reciprocal(s)
    u, v = N.mul(a, inv), N.mul(b, inv)
    q = N.reciprocal(N.add(N.square(u), N.square(v)))
    return N.mul(N.mul(v, q), inv), N.neg(N.mul(N.mul(u, q), inv))


def _scaled_log(name: str, base: float, forward: Callable[..., np.ndarray]) -> Primitive:
    """log_base(x) with derivative 1 / (x ln(base)): the constant inside the
    reciprocal, so the second derivative -(x ln b)**-2 ln b has no
    intermediate x**-2 that overflows while the result is a normal number."""
    ln = math.log(base)

    def deriv(x: Node) -> Node:
        return N.reciprocal(N.mul(x, c(ln, x)))

    def vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
        return (N.mul_derivative(g, deriv(out.inputs[0])),)

    def jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
        return None if t[0] is None else N.mul_derivative(t[0], deriv(out.inputs[0]))

    return Primitive(name, infer_elementwise, forward, vjp, jvp, batch_elementwise(name),
                     sym_elementwise(lambda sp, a: sp.log(a, base)),
                     f"base-{base:g} logarithm (numpy's log{base:g}: one rounding)")


ROWS = [_scaled_log("log2", 2.0, np.log2), _scaled_log("log10", 10.0, np.log10)]
