"""Shortest round-trip decimal digits of many floats at once (Schubfach).

`repr(float)` spells a float64 with the fewest significant digits that read
back to the same bits, the closest such decimal to the exact binary value
when several qualify.  That is the JSON contract (DESIGN §2), and calling
`repr` once per element costs about a microsecond each: a 5M-element
gradient took 12 s to print.  This module computes the same digits for a
whole chunk with numpy integer arithmetic, a few hundred nanoseconds per
element, and no Python object per element.

The algorithm is R. Giulietti's Schubfach ("The Schubfach way to render
doubles", 2020), in the form of A. Bolz's C++ implementation: for a float
v = c 2^q it picks k = floor(log10 2^q), computes the rounding interval's
bounds and v itself scaled by 10^-k (times 4, rounded to odd) from a 128-bit
power of ten, and picks the one decimal of the interval on the 10^(k+1)
grid if there is exactly one, else the closest of the two on the 10^k grid
(ties to even).  The interval is closed when c is even, as round-half-even
reading requires.  Each 64 x 64 -> 128-bit product is done in 32-bit limbs
on uint64 arrays.

float32 uses the same steps with its own c and q, so its digits are the
shortest that round-trip *in float32* (0.1, not 0.10000000149011612).
tests/test_shortest.py compares both with `repr` and numpy's Dragon4.
"""

from __future__ import annotations

import functools

import numpy as np

_U = np.uint64
_M32 = _U(0xFFFFFFFF)
_S32 = _U(32)
_K_MIN, _K_MAX = -292, 324  # powers of ten a double (or a float) needs


@functools.cache
def _powers() -> tuple[np.ndarray, ...]:
    """32-bit limbs (most significant first) of g = ceil(10^k / 2^r), with r
    chosen so that 2^127 <= g < 2^128, for k in [_K_MIN, _K_MAX]; made once
    with Python integers (exact) rather than stored as a 600-line table."""
    limbs = np.empty((4, _K_MAX - _K_MIN + 1), dtype=np.uint64)
    for i, k in enumerate(range(_K_MIN, _K_MAX + 1)):
        if k >= 0:
            num, den = 10**k, 1
        else:
            num, den = 1, 10**-k
        # r = floor(log2(num/den)) - 127, so that num/den * 2^-r is in [2^127, 2^128)
        b = num.bit_length() - den.bit_length()
        if num << max(0, -b) < den << max(0, b):
            b -= 1
        r = b - 127
        num, den = (num << -r, den) if r < 0 else (num, den << r)
        g = -(-num // den)
        assert 1 << 127 <= g < 1 << 128
        for j in range(4):
            limbs[j, i] = (g >> (96 - 32 * j)) & 0xFFFFFFFF
    return tuple(limbs)


def _round_to_odd(g3: np.ndarray, g2: np.ndarray, g1: np.ndarray, g0: np.ndarray,
                  cp: np.ndarray) -> np.ndarray:
    """floor(g cp / 2^128), with its lowest bit set when the dropped part is
    non-zero (Bolz's RoundToOdd: the low 64 bits of glo*cp are dropped)."""
    c0 = cp & _M32
    c1 = cp >> _S32
    # x = high 64 bits of glo * cp, glo = g1:g0
    p00 = g0 * c0
    mid1 = g1 * c0 + (p00 >> _S32)
    mid2 = g0 * c1 + (mid1 & _M32)
    x = g1 * c1 + (mid1 >> _S32) + (mid2 >> _S32)
    # y1:y0 = ghi * cp, ghi = g3:g2
    p00 = g2 * c0
    mid1 = g3 * c0 + (p00 >> _S32)
    mid2 = g2 * c1 + (mid1 & _M32)
    y1 = g3 * c1 + (mid1 >> _S32) + (mid2 >> _S32)
    y0 = (p00 & _M32) | (mid2 << _S32)
    y0 += x
    y1 += y0 < x
    return y1 | (y0 > _U(1))


# (mantissa bits without the hidden one, exponent bits, exponent bias + mantissa bits)
_LAYOUT = {np.dtype(np.float64): (52, 11, 1075), np.dtype(np.float32): (23, 8, 150)}


def shortest_digits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(digits, exponent) with |x| == digits * 10**exponent as the shortest
    round-trip decimal of each element of the 1-D finite float64 or float32
    array `x`.  `digits` (uint64, at most 17 digits) may end in zeros; zero
    elements give digits 0.  Signs are the caller's."""
    mant, ebits, bias = _LAYOUT[x.dtype]
    bits = x.view(np.uint64 if x.dtype.itemsize == 8 else np.uint32).astype(np.uint64)
    sig = bits & _U((1 << mant) - 1)
    biased = ((bits >> _U(mant)) & _U((1 << ebits) - 1)).astype(np.int64)
    normal = biased != 0
    c = sig | (normal.astype(np.uint64) << _U(mant))
    q = np.maximum(biased, 1) - bias
    closer = (sig == 0) & (biased > 1)  # a power of two: the gap below is half the gap above
    k = (q * 1262611 - closer * 524031) >> 22  # floor(log10(2^q)), or of 3/4 2^q
    h = (q + ((-k * 1741647) >> 19) + 1).astype(np.uint64)  # floor(log2(10^-k)) ...
    index = -k - _K_MIN
    g3, g2, g1, g0 = (limb[index] for limb in _powers())
    cb = c << _U(2)
    vb = _round_to_odd(g3, g2, g1, g0, cb << h)
    vbl = _round_to_odd(g3, g2, g1, g0, (cb - _U(2) + closer.astype(np.uint64)) << h)
    vbr = _round_to_odd(g3, g2, g1, g0, (cb + _U(2)) << h)
    odd = c & _U(1)  # an odd c excludes the interval's end points
    lower = vbl + odd
    upper = vbr - odd
    s = vb >> _U(2)
    # one digit shorter: u' = 10 s', w' = u' + 10; exactly one inside wins
    sp = s // _U(10)
    up_in = lower <= sp * _U(40)
    wp_in = sp * _U(40) + _U(40) <= upper
    shorter = (s >= _U(10)) & (up_in != wp_in)
    # else u = s or w = s + 1: the one inside, or the closer (ties to even)
    four_s = s << _U(2)
    u_in = lower <= four_s
    w_in = four_s + _U(4) <= upper
    mid = four_s + _U(2)
    up = (vb > mid) | ((vb == mid) & (s & _U(1)).astype(bool))
    up = np.where(u_in != w_in, w_in, up)
    digits = np.where(shorter, (sp + wp_in) * _U(10), s + up)
    digits[c == 0] = 0
    return digits, k
