"""Elementwise primitives whose textbook formulas lose precision: exp2,
sinc (and its derivatives of any order), hypot, logaddexp(2); and fmax/fmin,
whose NaN rule needs cotangents a composite cannot shape.

- sinc(x) = sin(pi x)/(pi x) uses sin(pi x) with exact argument reduction
  (x - round(x) is exact), so it is accurate next to its zeros at the
  integers, where sin(pi * x) is not; its n-th derivative is the same row
  with attribute order=n, computed from the power series for |pi x| < n + 1
  (the closed forms cancel near 0) and from the recurrence
  t g_n = sin^(n)(t) - n g_(n-1) beyond.
- hypot(a, b) never overflows or underflows (numpy's scaled hypot); its
  partials a/h and b/h are the row `hypot_ratio`, whose own partials
  (b/h) ((b/h)/h) and -(a/h) ((b/h)/h) involve no 1 - (a/h)**2 (which
  cancels when |b| << |a|), no h**-3 (which overflows or underflows at large
  scales) and no (b/h)**2 (which underflows at ratios beyond 1e154).
- logaddexp(a, b) is numpy's max + log1p(exp(-|a-b|)); its partials are
  sigmoid(a - b) and sigmoid(b - a), exact in both tails; logaddexp2 the
  same in base 2 (numpy's forward), its partials 1/(1 + 2**(b - a)) from
  exp2 of the difference itself (no rounded (a - b) ln 2).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import (
    batch_elementwise,
    infer_elementwise,
    sym_elementwise,
)
from gradcli.engine.ops.elementwise import _binary, unary
from gradcli.engine.ops.row import Accuracy, Primitive
from gradcli.engine.ops.table import apply

LN2 = math.log(2.0)


# ---- sinc -----------------------------------------------------------------------------

def _sinpi_cospi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin(pi x) and cos(pi x) with exact argument reduction: r = x - n is
    exact, and cos(pi r) = sin(pi (1/2 - |r|)) with 1/2 - |r| exact, so both
    keep full relative precision next to their zeros."""
    n = np.round(x)
    r = x - n
    flip = np.where(np.fmod(n, 2.0) != 0, -1.0, 1.0)
    return flip * np.sin(np.pi * r), flip * np.sin(np.pi * (0.5 - np.abs(r)))


def _sinc_series(t: np.ndarray, order: int) -> np.ndarray:
    """g_n(t), the n-th derivative of sin(t)/t, from its power series
    sum_k (-1)^k t^(2k-n) / ((2k+1) (2k-n)!) (small |t|: terms fall fast)."""
    first = (order + 1) // 2
    terms = []
    for k in range(first, first + 40 + 3 * order):
        m = 2 * k - order
        terms.append((-1.0) ** k / ((2 * k + 1) * math.factorial(m)) * t ** m)
    total = np.zeros_like(t)
    for term in reversed(terms):  # smallest first
        total += term
    return total


def _sinc_recurrence(x: np.ndarray, order: int) -> np.ndarray:
    """g_n(pi x) from t g_m = sin^(m)(t) - m g_(m-1), g_0 = sin(t)/t (|t| large)."""
    s, c = _sinpi_cospi(x)
    t = np.pi * x
    cycle = (s, c, -s, -c)
    g = s / t
    for m in range(1, order + 1):
        g = (cycle[m % 4] - m * g) / t
    return g


def sinc_forward(x: np.ndarray, order: int = 0) -> np.ndarray:
    """The order-th derivative of sinc at x (order 0: sinc itself), in float64
    and then the input's dtype."""
    x64 = np.asarray(x, dtype=np.float64)
    t = np.pi * x64
    small = np.abs(t) < max(1.0, order + 1.0)
    with np.errstate(all="ignore"):
        out = np.where(small, 0.0, _sinc_recurrence(np.where(small, 1.0, x64), order))
        if np.any(small):
            out[small] = _sinc_series(t[small], order)
    out *= np.pi ** order
    return out.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else out


def _sinc_derivative(x: Node, order: int) -> Node:
    return apply("sinc", (x,), {"order": order + 1})


def _sinc_vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x = out.inputs[0]
    return (N.mul_derivative(g, _sinc_derivative(x, out.attrs.get("order", 0))),)


def _sinc_jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
    x = out.inputs[0]
    return None if t[0] is None else N.mul_derivative(
        t[0], _sinc_derivative(x, out.attrs.get("order", 0)))


def _sinc_sympy(x: np.ndarray, order: int = 0) -> np.ndarray:
    import sympy

    u = sympy.Dummy("u", real=True)
    form = sympy.diff(sympy.sinc(sympy.pi * u), u, order)
    return sym_elementwise(lambda sp, a: form.xreplace({u: a}))(x)


SINC = Primitive("sinc", infer_elementwise, sinc_forward, _sinc_vjp, _sinc_jvp,
                 batch_elementwise("sinc"), _sinc_sympy,
                 "sin(pi x)/(pi x), numpy's normalised sinc, sinc(0) = 1; exact zeros at the "
                 "integers; attribute order=n: the n-th derivative (series near 0, no "
                 "cancellation)")


# ---- hypot ------------------------------------------------------------------------------

def _hypot_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / hypot(a, b): 0 at (0, 0) (the convention of hypot's gradient there),
    and its limit when a or b is infinite."""
    h = np.hypot(a, b)
    with np.errstate(all="ignore"):
        ratio = a / h
        ia, ib = np.isinf(a), np.isinf(b)
        at_inf = np.sign(a) * ia * np.where(ia & ib, np.sqrt(0.5), 1.0)
    ratio = np.where(h == 0, 0.0, np.where(ia | ib, at_inf, ratio))
    return np.asarray(ratio, dtype=np.result_type(a, b))


def _hypot_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    return apply("hypot_ratio", (a, b)), apply("hypot_ratio", (b, a))


def _ratio_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    # y = a/h, o = b/h: dy/da = o (o/h), dy/db = -y (o/h).  o/h never
    # overflows (o <= 1, 1/h <= 1/tiny), and the product underflows only
    # with its truth; o**2 / h would lose o**2 = 1e-350 while o**2/h = 1e-225.
    h = apply("hypot", (a, b))
    other = apply("hypot_ratio", (b, a))
    scaled = N.div(other, h)
    return N.mul(other, scaled), N.neg(N.mul(y, scaled))


def _sym_hypot_ratio(sp: Any, a: Any, b: Any) -> Any:
    return a / sp.sqrt(a ** 2 + b ** 2)


# ---- logaddexp -------------------------------------------------------------------------

def _difference(a: Node, b: Node, y: Node) -> Node:
    """a - b, but 0 where it is nan because a == b == +-inf (each operand then
    gets 1/2, the tie of max).  A finite tie keeps a - b, so second
    derivatives there stay sigmoid' = 1/4."""
    d = N.sub(a, b)
    return N.where(apply("isnan", (d,)), N.scalar(0.0, y), d)


def _logaddexp_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    d = _difference(a, b, y)
    return N.unary("sigmoid", d), N.unary("sigmoid", N.neg(d))


def _base2_logistic(d: Node) -> Node:
    """1/(1 + 2**-d) from exp2 of d itself: sigmoid(d ln 2) would first round
    d ln 2, an error of |d ln 2| eps in the result (1e-14 at d = 800).  Each
    branch sees only its own sign of d (the other clamped to 0), so exp2
    never overflows, also in the branch not taken."""
    zero, one = N.scalar(0.0, d), N.scalar(1.0, d)
    up = N.compare("ge", d, zero)
    e_up = N.unary("exp2", N.neg(N.where(up, d, zero)))  # 2**-d <= 1 for d >= 0
    e_down = N.unary("exp2", N.where(up, zero, d))  # 2**d < 1 for d < 0
    return N.where(up, N.reciprocal(N.add(one, e_up)), N.div(e_down, N.add(one, e_down)))


def _logaddexp2_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    # 1/(1 + 2**(b - a)) and 1/(1 + 2**(a - b))
    d = _difference(a, b, y)
    return _base2_logistic(d), _base2_logistic(N.neg(d))


# ---- fmax, fmin ---------------------------------------------------------------------------

def _nan_ignoring(name: str, cmp: str, forward: Any, sym_pick: str, doc: str) -> Primitive:
    """fmax/fmin: the larger/smaller operand, a NaN operand passed over.

    Cotangents are `where(isnan(x), 0, ...)` at the top, so a NaN operand
    made by an invalid operation (sqrt(-1)) gets exactly 0 and its producer's
    nan derivative is not multiplied in (nodes.mul_derivative); a composite
    of wheres would feed such an operand from two places and lose that."""

    def share(a: Node, b: Node, like: Node) -> Node:
        # a's share where both are numbers: 1 if it wins, 1/2 at a tie
        win = N.mask(N.compare(cmp, a, b), like)
        tie = N.mask(N.compare("eq", a, b), like)
        return N.add(win, N.mul(N.scalar(0.5, like), tie))

    def masked(g: Node, mine: Node, other: Node, part: Node) -> Node:
        zero = N.scalar(0.0, g)
        return N.where(apply("isnan", (mine,)), zero,
                       N.where(apply("isnan", (other,)), g, N.mul(g, part)))

    def vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
        a, b = out.inputs
        w = share(a, b, out)
        return (N.sum_to(masked(g, a, b, w), a.shape) if needs[0] else None,
                N.sum_to(masked(g, b, a, N.sub(N.scalar(1.0, out), w)), b.shape)
                if needs[1] else None)

    def jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
        if t[0] is None and t[1] is None:
            return None
        a, b = out.inputs
        ta, tb = (x if x is not None else N.scalar(0.0, out) for x in t)
        w = share(a, b, out)
        both = N.add(N.mul(ta, w), N.mul(tb, N.sub(N.scalar(1.0, out), w)))
        # where(), not products with masks: the tangent of a NaN operand may be nan
        a_nan, b_nan = apply("isnan", (a,)), apply("isnan", (b,))
        picked = N.where(b_nan, N.where(a_nan, N.scalar(0.0, out), ta),
                         N.where(a_nan, tb, both))
        return N.broadcast_to(picked, out.shape)

    def sympy_rule(sp: Any, a: Any, b: Any) -> Any:
        from gradcli.engine.ops.rounding import _sym_isnan

        return sp.Piecewise((a, _sym_isnan(sp, b)), (b, _sym_isnan(sp, a)),
                            (getattr(sp, sym_pick)(a, b), True))

    return Primitive(name, infer_elementwise, forward, vjp, jvp, batch_elementwise(name),
                     sym_elementwise(sympy_rule), doc, NAN_RULE)


NAN_RULE = ("a NaN operand is passed over: where one operand is NaN the result is the other "
            "(derivative 1 to it, exactly 0 to the NaN); both NaN: NaN, derivative 0 to "
            "both; ties split the derivative evenly (1/2 each)")

# Documented exceptions to the accuracy bar (docs/accuracy.md).
RATIO_TINY = ("where hypot(a, b) < 1e-150 and one operand is 1e25 or more times the other: "
              "the second derivatives (hypot's third, like -3 a b**2 / h**5) are formed "
              "through 1/h**2, which overflows before the small factors multiply in: inf "
              "or nan where the truth is as large as 1.6e300 (elsewhere below 1e-15)")
NEAR_ZERO = ("next to the curve where the value is 0 (e**a + e**b = 1): max(a, b) + "
             "log1p(e**-|a - b|) adds two rounded numbers near -ln 2 and ln 2 (base 2: -1 "
             "and 1), so the relative error grows as eps / |value|; the derivatives are "
             "unaffected")
ROOT_E = "a = -ln 2 + 1e-3, b = -ln 2 - 1e-3"
ROOT_2 = "a = -0.999, b = -1.001"

LOGADDEXP_KINK = ("derivatives sigmoid(a - b), sigmoid(b - a): 1/2 each at a tie, also at "
                  "a = b = +-inf")

ROWS = [
    unary("exp2", np.exp2, lambda x, y: N.mul(N.scalar(LN2, x), y), lambda sp, a: 2 ** a,
          "2**x; derivative log(2) 2**x"),
    SINC,
    _binary("hypot", _hypot_partials, np.hypot, lambda sp, a, b: sp.sqrt(a ** 2 + b ** 2),
            "sqrt(a**2 + b**2) without overflow or underflow (scaled)",
            "hypot'(0, 0) = (0, 0), as norm'(0) = 0; second derivatives there are nan"),
    replace(_binary("hypot_ratio", _ratio_partials, _hypot_ratio, _sym_hypot_ratio,
                    "a / hypot(a, b), the partial of hypot (exact at any scale; 0 at (0, 0))",
                    "0 at (0, 0); derivatives there are nan"),
            accuracy=(Accuracy(2, math.inf, RATIO_TINY),)),
    replace(_binary("logaddexp", _logaddexp_partials, np.logaddexp,
                    lambda sp, a, b: sp.log(sp.exp(a) + sp.exp(b)),
                    "log(e**a + e**b), stable: max(a, b) + log1p(e**-|a - b|)",
                    LOGADDEXP_KINK),
            accuracy=(Accuracy(0, 1e-11, f"{NEAR_ZERO}; 4.5e-12 at {ROOT_E} (value 5e-7)"),
                      Accuracy(0, 0.1, f"{NEAR_ZERO}; 0.077 at {ROOT_E}", "float32"))),
    replace(_binary("logaddexp2", _logaddexp2_partials, np.logaddexp2,
                    lambda sp, a, b: sp.log(2 ** a + 2 ** b, 2),
                    "log2(2**a + 2**b), stable: max(a, b) + log2(1 + 2**-|a - b|)",
                    LOGADDEXP_KINK.replace("(a - b)", "((a - b) ln 2)").replace(
                        "(b - a)", "((b - a) ln 2)")),
            accuracy=(Accuracy(0, 5e-10, f"{NEAR_ZERO}; 2e-10 at {ROOT_2} (value 3.5e-7)"),
                      Accuracy(0, 0.1, f"{NEAR_ZERO}; 0.059 at {ROOT_2}", "float32"))),
    _nan_ignoring("fmax", "gt", np.fmax, "Max",
                  "elementwise larger value, ignoring NaN (numpy.fmax)"),
    _nan_ignoring("fmin", "lt", np.fmin, "Min",
                  "elementwise smaller value, ignoring NaN (numpy.fmin)"),
]
