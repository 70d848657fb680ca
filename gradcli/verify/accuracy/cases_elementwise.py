"""Accuracy cases of the elementwise ops: their points and mpmath closed forms.

The closed forms are written so that mpmath itself does not cancel at 50
digits (s(x) s(-x) rather than s (1 - s) for a saturated sigmoid, for
instance); `case.cross_check` holds each against mpmath.diff."""

from __future__ import annotations

import numpy as np
from mpmath import mp

from gradcli.verify.accuracy.case import Case, binary, unary
from gradcli.verify.accuracy.points import (
    Range,
    join,
    linear,
    magnitudes,
    near,
    signed,
    within,
)


def both(r: Range) -> np.ndarray:
    return signed(magnitudes(r))


def positive(r: Range) -> np.ndarray:
    return magnitudes(r)


def tails(r: Range) -> np.ndarray:
    """Both signs, dense where exp over- or underflows and the tails saturate."""
    edge = 750.0 if r.dtype == "float64" else 105.0
    return join(both(r), linear(r, -edge, edge, 151), linear(r, -40.0, 40.0, 81))


def unit_open(r: Range) -> np.ndarray:
    """(-1, 1) with points approaching both ends."""
    return join(within(both(r), -1.0, 1.0), near(r, 1.0, -1), near(r, -1.0, 1))


def above_one(r: Range) -> np.ndarray:
    return join(within(positive(r), 1.0, np.inf), near(r, 1.0, 1))


def log_points(r: Range) -> np.ndarray:
    return join(positive(r), near(r, 1.0))


def log1p_points(r: Range) -> np.ndarray:
    return join(positive(r), within(-positive(r), -1.0, 0.0), near(r, -1.0, 1))


def trig_points(r: Range) -> np.ndarray:
    """The sweep plus floats next to multiples of pi/2, where the outputs pass zero."""
    multiples = [k * np.pi / 2 for k in (1, 2, 3, 4, 7, 100, 1001)]
    return join(both(r), signed(r.exact(multiples)))


def s(x):  # the logistic function, exact at 50 digits in both tails
    return 1 / (1 + mp.exp(-x))


def phi(x):  # the normal density
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def Phi(x):  # the normal distribution function, exact in the left tail
    return mp.erfc(-x / mp.sqrt(2)) / 2


def cbrt(x):
    return mp.sign(x) * mp.cbrt(abs(x))


ALPHA = float(np.float64(0.01))  # leaky_relu's default slope, as the float it is

UNARY = [
    unary("neg", both, lambda x: -x, lambda x: -1, lambda x: 0, expr="-x"),
    unary("exp", both, mp.exp, mp.exp, mp.exp),
    unary("expm1", both, mp.expm1, mp.exp, mp.exp, "x -> 0"),
    unary("log", log_points, mp.log, lambda x: 1 / x, lambda x: -1 / x ** 2, "x -> 1"),
    unary("log1p", log1p_points, mp.log1p, lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2,
          "x -> 0 and x -> -1"),
    unary("sin", trig_points, mp.sin, mp.cos, lambda x: -mp.sin(x), "next to multiples of pi/2"),
    unary("cos", trig_points, mp.cos, lambda x: -mp.sin(x), lambda x: -mp.cos(x),
          "next to multiples of pi/2"),
    unary("tan", trig_points, mp.tan, lambda x: mp.sec(x) ** 2,
          lambda x: 2 * mp.tan(x) * mp.sec(x) ** 2, "next to multiples of pi/2"),
    unary("arcsin", unit_open, mp.asin, lambda x: 1 / mp.sqrt((1 - x) * (1 + x)),
          lambda x: x / ((1 - x) * (1 + x)) ** 1.5, "x -> ±1"),
    unary("arccos", unit_open, mp.acos, lambda x: -1 / mp.sqrt((1 - x) * (1 + x)),
          lambda x: -x / ((1 - x) * (1 + x)) ** 1.5, "x -> ±1"),
    unary("arctan", both, mp.atan, lambda x: 1 / (1 + x * x),
          lambda x: -2 * x / (1 + x * x) ** 2),
    unary("sinh", both, mp.sinh, mp.cosh, mp.sinh, "x -> 0"),
    unary("cosh", both, mp.cosh, mp.sinh, mp.cosh),
    unary("tanh", tails, mp.tanh, lambda x: mp.sech(x) ** 2,
          lambda x: -2 * mp.sech(x) ** 2 * mp.tanh(x), "large |x|"),
    unary("sech2", tails, lambda x: mp.sech(x) ** 2, lambda x: -2 * mp.sech(x) ** 2 * mp.tanh(x),
          lambda x: mp.sech(x) ** 2 * (4 * mp.tanh(x) ** 2 - 2 * mp.sech(x) ** 2), "large |x|"),
    unary("arcsinh", both, mp.asinh, lambda x: 1 / mp.sqrt(1 + x * x),
          lambda x: -x / (1 + x * x) ** 1.5, "|x| up to 1e300"),
    unary("arccosh", above_one, mp.acosh, lambda x: 1 / mp.sqrt((x - 1) * (x + 1)),
          lambda x: -x / ((x - 1) * (x + 1)) ** 1.5, "x -> 1, x up to 1e300"),
    unary("arctanh", unit_open, mp.atanh, lambda x: 1 / ((1 - x) * (1 + x)),
          lambda x: 2 * x / ((1 - x) * (1 + x)) ** 2, "x -> ±1"),
    unary("sqrt", positive, mp.sqrt, lambda x: 1 / (2 * mp.sqrt(x)),
          lambda x: -1 / (4 * x * mp.sqrt(x)), "x -> 0"),
    unary("cbrt", both, cbrt, lambda x: 1 / (3 * cbrt(x) ** 2),
          lambda x: -2 / (9 * cbrt(x) ** 5), "x -> 0"),
    unary("abs", both, abs, mp.sign, lambda x: 0),
    unary("sign", both, mp.sign, lambda x: 0, lambda x: 0),
    unary("erf", tails, mp.erf, lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-x * x),
          lambda x: -4 * x / mp.sqrt(mp.pi) * mp.exp(-x * x), "large |x|"),
    unary("erfc", tails, mp.erfc, lambda x: -2 / mp.sqrt(mp.pi) * mp.exp(-x * x),
          lambda x: 4 * x / mp.sqrt(mp.pi) * mp.exp(-x * x), "large |x|"),
    unary("sigmoid", tails, s, lambda x: s(x) * s(-x),
          lambda x: -s(x) * s(-x) * mp.tanh(x / 2), "large |x|"),
    unary("softplus", tails, lambda x: mp.log1p(mp.exp(x)), s, lambda x: s(x) * s(-x),
          "large |x|"),
    # Catalogue functions built from the primitives with a stable form of their own.
    unary("gelu", tails, lambda x: x * Phi(x), lambda x: Phi(x) + x * phi(x),
          lambda x: phi(x) * (2 - x * x), "large |x|"),
    unary("silu", tails, lambda x: x * s(x), lambda x: s(x) + x * s(x) * s(-x),
          lambda x: s(x) * s(-x) * (2 - x * mp.tanh(x / 2)), "large |x|"),
    unary("elu", tails, lambda x: x if x > 0 else mp.expm1(x),
          lambda x: 1 if x > 0 else mp.exp(x), lambda x: 0 if x > 0 else mp.exp(x),
          "large |x|"),
    unary("relu", both, lambda x: max(x, 0), lambda x: 1 if x > 0 else 0, lambda x: 0),
    unary("leaky_relu", both, lambda x: x if x > 0 else ALPHA * x,
          lambda x: 1 if x > 0 else ALPHA, lambda x: 0),
    unary("square", both, lambda x: x * x, lambda x: 2 * x, lambda x: 2),
    unary("log2", log_points, lambda x: mp.log(x, 2), lambda x: 1 / (x * mp.log(2)),
          lambda x: -1 / (x * x * mp.log(2)), "x -> 1"),
    unary("log10", log_points, lambda x: mp.log(x, 10), lambda x: 1 / (x * mp.log(10)),
          lambda x: -1 / (x * x * mp.log(10)), "x -> 1"),
]


def grid(r: Range, step: int = 25) -> np.ndarray:
    """Pairs (a, b) of signed magnitudes every `step` decades (ratios up to 1e600)."""
    m = signed(r.exact(10.0 ** k * 1.37 for k in range(r.lo, r.hi + 1, step)))
    a, b = np.meshgrid(m, m, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def pow_points(r: Range) -> np.ndarray:
    """Positive bases over the range with exponents around 0, 1 and 2; zero
    bases; zero exponents; negative bases with integer exponents; bases
    next to 1 with large exponents."""
    exps = [-3.0, -2.0, -1.0, -0.5, 0.0, 0.37, 0.5, 1.0, 1.5, 2.0, 3.0, 7.25]
    bases = r.exact(10.0 ** k * 1.9 for k in range(r.lo, r.hi + 1, 10))
    rows = [(a, b) for a in bases for b in exps]
    rows += [(0.0, b) for b in (0.5, 1.0, 2.0, 3.0, 7.25)]
    rows += [(-a, b) for a in (0.3, 1.7, 25.0, 1e10) for b in (-3.0, -2.0, -1.0, 2.0, 3.0)]
    rows += [(1.0 + d, b) for d in near(r, 0.0) for b in (1e3, -250.0)]
    return r.exact(np.ravel(rows)).reshape(-1, 2)


def pow_hess(a, b):
    y = a ** b
    return (b * (b - 1) * a ** (b - 2), a ** (b - 1) * (1 + b * mp.log(a)),
            y * mp.log(a) ** 2)


def pow_exception(points: np.ndarray) -> np.ndarray:
    """The points of pow's documented float32 exception: b == 0 with a**-2
    beyond float32, and d2/da db = a**(b-1) (1 + b log a) next to its root."""
    a, b = points[:, 0], points[:, 1]
    with np.errstate(all="ignore"):
        near_root = np.abs(1 + b * np.log(np.abs(a))) < 1e-2
    return ((b == 0) & (np.abs(a) < 1 / np.sqrt(np.finfo("float32").max))) | near_root


def distinct(points: np.ndarray) -> np.ndarray:
    return points[:, 0] == points[:, 1]


BINARY = [
    binary("add", "a + b", grid, lambda a, b: a + b, lambda a, b: (1, 1),
           lambda a, b: (0, 0, 0)),
    binary("mul", "a * b", grid, lambda a, b: a * b, lambda a, b: (b, a),
           lambda a, b: (0, 1, 0)),
    binary("pow", "a ** b", pow_points, lambda a, b: a ** b,
           lambda a, b: (b * a ** (b - 1), a ** b * mp.log(a)), pow_hess,
           "zero bases and exponents, bases next to 1", loose=pow_exception),
    binary("maximum", "maximum(a, b)", grid, max,
           lambda a, b: (1, 0) if a > b else (0, 1), lambda a, b: (0, 0, 0),
           avoid=distinct),
    binary("minimum", "minimum(a, b)", grid, min,
           lambda a, b: (1, 0) if a < b else (0, 1), lambda a, b: (0, 0, 0),
           avoid=distinct),
    binary("arctan2", "arctan2(a, b)", grid, mp.atan2,
           lambda a, b: (b / (a * a + b * b), -a / (a * a + b * b)),
           lambda a, b: (-2 * a * b / (a * a + b * b) ** 2,
                         (a * a - b * b) / (a * a + b * b) ** 2,
                         2 * a * b / (a * a + b * b) ** 2),
           "both operands up to 1e300 (the squares overflow)"),
]

CASES: list[Case] = UNARY + BINARY
