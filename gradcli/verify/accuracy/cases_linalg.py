"""Accuracy cases of the linear-algebra rows on 2 x 2 matrices.

Their errors are bounded by conditioning, so the points are well-conditioned
matrices without cancelling entries, scaled across the range.  The references
are closed forms in the entries of A and of B = A^-1 at 50 digits."""

from __future__ import annotations

from collections.abc import Sequence

import mpmath
import numpy as np
from mpmath import mp

from gradcli.verify.accuracy.case import Case, Mp
from gradcli.verify.accuracy.points import Range

MATRICES = [[4.0, 1.0, -2.0, 3.0], [2.5, -0.5, 1.0, 1.75], [1.0, 0.25, 0.375, -2.0]]


def _scales(r: Range, step: int) -> list[float]:
    lo, hi = (-100, 100) if r.dtype == "float64" else (-12, 12)
    return [10.0 ** k * 1.3 for k in range(lo, hi + 1, step)]


def _one(r: Range) -> np.ndarray:
    rows = [np.asarray(m) * s for s in _scales(r, 20) for m in MATRICES]
    return r.exact(np.ravel(rows)).reshape(-1, 4)


def _two(r: Range, second: int = 4) -> np.ndarray:
    rows = []
    for s in _scales(r, 40):
        for t in _scales(r, 50):
            for i, m in enumerate(MATRICES):
                other = np.asarray(MATRICES[(i + 1) % 3])[:second]
                rows.append(np.concatenate([np.asarray(m) * s, np.abs(other) * t]))
    return r.exact(np.ravel(rows)).reshape(len(rows), -1)


def _mat(v: Sequence[Mp]) -> mpmath.matrix:
    return mpmath.matrix([[v[0], v[1]], [v[2], v[3]]])


def _entries(m: mpmath.matrix) -> list[Mp]:
    return [m[i, j] for i in range(m.rows) for j in range(m.cols)]


ENTRIES = [f"[:, {i}, {j}]" for i in range(2) for j in range(2)]
A = (("a", (2, 2)),)
AB = (("a", (2, 2)), ("b", (2, 2)))
AV = (("a", (2, 2)), ("v", (2,)))
AC = (("a", (2, 2)), ("v", (2, 1)))  # solve takes a matrix right-hand side
WHERE = "well-conditioned 2 x 2 matrices scaled from 1e-100 to 1e100"

def _d(i: int, j: int) -> int:
    return 1 if i == j else 0


def _matmul_jac(v: Sequence[Mp]) -> list[list[Mp]]:
    """C = A B, entries (i, j) -> [dC/dA_kl ..., dC/dB_kl ...]."""
    a, b = _mat(v[:4]), _mat(v[4:])
    return [[_d(i, k) * b[m, j] for k in range(2) for m in range(2)]
            + [a[i, k] * _d(m, j) for k in range(2) for m in range(2)]
            for i in range(2) for j in range(2)]


def _matmul_second(v: Sequence[Mp]) -> list[list[list[Mp]]]:
    planes = []
    for i in range(2):
        for j in range(2):
            h = [[mp.zero] * 8 for _ in range(8)]
            for k in range(2):
                for m in range(2):  # d2 C_ij / dA_km dB_m'n = d_ik d_mm' d_jn
                    if k == i:
                        h[2 * k + m][4 + 2 * m + j] = h[4 + 2 * m + j][2 * k + m] = mp.one
            planes.append(h)
    return planes


def _matvec_jac(v: Sequence[Mp]) -> list[list[Mp]]:
    a = _mat(v[:4])
    return [[_d(i, k) * v[4 + m] for k in range(2) for m in range(2)] + [a[i, 0], a[i, 1]]
            for i in range(2)]


def _matvec_second(v: Sequence[Mp]) -> list[list[list[Mp]]]:
    planes = []
    for i in range(2):
        h = [[mp.zero] * 6 for _ in range(6)]
        for m in range(2):
            h[2 * i + m][4 + m] = h[4 + m][2 * i + m] = mp.one
        planes.append(h)
    return planes


def _det_second(v: Sequence[Mp]) -> list[list[list[Mp]]]:
    h = [[mp.zero] * 4 for _ in range(4)]
    h[0][3] = h[3][0] = mp.one
    h[1][2] = h[2][1] = -mp.one
    return [h]


def _inv_forms(v: Sequence[Mp]) -> tuple[list, list]:
    """d(A^-1)_ij/dA_kl = -B_ik B_lj and the second derivatives
    B_im B_nk B_lj + B_ik B_lm B_nj, with B = A^-1."""
    b = _mat(v) ** -1
    idx = [(k, m) for k in range(2) for m in range(2)]
    jac = [[-b[i, k] * b[m, j] for k, m in idx] for i, j in idx]
    sec = [[[b[i, p] * b[q, k] * b[m, j] + b[i, k] * b[m, p] * b[q, j] for p, q in idx]
            for k, m in idx] for i, j in idx]
    return jac, sec


def _solve_forms(v: Sequence[Mp]) -> tuple[list, list]:
    """x = A^-1 c: dx_i/dA_kl = -B_ik x_l, dx_i/dc_l = B_il; second derivatives
    B_ip B_qk x_m + B_ik B_mp x_q by A_km, A_pq; -B_ik B_mc by A_km, c_c."""
    b = _mat(v[:4]) ** -1
    x = b * mpmath.matrix(v[4:])
    idx = [(k, m) for k in range(2) for m in range(2)]
    jac = [[-b[i, k] * x[m] for k, m in idx] + [b[i, 0], b[i, 1]] for i in range(2)]
    sec = []
    for i in range(2):
        h = [[mp.zero] * 6 for _ in range(6)]
        for r, (k, m) in enumerate(idx):
            for c, (p, q) in enumerate(idx):
                h[r][c] = b[i, p] * b[q, k] * x[m] + b[i, k] * b[m, p] * x[q]
            for c in range(2):
                h[r][4 + c] = h[4 + c][r] = -b[i, k] * b[m, c]
        sec.append(h)
    return jac, sec


CASES: list[Case] = [
    Case("matmul", AB, tuple(f"(a @ b){e}" for e in ENTRIES), _two,
         lambda v: _entries(_mat(v[:4]) * _mat(v[4:])), _matmul_jac, _matmul_second, WHERE),
    Case("einsum", AV, tuple(f"einsum('pij,pj->pi', a, v)[:, {i}]" for i in range(2)),
         lambda r: _two(r, 2), lambda v: _entries(_mat(v[:4]) * mpmath.matrix(v[4:])),
         _matvec_jac, _matvec_second, WHERE),
    Case("inv", A, tuple(f"inv(a){e}" for e in ENTRIES), _one,
         lambda v: _entries(_mat(v) ** -1), lambda v: _inv_forms(v)[0],
         lambda v: _inv_forms(v)[1], WHERE),
    Case("det", A, ("det(a)",), _one, lambda v: [v[0] * v[3] - v[1] * v[2]],
         lambda v: [[v[3], -v[2], -v[1], v[0]]], _det_second, WHERE),
    Case("solve", AC, tuple(f"solve(a, v)[:, {i}, 0]" for i in range(2)),
         lambda r: _two(r, 2), lambda v: _entries(mp.lu_solve(_mat(v[:4]), mpmath.matrix(v[4:]))),
         lambda v: _solve_forms(v)[0], lambda v: _solve_forms(v)[1], WHERE),
]
