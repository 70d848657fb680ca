"""Accuracy cases of numpy's further elementwise functions (exp2, sinc,
reciprocal, hypot and its partial, logaddexp(2), the angle conversions,
fmax/fmin) and of the piecewise ones (rounding, floor_divide, mod, fmod).

The rounding family is piecewise constant: its derivatives are 0 (the
truth 0 is not a normal number, so those entries are not checked) and its
values are checked where they mean something: half-integers (ties to
even), floats next to integers, and magnitudes up to 1e300, where every
float is an integer.  mod and fmod are a - b q with q an integer: d/db = -q
is checked up to quotients of 1e300; their references are exact fractions
(a - b floor(a / b) at 50 digits would cancel, and mpmath's fmod has the
sign of b and rounds)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from mpmath import mp

from gradcli.verify.accuracy.case import Case, binary, unary
from gradcli.verify.accuracy.cases_elementwise import both, distinct, grid, s
from gradcli.verify.accuracy.points import Range, join, linear, magnitudes, near, signed


def ln2():
    return mp.log(2)  # at the working precision of the caller


def exp2_points(r: Range) -> np.ndarray:
    """The sweep, and 2**x through its overflow and underflow (|x| to 1100)."""
    edge = 1100.0 if r.dtype == "float64" else 150.0
    return join(both(r), linear(r, -edge, edge, 221), linear(r, -3.0, 3.0, 61))


def sinc_points(r: Range) -> np.ndarray:
    """The sweep; floats next to the zeros 1, 2, 3, 10, 1e6 + 1; both sides of
    where the forward switches from the series to the recurrence (|pi x| =
    1, 2, 3); half-integers."""
    parts = [both(r), signed(r.exact([0.5, 1.5, 2.5, 10.5, 1e6 + 0.5]))]
    for k in (1.0, 2.0, 3.0, 10.0, 1e6 + 1):
        parts.append(signed(near(r, k, deepest=12 if r.dtype == "float64" else 6)))
    for t in (1.0, 2.0, 3.0):
        parts.append(signed(linear(r, t / float(np.pi) * 0.98, t / float(np.pi) * 1.02, 9)))
    return join(*parts)


def sinc_value(x):
    return mp.sincpi(x)


def _sinc_series(x, order: int):
    """The order-th derivative of sinc at small |pi x| from the series of
    sin(t)/t = sum (-1)^k t^2k / (2k+1)!: no cancellation."""
    t = mp.pi * x
    total = mp.zero
    k = (order + 1) // 2
    while True:
        m = 2 * k - order
        term = (-1) ** k * t ** m / (mp.factorial(2 * k + 1) * mp.factorial(m)) \
            * mp.factorial(2 * k)
        total += term
        if k > 4 and abs(term) < mp.eps * abs(total) * mp.mpf(10) ** -5:
            break
        k += 1
    return total * mp.pi ** order


def sinc_d1(x):
    if abs(mp.pi * x) < 1:
        return _sinc_series(x, 1)
    with mp.workdps(mp.dps + 30):  # x cos - sin/pi cancels near the extrema
        return (mp.cospi(x) - mp.sincpi(x)) / x


def sinc_d2(x):
    if abs(mp.pi * x) < 1:
        return _sinc_series(x, 2)
    with mp.workdps(mp.dps + 30):
        return -mp.pi ** 2 * mp.sincpi(x) - 2 * sinc_d1(x) / x


def logaddexp_points(r: Range, root: float = float(-np.log(2.0))) -> np.ndarray:
    """Pairs: the grid of magnitudes; differences from 1e-8 to 800 (beyond
    the float's exp) at offsets 0, -1000, +1000 and 1e5 (float32: 100, 50,
    1e3); ties; and pairs next to the curve where the value is 0 (e**a + e**b
    = 1 at a = b = -ln 2, 2**a + 2**b = 1 at a = b = -1)."""
    big = 800.0 if r.dtype == "float64" else 100.0
    offsets = (0.0, -1000.0, 1000.0, 1e5) if r.dtype == "float64" else (0.0, -50.0, 1e3)
    gaps = [1e-8, 1e-3, 0.5, 2.0, 9.0, 40.0, 120.0, big / 2, big]
    rows = [(o, o - g) for o in offsets for g in gaps] + [(o - g, o) for o in offsets
                                                          for g in gaps]
    rows += [(o, o) for o in offsets]
    rows += [(root + d, root + e * d) for d in (1e-3, -1e-3, 0.25, -0.25) for e in (1, -1)]
    pairs = r.exact(np.ravel(rows)).reshape(-1, 2)
    return np.concatenate([grid(r, 50), pairs])


def logaddexp2_points(r: Range) -> np.ndarray:
    return logaddexp_points(r, -1.0)


def near_zero(base: float):
    """The points where log_base(base**a + base**b) is below 1/2: next to its zero."""
    def mask(points: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            value = np.logaddexp(points[:, 0], points[:, 1]) if base == np.e else \
                np.logaddexp2(points[:, 0], points[:, 1])
        return np.abs(value) < 0.5

    return mask


def sparse_grid(r: Range) -> np.ndarray:
    return grid(r, 50)


def lae(a, b):
    m = max(a, b)
    return m + mp.log1p(mp.exp(-abs(a - b)))


def lae_hess(a, b):
    h = s(a - b) * s(b - a)
    return h, -h, h


def lae2(a, b):
    """max + log2(1 + 2**-|a - b|), exactly max + 1 at a tie."""
    if a == b:
        return a + 1
    return max(a, b) + mp.log1p(mp.power(2, -abs(a - b))) / ln2()


def lae2_hess(a, b):
    h = ln2() * s((a - b) * ln2()) * s((b - a) * ln2())
    return h, -h, h


def hypot_hess(a, b):
    h3 = mp.hypot(a, b) ** 3
    return b * b / h3, -a * b / h3, a * a / h3


def ratio_hess(a, b):
    h5 = mp.hypot(a, b) ** 5
    return (-3 * a * b * b / h5, b * (2 * a * a - b * b) / h5, a * (2 * b * b - a * a) / h5)


# ---- rounding and remainders -----------------------------------------------------------

def rounding_points(r: Range) -> np.ndarray:
    """The sweep, half-integers (ties), floats next to integers, and
    2**52 +- 1/2 (float32: 2**23), where the fraction has one bit left."""
    top = 2.0 ** 52 if r.dtype == "float64" else 2.0 ** 23
    halves = [0.5, 1.5, 2.5, 3.5, 1e6 + 0.5, top - 0.5, top + 1.0, top - 1.5]
    nearby = [near(r, k, deepest=14 if r.dtype == "float64" else 6) for k in (1.0, 2.0, 7.0)]
    return join(both(r), signed(r.exact(halves)), *(signed(p) for p in nearby))


def _trunc(x):
    return mp.sign(x) * mp.floor(abs(x))


def _exact(x) -> Fraction:
    """An mpf as the exact fraction it is (the points, and the perturbed
    points of the cross-check, are binary fractions)."""
    sign, man, exp, _ = mp.mpf(x)._mpf_  # man_exp drops the sign
    return (-1 if sign else 1) * Fraction(man) * Fraction(2) ** exp


def _mp(q: Fraction):
    return mp.mpf(q.numerator) / q.denominator


def _floor_quotient(a, b):
    return _mp(Fraction(_exact(a) // _exact(b)))


def _trunc_quotient(a, b):
    return _mp(Fraction(int(_exact(a) / _exact(b))))  # int() truncates towards 0


def _mod(a, b):
    """a - b floor(a / b) (the sign of b), exact before the one rounding."""
    x, y = _exact(a), _exact(b)
    return _mp(x - y * (x // y))


def _fmod(a, b):
    """a - b trunc(a / b) (the sign of a; mpmath's fmod has the sign of b)."""
    x, y = _exact(a), _exact(b)
    return _mp(x - y * int(x / y))


def remainder_points(r: Range) -> np.ndarray:
    """Dividends of both signs over the range against divisors of both signs
    (1.5, inexact 0.7 and 3.7, 1e-5, 2.5e10, 1.1e300; float32 2.5e5 and 1.1e30),
    so quotients run from 1e-300 to 1e300; and dividends next to multiples of
    the divisor (the jumps)."""
    divisors = [1.5, 0.7, 3.7, 1.3e-5] + ([2.5e10, 1.1e300] if r.dtype == "float64"
                                          else [2.5e5, 1.1e30])
    dividends = signed(magnitudes(r)[::11])
    rows = [(a, b) for b in signed(r.exact(divisors)) for a in dividends]
    for b in r.exact([0.7, 3.7, -1.5]):
        for k in (1.0, 3.0, -2.0, 1000.0):
            rows += [(float(a), float(b)) for a in r.exact([k * b * (1 + d) for d in
                                                            (1e-12, -1e-12, 1e-6, -1e-6)])]
    return r.exact(np.ravel(rows)).reshape(-1, 2)


def _zero2(a, b):
    return 0, 0, 0


STEP_WHERE = "half-integers, floats next to integers, up to 1e300"
JUMPS = "quotients from 1e-300 to 1e300; dividends next to multiples of the divisor"

CASES: list[Case] = [
    unary("exp2", exp2_points, lambda x: mp.power(2, x), lambda x: ln2() * mp.power(2, x),
          lambda x: ln2() ** 2 * mp.power(2, x), "through overflow and underflow"),
    unary("sinc", sinc_points, sinc_value, sinc_d1, sinc_d2,
          "next to the zeros at the integers; |pi x| = 1, 2, 3 (series/recurrence)"),
    unary("reciprocal", both, lambda x: 1 / x, lambda x: -1 / x ** 2, lambda x: 2 / x ** 3),
    unary("deg2rad", both, lambda x: x * mp.pi / 180, lambda x: mp.pi / 180, lambda x: 0),
    unary("rad2deg", both, lambda x: x * 180 / mp.pi, lambda x: 180 / mp.pi, lambda x: 0),
    binary("hypot", "hypot(a, b)", grid, mp.hypot,
           lambda a, b: (a / mp.hypot(a, b), b / mp.hypot(a, b)), hypot_hess,
           "both operands up to 1e300 (the squares overflow)"),
    binary("hypot_ratio", "grad(hypot(a, b), a)", grid, lambda a, b: a / mp.hypot(a, b),
           lambda a, b: (b * b / mp.hypot(a, b) ** 3, -a * b / mp.hypot(a, b) ** 3),
           ratio_hess, "d hypot/da, both operands up to 1e300 (h**3 overflows)",
           loose=lambda p: np.hypot(p[:, 0], p[:, 1]) < 1e-150),
    binary("logaddexp", "logaddexp(a, b)", logaddexp_points, lae,
           lambda a, b: (s(a - b), s(b - a)), lae_hess,
           "differences up to 800 at offsets to 1e5; ties; next to the value's zero",
           loose=near_zero(np.e)),
    binary("logaddexp2", "logaddexp2(a, b)", logaddexp2_points,
           lae2, lambda a, b: (s((a - b) * ln2()), s((b - a) * ln2())), lae2_hess,
           "differences up to 800 at offsets to 1e5; ties; next to the value's zero",
           loose=near_zero(2.0)),
    binary("fmax", "fmax(a, b)", sparse_grid, max, lambda a, b: (1, 0) if a > b else (0, 1),
           lambda a, b: (0, 0, 0), avoid=distinct),
    binary("fmin", "fmin(a, b)", sparse_grid, min, lambda a, b: (1, 0) if a < b else (0, 1),
           lambda a, b: (0, 0, 0), avoid=distinct),
    unary("floor", rounding_points, mp.floor, lambda x: 0, lambda x: 0, STEP_WHERE),
    unary("ceil", rounding_points, mp.ceil, lambda x: 0, lambda x: 0, STEP_WHERE),
    unary("trunc", rounding_points, _trunc, lambda x: 0, lambda x: 0, STEP_WHERE),
    unary("round", rounding_points, mp.nint, lambda x: 0, lambda x: 0,
          STEP_WHERE + "; ties to even (decimals=0)"),
    binary("floor_divide", "a // b", remainder_points, _floor_quotient,
           lambda a, b: (0, 0), _zero2, JUMPS),
    binary("mod", "a % b", remainder_points, _mod,
           lambda a, b: (1, -_floor_quotient(a, b)), _zero2, JUMPS),
    binary("fmod", "fmod(a, b)", remainder_points, _fmod,
           lambda a, b: (1, -_trunc_quotient(a, b)), _zero2, JUMPS),
]
