"""Where the accuracy harness looks: log-spaced magnitudes over a dtype's whole
range, and each op's dangerous points (tails, cancellation points, poles).

Every generator takes a `Range` (the dtype's decades) and returns a float64
array of points exactly representable in that dtype: the mpmath references
are computed from the very numbers gradcli receives.  A few points per
decade keep the harness fast; the mantissas cycle so that not every point is
a power of ten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

MANTISSAS = (1.0, 3.3, 1.7, 6.1, 2.6, 8.4)  # two points per decade, varied


@dataclass(frozen=True)
class Range:
    """The decades a dtype's sweep covers, well inside its normal numbers."""

    dtype: str
    lo: int  # smallest decade of the sweep, 1e-300 for float64
    hi: int  # largest, 1e300 for float64

    @property
    def eps(self) -> float:
        return float(np.finfo(self.dtype).eps)

    def exact(self, values: Iterable[float]) -> np.ndarray:
        """The points rounded to the dtype (and back to float64, exactly)."""
        return np.asarray(np.asarray(list(values), dtype=np.float64).astype(self.dtype),
                          dtype=np.float64)


FLOAT64 = Range("float64", -300, 300)
FLOAT32 = Range("float32", -37, 37)
RANGES = {"float64": FLOAT64, "float32": FLOAT32}

Points = Callable[[Range], np.ndarray]


def magnitudes(r: Range, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """Two positive points per decade from 10**lo to 10**hi (default: the range)."""
    lo = r.lo if lo is None else max(lo, r.lo)
    hi = r.hi if hi is None else min(hi, r.hi)
    out = []
    for k in range(lo, hi + 1):
        m1 = MANTISSAS[(2 * k) % len(MANTISSAS)]
        m2 = MANTISSAS[(2 * k + 1) % len(MANTISSAS)]
        out += [m1 * 10.0 ** k, m2 * 10.0 ** k if k < hi else 10.0 ** k]
    return r.exact(out)


def signed(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values, -values])


def near(r: Range, at: float, side: int = 0, deepest: int | None = None) -> np.ndarray:
    """at ± 10**-k for k = 1 .. the dtype's precision (side +1/-1: one side)."""
    deepest = deepest or int(-np.log10(r.eps)) + 1
    offsets = [10.0 ** -k * m for k in range(1, deepest + 1) for m in (1.0, 3.7)]
    sides = (1, -1) if side == 0 else (side,)
    pts = r.exact(at + s * d for s in sides for d in offsets)
    return pts[pts != at]


def join(*parts: np.ndarray) -> np.ndarray:
    """Unique points in a stable order."""
    values = np.concatenate([np.ravel(p) for p in parts])
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def within(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The points in the open interval (lo, hi)."""
    return values[(values > lo) & (values < hi)]


def linear(r: Range, lo: float, hi: float, count: int) -> np.ndarray:
    return r.exact(np.linspace(lo, hi, count))


def spread_logits(r: Range, classes: int = 3) -> np.ndarray:
    """Logit vectors (rows) for the softmax family: one dominant logit with
    the others up to 700 below it (float32: 80), ties, moderate spreads, and
    offsets of ±1000 (float32: ±50) that make every naive form overflow."""
    big = 700.0 if r.dtype == "float64" else 80.0
    offset = 1000.0 if r.dtype == "float64" else 50.0
    gaps = [1e-8, 1e-3, 0.5, 2.0, 9.0, 40.0, 120.0, big - 50.0, big]
    rows = []
    for g in gaps:
        rows += [[0.0, -g, -big], [0.0, -g, -g * 0.37], [-g, 0.0, -1.5 * g],
                 [0.0, 0.0, -g], [0.0, -g, -g]]
    rows += [[0.3, -0.2, 1.1], [2.0, 1.0, 0.1], [0.0, 0.0, 0.0]]
    base = np.asarray(rows)[:, :classes]
    shifted = [base, base + offset, base - offset, base + 0.37]
    return np.concatenate([r.exact(b.ravel()).reshape(b.shape) for b in shifted])


def scaled_vectors(r: Range, length: int = 3) -> np.ndarray:
    """Vectors for norm/var/std: fixed shapes scaled by magnitudes across the
    range (1e±200 included), so the squares overflow or underflow.  The last
    shape has one dominant entry; vectors with subnormal entries are left out."""
    shapes = np.asarray([[1.0, 2.0, 4.5], [3.0, -4.0, 0.5], [-2.5, 7.0, 0.125],
                         [1.0, 1e-3, -2e-3]])[:, :length]
    scales = [10.0 ** k for k in range(r.lo, r.hi + 1, 20)] + [1e200, 1e-200] \
        if r.dtype == "float64" else [10.0 ** k for k in range(r.lo, r.hi + 1, 3)]
    rows = [s * v for s in scales for v in shapes]
    flat = r.exact(np.ravel(rows)).reshape(-1, length)
    tiny = float(np.finfo(r.dtype).tiny)
    return flat[np.all((flat == 0) | (np.abs(flat) >= tiny), axis=1)]


def same_scale_vectors(r: Range, length: int = 3) -> np.ndarray:
    """Positive vectors whose entries share a scale, so that every partial
    product (prod's tree) stays in range when the product does."""
    shapes = np.asarray([[1.0, 2.0, 4.5], [3.0, 0.25, 0.5], [2.5, 7.0, 0.125]])[:, :length]
    k = max(1, (r.hi - r.lo) // length // 20)
    scales = [10.0 ** e for e in range(r.lo // length, r.hi // length + 1, k)]
    return r.exact(np.ravel([s * v for s in scales for v in shapes])).reshape(-1, length)
