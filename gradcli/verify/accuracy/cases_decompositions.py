"""Accuracy cases of cholesky, slogdet's log|det|, pinv, matrix_power and
qr: well-conditioned matrices (their errors are bounded by conditioning)
scaled across the range, a few per case.  The references are the textbook
derivative formulas (the sources cited in engine/ops/decompositions.py),
differentiated once more by hand, on mpmath's 50-digit factorisations."""

from __future__ import annotations

from collections.abc import Sequence

import mpmath
from mpmath import mp

from gradcli.verify.accuracy.case import Case, Mp
from gradcli.verify.accuracy.mpmatrix import (
    Directional,
    Matrix,
    case,
    entries,
    mat,
    sym_lower,
    tril,
    unit,
)
from gradcli.verify.accuracy.mpmatrix import scaled as _scaled

SPD = [[4.0, 1.0, -0.5, 1.0, 3.0, 0.25, -0.5, 0.25, 2.0],
       [2.5, -0.5, 0.75, -0.5, 1.75, 0.5, 0.75, 0.5, 3.0]]
GENERAL3 = [[4.0, 1.0, -2.0, 0.5, 3.0, 1.5, 2.0, -0.75, 5.0],
            [-3.0, 0.5, 1.0, 1.5, 2.5, -0.25, 0.75, 1.0, 4.0]]
# Entrywise relative errors need entries that do not nearly vanish: of the
# values and of the first and second derivatives (at 1e-3 of the largest,
# pinv's derivative loses 3 digits to the cancellation of its three terms).
TALL = [[1.0, -1.5, 3.0, -2.0, -1.0, 1.5], [2.5, -1.0, 1.0, -1.5, -1.5, -0.5]]
TALL_QR = [[4.0, 1.0, -2.0, 3.0, 0.5, 1.5], [1.0, 2.0, 3.0, -1.0, -0.5, 2.5]]
SQUARE2 = [[4.0, 1.0, -2.0, 3.0], [2.5, -0.5, 1.0, 1.75], [1.0, 0.25, 0.375, -2.0]]


# ---- cholesky ---------------------------------------------------------------------------

def _phi(x: Matrix) -> Matrix:
    """The lower triangle with the diagonal halved."""
    out = tril(x)
    for i in range(x.rows):
        out[i, i] = x[i, i] / 2
    return out


LOWER3 = [3 * i + j for i in range(3) for j in range(i + 1)]  # flat indices, L's nonzeros
UPPER2 = [0, 1, 3]  # R's nonzeros


def lower(m: Matrix, keep: Sequence[int]) -> list:
    flat = entries(m)
    return [flat[i] for i in keep]


def _cholesky(v: Sequence[Mp]) -> list:
    return lower(mp.cholesky(sym_lower(mat(v, 3, 3))), LOWER3)


def _cholesky_forms(v: Sequence[Mp]) -> Directional:
    """dL = L Phi(X), X = L^-1 dS L^-T (Murray 2016); along a second direction
    dX = -L^-1 dL' X - X dL'^T L^-T, so d2L = dL' Phi(X) + L Phi(dX)."""
    low = mp.cholesky(sym_lower(mat(v, 3, 3)))
    inv = low ** -1
    xs = [inv * sym_lower(unit(3, 3, j)) * inv.T for j in range(9)]
    d1 = [low * _phi(x) for x in xs]

    def d2(j: int, k: int) -> list:
        dx = -inv * d1[k] * xs[j] - xs[j] * d1[k].T * inv.T
        return lower(d1[k] * _phi(xs[j]) + low * _phi(dx), LOWER3)

    return Directional(lower(low, LOWER3), lambda j: lower(d1[j], LOWER3), d2)


# ---- log |det| ---------------------------------------------------------------------------

def _logabsdet(v: Sequence[Mp]) -> list:
    return [mp.log(abs(mp.det(mat(v, 3, 3))))]


def _logabsdet_forms(v: Sequence[Mp]) -> Directional:
    """d = tr(A^-1 E), d2 = -tr(A^-1 F A^-1 E) (Giles 2008, 2.2.2)."""
    a = mat(v, 3, 3)
    b = a ** -1

    def tr(m: Matrix) -> Mp:
        return mp.fsum(m[i, i] for i in range(m.rows))

    units = [unit(3, 3, j) for j in range(9)]
    return Directional(_logabsdet(v), lambda j: [tr(b * units[j])],
                       lambda j, k: [-tr(b * units[k] * b * units[j])])


# ---- pinv ----------------------------------------------------------------------------------

def _pinv_matrix(a: Matrix) -> Matrix:
    return (a.T * a) ** -1 * a.T  # full column rank


def _pinv(v: Sequence[Mp]) -> list:
    return entries(_pinv_matrix(mat(v, 3, 2)))


def _pinv_forms(v: Sequence[Mp]) -> Directional:
    """Golub & Pereyra 1973, Theorem 4.3, and its derivative along a second
    direction F (every factor differentiated)."""
    a = mat(v, 3, 2)
    p = _pinv_matrix(a)
    i3, i2 = mpmath.eye(3), mpmath.eye(2)

    def dp(e: Matrix, p: Matrix = p) -> Matrix:
        return (-p * e * p + p * p.T * e.T * (i3 - a * p)
                + (i2 - p * a) * e.T * p.T * p)

    units = [unit(3, 2, j) for j in range(6)]
    d1 = [dp(e) for e in units]

    def d2(j: int, k: int) -> list:
        e, f, q = units[j], units[k], d1[k]
        out = -(q * e * p + p * e * q)
        out += (q * p.T + p * q.T) * e.T * (i3 - a * p) - p * p.T * e.T * (f * p + a * q)
        out += -(q * a + p * f) * e.T * p.T * p + (i2 - p * a) * e.T * (q.T * p + p.T * q)
        return entries(out)

    return Directional(entries(p), lambda j: entries(d1[j]), d2)


# ---- matrix_power ----------------------------------------------------------------------------

def _power(n: int):
    def value(v: Sequence[Mp]) -> list:
        a = mat(v, 2, 2)
        return entries(a ** n)

    def forms(v: Sequence[Mp]) -> Directional:
        """n = 3: products with one / two factors replaced; n < 0: B = A^-1,
        dB = -B E B, d2B = B F B E B + B E B F B, then the power of B."""
        a = mat(v, 2, 2)
        units = [unit(2, 2, j) for j in range(4)]
        if n > 0:
            base, d_base = a, units
            d2_base = [[mpmath.zeros(2, 2)] * 4 for _ in range(4)]
        else:
            base = a ** -1
            d_base = [-base * e * base for e in units]
            d2_base = [[base * f * base * e * base + base * e * base * f * base for f in units]
                       for e in units]
        m = abs(n)

        def d1(j: int) -> list:
            return entries(sum((base ** i * d_base[j] * base ** (m - 1 - i)
                                for i in range(m)), mpmath.zeros(2, 2)))

        def d2(j: int, k: int) -> list:
            total = mpmath.zeros(2, 2)
            for i in range(m):  # the factor i differentiated along j
                for h in range(m):  # and factor h along k
                    factors = [base] * m
                    if i == h:
                        factors[i] = d2_base[j][k]
                    else:
                        factors[i], factors[h] = d_base[j], d_base[k]
                    prod = factors[0]
                    for f in factors[1:]:
                        prod = prod * f
                    total += prod
            return entries(total)

        return Directional(entries(base ** m), d1, d2)

    return value, forms


# ---- qr --------------------------------------------------------------------------------------

def _qr_matrices(a: Matrix) -> tuple[Matrix, Matrix]:
    """Reduced QR of a full-column-rank matrix by Gram-Schmidt at the working
    precision (exact enough at 50 digits), R's diagonal positive."""
    m, n = a.rows, a.cols
    q, r = mpmath.zeros(m, n), mpmath.zeros(n, n)
    for j in range(n):
        col = a[:, j]
        for i in range(j):
            r[i, j] = mp.fsum(q[k, i] * a[k, j] for k in range(m))
            col = col - r[i, j] * q[:, i]
        r[j, j] = mp.sqrt(mp.fsum(c * c for c in col))
        for k in range(m):
            q[k, j] = col[k] / r[j, j]
    return q, r


def _qr_forms(part: int):
    keep = list(range(6)) if part == 0 else UPPER2

    def value(v: Sequence[Mp]) -> list:
        return lower(_qr_matrices(mat(v, 3, 2))[part], keep)

    def forms(v: Sequence[Mp]) -> Directional:
        """Walter & Lehmann 2018: C = E R^-1, W = tril(Q^T C, -1) - its
        transpose; dQ = Q (W - Q^T C) + C, dR = (Q^T C - W) R; and each
        factor differentiated along a second direction for d2."""
        a = mat(v, 3, 2)
        q, r = _qr_matrices(a)
        rinv = r ** -1
        units = [unit(3, 2, j) for j in range(6)]

        def parts(e: Matrix) -> tuple[Matrix, Matrix, Matrix]:
            c = e * rinv
            qtc = q.T * c
            low = tril(qtc, -1)
            return c, qtc, low - low.T

        first = []
        for e in units:
            c, qtc, w = parts(e)
            first.append((q * (w - qtc) + c, (qtc - w) * r, c, qtc, w))

        def d2(j: int, k: int) -> list:
            dq, dr = first[k][0], first[k][1]
            c, qtc, w = first[j][2:]
            dc = -c * dr * rinv
            dqtc = dq.T * c + q.T * dc
            dlow = tril(dqtc, -1)
            dw = dlow - dlow.T
            if part == 0:
                return lower(dq * (w - qtc) + q * (dw - dqtc) + dc, keep)
            return lower((dqtc - dw) * r + (qtc - w) * dr, keep)

        return Directional(lower((q, r)[part], keep), lambda j: lower(first[j][part], keep), d2)

    return value, forms


CHOLESKY = tuple(f"cholesky(a)[:, {i // 3}, {i % 3}]" for i in LOWER3)
A3 = (("a", (3, 3)),)
A32 = (("a", (3, 2)),)
A2 = (("a", (2, 2)),)
WHERE = "well-conditioned {} matrices scaled from 1e-100 to 1e100"


def _entries(expr: str, rows: int, cols: int) -> tuple[str, ...]:
    return tuple(f"{expr}[:, {i}, {j}]" for i in range(rows) for j in range(cols))


def _power_case(n: int) -> Case:
    value, forms = _power(n)
    return case("matrix_power", A2, _entries(f"matrix_power(a, {n})", 2, 2),
                lambda r: _scaled(r, SQUARE2, 25), value, forms,
                WHERE.format("2 x 2"), variant=f"n={n}")


CASES: list[Case] = [
    case("cholesky", A3, CHOLESKY, lambda r: _scaled(r, SPD, 20), _cholesky, _cholesky_forms,
         WHERE.format("3 x 3 positive definite")),
    case("logabsdet", A3, ("slogdet(a)[1]",), lambda r: _scaled(r, GENERAL3, 40, 200),
         _logabsdet, _logabsdet_forms,
         "well-conditioned 3 x 3 matrices scaled from 1e-200 to 1e200 (det overflows)"),
    case("pinv", A32, _entries("pinv(a)", 2, 3), lambda r: _scaled(r, TALL, 25), _pinv,
         _pinv_forms, WHERE.format("3 x 2 full-rank")),
    _power_case(3),
    _power_case(-2),
    case("qr_q", A32, _entries("qr(a)[0]", 3, 2), lambda r: _scaled(r, TALL_QR, 25),
         *_qr_forms(0), WHERE.format("3 x 2 full-rank")),
    case("qr_r", A32, tuple(f"qr(a)[1][:, {i // 2}, {i % 2}]" for i in UPPER2),
         lambda r: _scaled(r, TALL_QR, 25),
         *_qr_forms(1), WHERE.format("3 x 2 full-rank")),
]
