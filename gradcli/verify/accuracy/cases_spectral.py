"""Accuracy cases of the symmetric eigendecomposition, the SVD and the
matrix norms built on it, on 2 x 2 matrices with well-separated eigen- and
singular values (where both exist), scaled across the range.

The references are first-order perturbation theory (Giles 2008 for eigh,
Townsend 2016 for the SVD) on mpmath's 50-digit factorisations, and its
derivative along a second direction; vectors are signed as gradcli signs
them (r . v > 0, engine/ops/spectral.py).  The upper triangle is not read by
eigh, so its derivatives are 0 (not checked)."""

from __future__ import annotations

from collections.abc import Sequence

import mpmath
from mpmath import mp

from gradcli.verify.accuracy.case import Case, Mp
from gradcli.verify.accuracy.mpmatrix import (
    Directional,
    Matrix,
    case,
    diag,
    entries,
    gaps,
    hadamard,
    mat,
    oriented,
    scale_columns,
    scaled,
    sym_lower,
    unit,
)

SYMMETRIC = [[4.0, 1.0, 1.0, -2.0], [2.5, -0.75, -0.75, 1.0], [1.0, 0.25, 0.25, 3.0]]
GENERAL = [[4.0, 1.0, -2.0, 3.0], [2.5, -0.5, 1.0, 1.75], [1.0, 0.25, 0.375, -2.0]]
A2 = (("a", (2, 2)),)
UNITS = [unit(2, 2, j) for j in range(4)]


# ---- eigh -------------------------------------------------------------------------------

def _eigh(a: Matrix) -> tuple[list, Matrix]:
    """Eigenvalues ascending, eigenvectors as columns signed r . v > 0."""
    w, v = mp.eigsy(sym_lower(a))
    order = sorted(range(len(w)), key=lambda i: w[i])
    w = [w[i] for i in order]
    v = mpmath.matrix([[v[r, i] for i in order] for r in range(v.rows)])
    return w, scale_columns(v, oriented(v))


def _eigh_forms(part: int):
    def value(x: Sequence[Mp]) -> list:
        w, v = _eigh(mat(x, 2, 2))
        return list(w) if part == 0 else entries(v)

    def forms(x: Sequence[Mp]) -> Directional:
        """M = V^T dS V: dw = diag(M), dV = V (F o M), F_ij = 1/(w_j - w_i);
        along a second direction dM' = dV'^T dS V + V^T dS dV',
        dF'_ij = -(dw'_j - dw'_i) F_ij**2."""
        w, v = _eigh(mat(x, 2, 2))
        f = gaps(w)
        ms = [v.T * sym_lower(e) * v for e in UNITS]
        dws = [[m[i, i] for i in range(2)] for m in ms]
        dvs = [v * hadamard(f, m) for m in ms]

        def d2(j: int, k: int) -> list:
            e, dv_k, dw_k = sym_lower(UNITS[j]), dvs[k], dws[k]
            dm = dv_k.T * e * v + v.T * e * dv_k
            if part == 0:
                return [dm[i, i] for i in range(2)]
            df = mpmath.matrix([[-(dw_k[c] - dw_k[r]) * f[r, c] ** 2 for c in range(2)]
                                for r in range(2)])
            return entries(dv_k * hadamard(f, ms[j]) + v * (hadamard(df, ms[j])
                                                            + hadamard(f, dm)))

        d1 = (lambda j: dws[j]) if part == 0 else (lambda j: entries(dvs[j]))
        return Directional(list(w) if part == 0 else entries(v), d1, d2)

    return value, forms


# ---- svd --------------------------------------------------------------------------------

def _svd(a: Matrix) -> tuple[Matrix, list, Matrix]:
    """U, s (descending), V with A = U diag(s) V^T, each pair signed r . u > 0."""
    u, s, vt = mp.svd_r(a)
    order = sorted(range(len(s)), key=lambda i: -s[i])
    s = [s[i] for i in order]
    u = mpmath.matrix([[u[r, i] for i in order] for r in range(u.rows)])
    v = mpmath.matrix([[vt[i, c] for i in order] for c in range(vt.cols)])
    signs = oriented(u)
    return scale_columns(u, signs), s, scale_columns(v, signs)


def _svd_forms(part: str):
    """part: "s", "u", "vh", or a norm of the singular values: "nuc", "2", "-2"."""
    def pick(u: Matrix, s: list, v: Matrix) -> list:
        if part == "s":
            return list(s)
        if part == "u":
            return entries(u)
        if part == "vh":
            return entries(v.T)
        return [{"nuc": s[0] + s[1], "2": s[0], "-2": s[1]}[part]]

    def value(x: Sequence[Mp]) -> list:
        return pick(*_svd(mat(x, 2, 2)))

    def forms(x: Sequence[Mp]) -> Directional:
        """P = U^T E V: ds = diag(P), dU = U (F o (P S + S P^T)),
        dV = V (F o (S P + P^T S)), F_ij = 1/(s_j**2 - s_i**2) (Townsend 2016);
        along a second direction every factor is differentiated."""
        u, s, v = _svd(mat(x, 2, 2))
        big = diag(s)
        f = gaps(s, square=True)
        first = []
        for e in UNITS:
            p = u.T * e * v
            first.append((p, [p[i, i] for i in range(2)],
                          u * hadamard(f, p * big + big * p.T),
                          v * hadamard(f, big * p + p.T * big)))

        def d2(j: int, k: int) -> list:
            p = first[j][0]
            _, ds, du, dv = first[k]
            dp = du.T * UNITS[j] * v + u.T * UNITS[j] * dv
            dbig = diag(ds)
            if part in ("s", "nuc", "2", "-2"):
                return pick(u, [dp[i, i] for i in range(2)], v)
            df = mpmath.matrix([[-2 * (s[c] * ds[c] - s[r] * ds[r]) * f[r, c] ** 2
                                 for c in range(2)] for r in range(2)])
            if part == "u":
                k_, dk = p * big + big * p.T, dp * big + p * dbig + dbig * p.T + big * dp.T
                return entries(du * hadamard(f, k_) + u * (hadamard(df, k_)
                                                           + hadamard(f, dk)))
            k_, dk = big * p + p.T * big, dbig * p + big * dp + dp.T * big + p.T * dbig
            return entries((dv * hadamard(f, k_) + v * (hadamard(df, k_)
                                                        + hadamard(f, dk))).T)

        def d1(j: int) -> list:
            p, ds, du, dv = first[j]
            return pick(du, ds, dv)

        return Directional(pick(u, s, v), d1, d2)

    return value, forms


# ---- matrix norms by entries ----------------------------------------------------------------

def _abs_sum_norm(columns: bool):
    """ord=1 (the largest column sum of |a|) or inf (the largest row sum)."""
    def sums(x: Sequence[Mp]) -> list:
        a = mat(x, 2, 2)
        return [mp.fsum(abs(a[i, c] if columns else a[c, i]) for i in range(2))
                for c in range(2)]

    def value(x: Sequence[Mp]) -> list:
        return [max(sums(x))]

    def forms(x: Sequence[Mp]) -> Directional:
        best = max(range(2), key=lambda c: sums(x)[c])
        a = mat(x, 2, 2)

        def d1(j: int) -> list:
            r, c = divmod(j, 2)
            chosen = c if columns else r
            return [mp.sign(a[r, c]) if chosen == best else mp.zero]

        return Directional(value(x), d1, lambda j, k: [mp.zero])

    return value, forms


WHERE = "well-conditioned 2 x 2 matrices, {} values apart, scaled from 1e-100 to 1e100"
EIGEN = WHERE.format("eigen")
SINGULAR = WHERE.format("singular")
SUMS = "2 x 2 matrices without tied row or column sums, scaled from 1e-100 to 1e100"


def _points(shapes: list) -> object:
    return lambda r: scaled(r, shapes, 25)


# no ties among the row or column sums (those split the derivative evenly)
UNTIED = [[4.0, 1.5, -2.0, 3.0], GENERAL[1], GENERAL[2]]


def _norm(variant: str, ord_text: str, forms: tuple, shapes: list = GENERAL,
          where: str = SINGULAR) -> Case:
    return case("norm", A2, (f"norm(a, ord={ord_text}, axis=(1, 2))",), _points(shapes),
                *forms, where, variant=variant)


def _ij(expr: str) -> tuple[str, ...]:
    return tuple(f"{expr}[:, {i}, {j}]" for i in range(2) for j in range(2))


CASES: list[Case] = [
    case("eigh_w", A2, ("eigvalsh(a)[:, 0]", "eigvalsh(a)[:, 1]"), _points(SYMMETRIC),
         *_eigh_forms(0), EIGEN),
    case("eigh_v", A2, _ij("eigh(a)[1]"), _points(SYMMETRIC), *_eigh_forms(1), EIGEN),
    case("svd_s", A2, ("svdvals(a)[:, 0]", "svdvals(a)[:, 1]"), _points(GENERAL),
         *_svd_forms("s"), SINGULAR),
    case("svd_u", A2, _ij("svd(a)[0]"), _points(GENERAL), *_svd_forms("u"), SINGULAR),
    case("svd_vh", A2, _ij("svd(a)[2]"), _points(GENERAL), *_svd_forms("vh"), SINGULAR),
    _norm("ord='nuc'", "'nuc'", _svd_forms("nuc")),
    _norm("ord=2 (matrix)", "2", _svd_forms("2")),
    _norm("ord=-2 (matrix)", "-2", _svd_forms("-2")),
    _norm("ord=1 (matrix)", "1", _abs_sum_norm(True), UNTIED, SUMS),
    _norm("ord=inf (matrix)", "inf", _abs_sum_norm(False), UNTIED, SUMS),
]
