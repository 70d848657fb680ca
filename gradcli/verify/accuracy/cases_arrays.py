"""Accuracy cases of the scans and the array products (cumsum, cumprod,
cross, inner, kron, diagonal and trace with offsets) and of norm's other
ords over vectors.

Each point is one short vector (or 3 x 3 matrix) per operand.  inner and
kron of a stack pair every vector with every other (numpy's semantics), so
their expressions take the diagonal of that pairing: the per-point result,
with the same arithmetic (a P x P pairing of a few dozen points is small)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from mpmath import mp

from gradcli.verify.accuracy.case import Case, Mp
from gradcli.verify.accuracy.cases_vector import dominated
from gradcli.verify.accuracy.points import Range, same_scale_vectors, scaled_vectors

Forms = Callable[[Sequence[Mp]], list]


def _zeros(m: int, n: int) -> list[list[list[Mp]]]:
    return [[[mp.zero] * n for _ in range(n)] for _ in range(m)]


def _scaled(r: Range, shapes: Sequence[Sequence[float]], step: int, span: int = 290
            ) -> np.ndarray:
    """Each shape times 1.3 * 10**k, k from -span to span in `step`s (float32:
    its whole range in steps of 7), as rows; rows beyond the range are dropped."""
    hi, step = (span, step) if r.dtype == "float64" else (r.hi, max(1, r.hi // 5))
    rows = [np.asarray(s) * 1.3 * 10.0 ** k for k in range(-hi, hi + 1, step) for s in shapes]
    with np.errstate(over="ignore"):
        out = r.exact(np.ravel(rows)).reshape(len(rows), -1)
    return out[np.all(np.isfinite(out), axis=1)]


def _pairs(r: Range, left: Sequence[Sequence[float]], right: Sequence[Sequence[float]],
           span: int) -> np.ndarray:
    """(a, b) rows: the shapes scaled independently, 1.3 * 10**k and 10**j
    with k, j from -span to span (float32: within its range)."""
    span = span if r.dtype == "float64" else 12
    step = max(1, span // 3)
    rows = []
    for k in range(-span, span + 1, step):
        for j in range(-span, span + 1, step):
            for i, a in enumerate(left):
                b = right[i % len(right)]
                rows.append(np.concatenate([np.asarray(a) * 1.3 * 10.0 ** k,
                                            np.asarray(b) * 10.0 ** j]))
    return r.exact(np.ravel(rows)).reshape(len(rows), -1)


# ---- cumsum, cumprod --------------------------------------------------------------------

N = 3


def _positive_rows(r: Range) -> np.ndarray:
    """Positive vectors of mixed magnitudes (no cancellation in a running
    sum), some with zeros."""
    shapes = [[1.0, 2.5, 0.75], [3.0, 1e-9, 7.0], [0.0, 4.0, 1.0], [1e6, 0.0, 3e-6]]
    return _scaled(r, shapes, 25)


def _cumsum_jac(x: Sequence[Mp]) -> list[list[Mp]]:
    return [[mp.one if j <= k else mp.zero for j in range(N)] for k in range(N)]


def _prod(x: Sequence[Mp], k: int, skip: Sequence[int]) -> Mp:
    return mp.fprod(x[i] for i in range(k + 1) if i not in skip)


def _cumprod_points(r: Range) -> np.ndarray:
    """Vectors of one scale (every partial product in range), with signs
    and with zeros (d c_k / d x_j is then the product of the other factors,
    no quotient c_k / x_j)."""
    base = same_scale_vectors(r, N)
    signs = base * np.asarray([1.0, -1.0, 1.0])
    zeros = [base * np.asarray(m) for m in ([0.0, 1.0, 1.0], [1.0, 0.0, -1.0],
                                            [1.0, 1.0, 0.0], [0.0, 0.0, 1.0])]
    return np.concatenate([base, signs, *zeros])


def _cumprod_jac(x: Sequence[Mp]) -> list[list[Mp]]:
    return [[_prod(x, k, (j,)) if j <= k else mp.zero for j in range(N)] for k in range(N)]


def _cumprod_second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
    return [[[_prod(x, k, (j, m)) if j != m and j <= k and m <= k else mp.zero
              for m in range(N)] for j in range(N)] for k in range(N)]


# ---- cross, inner, kron -----------------------------------------------------------------

def _eps(i: int, j: int, k: int) -> int:
    """The Levi-Civita symbol."""
    return (i - j) * (j - k) * (k - i) // 2


CROSS_A = [[1.0, 2.0, -0.5], [3.0, -1.0, 2.5], [0.5, 4.0, 1.5]]
CROSS_B = [[-3.0, 0.25, 4.0], [2.0, 5.0, -1.0], [-1.5, 0.75, 3.0]]


def _cross_value(v: Sequence[Mp]) -> list[Mp]:
    a, b = v[:3], v[3:]
    return [mp.fsum(_eps(i, j, k) * a[j] * b[k] for j in range(3) for k in range(3))
            for i in range(3)]


def _cross_jac(v: Sequence[Mp]) -> list[list[Mp]]:
    a, b = v[:3], v[3:]
    return [[mp.fsum(_eps(i, j, k) * b[k] for k in range(3)) for j in range(3)]
            + [mp.fsum(_eps(i, j, k) * a[j] for j in range(3)) for k in range(3)]
            for i in range(3)]


def _bilinear_second(entry: Callable[[int, int, int], int], m: int, na: int,
                     nb: int) -> list[list[list[Mp]]]:
    """Second derivatives of a bilinear map: d2 y_i / da_j db_k = entry(i, j, k)."""
    n = na + nb
    out = _zeros(m, n)
    for i in range(m):
        for j in range(na):
            for k in range(nb):
                out[i][j][na + k] = out[i][na + k][j] = mp.mpf(entry(i, j, k))
    return out


def _kron_value(v: Sequence[Mp]) -> list[Mp]:
    return [a * b for a in v[:2] for b in v[2:]]


def _kron_jac(v: Sequence[Mp]) -> list[list[Mp]]:
    a, b = v[:2], v[2:]
    return [[b[k] if j == i else mp.zero for j in range(2)]
            + [a[i] if m == k else mp.zero for m in range(3)]
            for i in range(2) for k in range(3)]


# ---- diagonal, trace ----------------------------------------------------------------------

SQUARE = [[4.0, 1.5, -2.0, 0.5, 3.0, 1.25, 2.0, -0.75, 5.0]]


def _square_rows(r: Range) -> np.ndarray:
    return _scaled(r, SQUARE, 25)


def _positive_square_rows(r: Range) -> np.ndarray:
    return np.abs(_square_rows(r))


def _pick(entries: Sequence[int]) -> tuple[Forms, Forms, Forms]:
    """A selection of matrix entries (flat indices of a 3 x 3): value, Jacobian, zeros."""
    return (lambda v: [v[e] for e in entries],
            lambda v: [[mp.one if j == e else mp.zero for j in range(9)] for e in entries],
            lambda v: _zeros(len(entries), 9))


# ---- norm's vector ords -------------------------------------------------------------------

def _p_norm(p: float) -> tuple[Forms, Forms, Forms]:
    """(sum |x|**p)**(1/p), its gradient sign(x_i) r_i**(p-1) with r = |x|/norm,
    and its Hessian (p - 1)/norm (r_i**(p-2) delta_ij - s_i s_j r_i**(p-1)
    r_j**(p-1)), the diagonal's 1 - r_i**p as the other entries' share."""
    p = mp.mpf(p)

    def norm(x: Sequence[Mp]) -> Mp:
        return mp.fsum(abs(v) ** p for v in x) ** (1 / p)

    def jac(x: Sequence[Mp]) -> list[list[Mp]]:
        n = norm(x)
        return [[mp.sign(v) * (abs(v) / n) ** (p - 1) for v in x]]

    def second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
        n = norm(x)
        r = [abs(v) / n for v in x]
        total = mp.fsum(abs(v) ** p for v in x)
        out = []
        for i in range(len(x)):
            row = []
            for j in range(len(x)):
                if i == j:
                    rest = mp.fsum(abs(x[k]) ** p for k in range(len(x)) if k != i) / total
                    row.append((p - 1) / n * r[i] ** (p - 2) * rest)
                else:
                    row.append(-(p - 1) / n * mp.sign(x[i]) * mp.sign(x[j])
                               * r[i] ** (p - 1) * r[j] ** (p - 1))
            out.append(row)
        return [out]

    return lambda x: [norm(x)], jac, second


def _extreme(pick: Callable) -> tuple[Forms, Forms, Forms]:
    """max |x| (pick = max) or min |x| (pick = min): a selection, derivative sign."""
    def index(x: Sequence[Mp]) -> int:
        return pick(range(len(x)), key=lambda i: abs(x[i]))

    return (lambda x: [abs(x[index(x)])],
            lambda x: [[mp.sign(x[i]) if i == index(x) else mp.zero for i in range(len(x))]],
            lambda x: _zeros(1, len(x)))


def _ord_one() -> tuple[Forms, Forms, Forms]:
    return (lambda x: [mp.fsum(abs(v) for v in x)], lambda x: [[mp.sign(v) for v in x]],
            lambda x: _zeros(1, len(x)))


def _norm_case(variant: str, ord_text: str, forms: tuple[Forms, Forms, Forms],
               loose: Callable | None = None) -> Case:
    return Case("norm", (("x", (N,)),), (f"norm(x, ord={ord_text}, axis=-1)",), scaled_vectors,
                *forms, "vectors at 1e±200", loose=loose, variant=variant)


E = tuple(f"[:, {i}]" for i in range(N))
ENTRY = tuple(f"[:, {i}]" for i in range(6))
VEC = (("x", (N,)),)
AB3 = (("a", (3,)), ("b", (3,)))
M3 = (("a", (3, 3)),)
SCALES = "one operand scaled against the other, ratios to 1e200"

CASES: list[Case] = [
    Case("cumsum", VEC, tuple(f"cumsum(x, axis=-1){e}" for e in E), _positive_rows,
         lambda x: [mp.fsum(x[:k + 1]) for k in range(N)], _cumsum_jac,
         lambda x: _zeros(N, N), "positive entries of mixed magnitudes, zeros"),
    Case("cumprod", VEC, tuple(f"cumprod(x, axis=-1){e}" for e in E), _cumprod_points,
         lambda x: [_prod(x, k, ()) for k in range(N)], _cumprod_jac, _cumprod_second,
         "entries of one scale with signs and zeros"),
    Case("cross", AB3, tuple(f"cross(a, b){e}" for e in E),
         lambda r: _pairs(r, CROSS_A, CROSS_B, 150), _cross_value, _cross_jac,
         lambda v: _bilinear_second(_eps, 3, 3, 3), SCALES),
    Case("inner", AB3, ("diagonal(inner(a, b))",),
         lambda r: np.abs(_pairs(r, CROSS_A, CROSS_B, 150)[::2]),
         lambda v: [mp.fsum(a * b for a, b in zip(v[:3], v[3:]))],
         lambda v: [list(v[3:]) + list(v[:3])],
         lambda v: _bilinear_second(lambda i, j, k: int(j == k), 1, 3, 3),
         SCALES + "; positive entries"),
    Case("kron", (("a", (2,)), ("b", (3,))),
         tuple(f"diagonal(kron(a[:, None, :], b[None, :, :]), 0, 0, 1).T{e}" for e in ENTRY),
         lambda r: _pairs(r, [[1.5, -2.0]], [[3.0, 0.25, -7.0]], 150)[::2], _kron_value,
         _kron_jac, lambda v: _bilinear_second(lambda i, j, k: int(i // 3 == j and i % 3 == k),
                                               6, 2, 3), SCALES),
    Case("diagonal", M3, ("diagonal(a, 1, 1, 2)[:, 0]", "diagonal(a, 1, 1, 2)[:, 1]"),
         _square_rows, *_pick((1, 5)), "offset 1, entries up to 1e290"),
    Case("trace", M3, ("trace(a, offset=-1, axis1=1, axis2=2)",), _positive_square_rows,
         lambda v: [v[3] + v[7]], lambda v: [[mp.one if j in (3, 7) else mp.zero
                                              for j in range(9)]],
         lambda v: _zeros(1, 9), "offset -1, positive entries up to 1e290"),
    _norm_case("ord=1", "1", _ord_one()),
    _norm_case("ord=inf", "inf", _extreme(max)),
    _norm_case("ord=-inf", "-inf", _extreme(min)),
    _norm_case("ord=3", "3", _p_norm(3.0), loose=dominated),
    _norm_case("ord=0.5", "0.5", _p_norm(0.5), loose=dominated),
]
