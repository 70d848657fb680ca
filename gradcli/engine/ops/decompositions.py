"""Cholesky, QR, slogdet and the pseudo-inverse: one primitive per output,
each acting on the last two axes (leading axes are a stack, as numpy.linalg).

The derivative rules are written in graph ops (solve, matmul, triangles), so
they are differentiable again.  Sources are cited at each rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import linalg as L
from gradcli.engine.ops import matrix_nodes as M
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.spectral import no_symbolic, per_slice, same_op, square_float
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError

# ---- cholesky ---------------------------------------------------------------------------
# Murray 2016, "Differentiation of the Cholesky decomposition": with Σ the
# symmetric matrix read (lower triangle, as numpy) and Φ(X) = the lower
# triangle of X with its diagonal halved,
#     dL = L Φ(L⁻¹ dΣ L⁻ᵀ)          L̄ -> Σ̄ = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹
# (the second is the transpose of the first: Φ is self-adjoint).

def _phi(x: Node) -> Node:
    half = N.mul(N.where(M.eye_mask(x.shape[-1]), x, N.scalar(0.0, x)), N.scalar(0.5, x))
    return N.add(M.tril(x, -1), half)


def cholesky(a: Node) -> Node:
    return apply("cholesky", (a,))


def _forward_cholesky(a: np.ndarray) -> np.ndarray:
    return per_slice(np.linalg.cholesky, a, a.shape[-2:])


def _vjp_cholesky(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    lt = M.swap(out)
    left = L.solve(lt, _phi(M.mm(lt, g)))             # L⁻ᵀ Φ(Lᵀ L̄)
    return (M.fold_lower(M.swap(L.solve(lt, M.swap(left)))),)   # ... L⁻¹


def _jvp_cholesky(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    half = L.solve(out, M.sym_lower(t[0]))            # L⁻¹ dΣ
    inner = M.swap(L.solve(out, M.swap(half)))         # L⁻¹ dΣ L⁻ᵀ
    return M.mm(out, _phi(inner))


def _sym_cholesky(a: np.ndarray) -> np.ndarray:
    import sympy

    a = np.asarray(a, dtype=object)
    out = np.empty(a.shape, dtype=object)
    n = a.shape[-1]
    for index in np.ndindex(a.shape[:-2]):
        x = a[index]
        sym = sympy.Matrix([[x[max(i, j), min(i, j)] for j in range(n)] for i in range(n)])
        out[index] = np.array(sym.cholesky(hermitian=False).tolist(), dtype=object)
    return out


# ---- qr -------------------------------------------------------------------------------
# Walter & Lehmann 2018, "Algorithmic differentiation of linear algebra
# functions with application in optimum experimental design" (m >= n, full
# column rank), with C = dA R⁻¹, Ω = tril(Qᵀ C, -1) - tril(Qᵀ C, -1)ᵀ:
#     dQ = Q (Ω - Qᵀ C) + C          dR = (Qᵀ C - Ω) R
# and, transposed: with L*(X) = tril(X - Xᵀ, -1),
#     Q̄ -> Ā = (Q̄ + Q (L*(QᵀQ̄) - QᵀQ̄)) R⁻ᵀ
#     R̄ -> Ā = Q (R̄Rᵀ - L*(R̄Rᵀ)) R⁻ᵀ
# Wide matrices (m < n) are QR of the first m columns plus Qᵀ times the rest,
# built from these rows by the catalogue.

def _infer_qr(part: str):
    def infer(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
        (a,) = inputs
        if a.ndim < 2 or 0 in a.shape[-2:] or a.shape[-2] < a.shape[-1]:
            raise ShapeError(f"the qr primitive needs (m, n) matrices with m >= n >= 1 in the "
                             f"last two axes, got shape {a.shape}")
        if not a.is_float:
            raise ShapeError(f"qr needs a float matrix, got {a.dtype}")
        n = a.shape[-1]
        return a.shape[:-1] + (n,) if part == "q" else a.shape[:-2] + (n, n), a.dtype

    return infer


def positive_qr(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy's reduced QR with each R[i, i] made >= 0 (row i of R and column i
    of Q negated together): the unique QR of a full-rank matrix, smooth in
    a.  LAPACK's signs jump wherever a column below the diagonal becomes 0
    (every triangular matrix) or a pivot crosses 0."""
    q, r = np.linalg.qr(a)
    sign = np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0).astype(r.dtype)
    return q * sign[..., None, :], r * sign[..., :, None]


def qr_q(a: Node) -> Node:
    return apply("qr_q", (a,))


def qr_r(a: Node) -> Node:
    return apply("qr_r", (a,))


def _times_r_inv_t(x: Node, r: Node) -> Node:
    """x R⁻ᵀ as (R⁻¹ xᵀ)ᵀ: one solve, no inverse formed."""
    return M.swap(L.solve(r, M.swap(x)))


def _lstar(x: Node) -> Node:
    return M.tril(N.sub(x, M.swap(x)), -1)


def _vjp_q(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    q, r = out, qr_r(a)
    qtg = M.mm(M.swap(q), g)
    return (_times_r_inv_t(N.add(g, M.mm(q, N.sub(_lstar(qtg), qtg))), r),)


def _vjp_r(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    q, r = qr_q(a), out
    grt = M.mm(g, M.swap(r))
    return (_times_r_inv_t(M.mm(q, N.sub(grt, _lstar(grt))), r),)


def _qr_tangents(t: Node, q: Node, r: Node) -> tuple[Node, Node, Node]:
    c = M.swap(L.solve(M.swap(r), M.swap(t)))          # dA R⁻¹
    qtc = M.mm(M.swap(q), c)
    low = M.tril(qtc, -1)
    return c, qtc, N.sub(low, M.swap(low))


def _jvp_q(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    c, qtc, omega = _qr_tangents(t[0], out, qr_r(out.inputs[0]))
    return N.add(M.mm(out, N.sub(omega, qtc)), c)


def _jvp_r(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    _, qtc, omega = _qr_tangents(t[0], qr_q(out.inputs[0]), out)
    return M.mm(N.sub(qtc, omega), out)


# ---- slogdet ---------------------------------------------------------------------------
# d log|det A| = trace(A⁻¹ dA) (Giles 2008, section 2.2.2); the sign is
# piecewise constant.

def _vjp_logabsdet(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    return (N.mul(N.reshape(g, out.shape + (1, 1)), M.swap(L.inv(a))),)


def _jvp_logabsdet(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    a = out.inputs[0]
    return N.reduce_sum(N.mul(M.swap(L.inv(a)), t[0]), (a.ndim - 2, a.ndim - 1))


def _sym_det_map(build: Any):
    def rule(a: np.ndarray) -> np.ndarray:
        import sympy

        a = np.asarray(a, dtype=object)
        out = np.empty(a.shape[:-2], dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = build(sympy, sympy.Matrix(a[index].tolist()).det())
        return out

    return rule


def _infer_det_like(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return square_float("slogdet", inputs).shape[:-2], inputs[0].dtype


# ---- pinv -------------------------------------------------------------------------------
# Golub & Pereyra 1973, "The differentiation of pseudo-inverses and nonlinear
# least squares problems", Theorem 4.3 (where the rank is locally constant):
#     dP = -P dA P + P Pᵀ dAᵀ (I - A P) + (I - P A) dAᵀ Pᵀ P
# and, transposed, Ā = -Pᵀ Ḡ Pᵀ + (I - A P) Ḡᵀ P Pᵀ + Pᵀ P Ḡᵀ (I - P A).

def _infer_pinv(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    (a,) = inputs
    if a.ndim < 2 or 0 in a.shape[-2:]:
        raise ShapeError(f"pinv needs matrices (at least 1x1) in the last two axes, got "
                         f"shape {a.shape}")
    if not a.is_float:
        raise ShapeError(f"pinv needs a float matrix, got {a.dtype}")
    return a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype


def pinv(a: Node, rcond: float) -> Node:
    return apply("pinv", (a,), {"rcond": float(rcond)})


def _forward_pinv(a: np.ndarray, *, rcond: float) -> np.ndarray:
    tail = (a.shape[-1], a.shape[-2])
    return per_slice(lambda x: np.linalg.pinv(x, rcond=rcond), a, tail).astype(a.dtype)


def _vjp_pinv(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a, p = out.inputs[0], out
    pt, gt = M.swap(p), M.swap(g)
    first = N.neg(M.mm(pt, g, pt))
    second = M.mm(M.identity_minus(M.mm(a, p)), gt, p, pt)
    third = M.mm(pt, p, gt, M.identity_minus(M.mm(p, a)))
    return (N.add(first, N.add(second, third)),)


def _jvp_pinv(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    a, p, da = out.inputs[0], out, t[0]
    pt, dat = M.swap(p), M.swap(da)
    first = N.neg(M.mm(p, da, p))
    second = M.mm(p, pt, dat, M.identity_minus(M.mm(a, p)))
    third = M.mm(M.identity_minus(M.mm(p, a)), dat, pt, p)
    return N.add(first, N.add(second, third))


def _sym_pinv(a: np.ndarray, *, rcond: float) -> np.ndarray:
    """The full-rank pseudo-inverse (aᵀa)⁻¹aᵀ or aᵀ(aaᵀ)⁻¹: what numpy computes
    wherever no singular value falls below rcond * the largest."""
    import sympy

    a = np.asarray(a, dtype=object)
    m, n = a.shape[-2:]
    out = np.empty(a.shape[:-2] + (n, m), dtype=object)
    for index in np.ndindex(a.shape[:-2]):
        x = sympy.Matrix(a[index].tolist())
        p = (x.T * x).inv() * x.T if m >= n else x.T * (x * x.T).inv()
        out[index] = np.array(p.tolist(), dtype=object)
    return out


ROWS = [
    Primitive("cholesky", lambda ins, at: (square_float("cholesky", ins).shape, ins[0].dtype),
              _forward_cholesky, _vjp_cholesky, _jvp_cholesky, same_op("cholesky"),
              _sym_cholesky,
              "lower Cholesky factor of the symmetric matrix in the lower triangle of each "
              "matrix in the last two axes (numpy.linalg.cholesky)",
              "needs a positive definite matrix: others give NaN (numpy raises); the upper "
              "triangle is not read, so its derivative is 0"),
    Primitive("qr_q", _infer_qr("q"), lambda a: positive_qr(a)[0], _vjp_q, _jvp_q,
              same_op("qr_q"),
              no_symbolic("qr", "Householder QR is a sequence of data-dependent "
                          "reflections; gradcli does not lower it"),
              "Q of the reduced QR of each (m, n) matrix with m >= n (numpy.linalg.qr, signed "
              "so that R's diagonal is >= 0)", "needs full column rank (R nonsingular)"),
    Primitive("qr_r", _infer_qr("r"), lambda a: positive_qr(a)[1], _vjp_r, _jvp_r,
              same_op("qr_r"),
              no_symbolic("qr", "Householder QR is a sequence of data-dependent "
                          "reflections; gradcli does not lower it"),
              "R of the reduced QR of each (m, n) matrix with m >= n (numpy.linalg.qr, signed "
              "so that its diagonal is >= 0)", "needs full column rank (R nonsingular)"),
    Primitive("logabsdet", _infer_det_like, lambda a: np.linalg.slogdet(a)[1],
              _vjp_logabsdet, _jvp_logabsdet, same_op("logabsdet"),
              _sym_det_map(lambda sp, d: sp.log(sp.Abs(d))),
              "log |det a| of each matrix in the last two axes, without overflow "
              "(numpy.linalg.slogdet(a)[1])",
              "needs a nonsingular matrix (at a singular one the value is -inf)"),
    Primitive("slogdet_sign", _infer_det_like, lambda a: np.linalg.slogdet(a)[0], None, None,
              same_op("slogdet_sign"), _sym_det_map(lambda sp, d: sp.sign(d)),
              "the sign of det a (1, -1, or 0 when singular; numpy.linalg.slogdet(a)[0])",
              "piecewise constant: derivative 0"),
    Primitive("pinv", _infer_pinv, _forward_pinv, _vjp_pinv, _jvp_pinv, same_op("pinv"),
              _sym_pinv,
              "Moore-Penrose pseudo-inverse of each matrix in the last two axes, singular "
              "values below rcond * the largest dropped (numpy.linalg.pinv)",
              "the derivative is that of the pseudo-inverse at fixed rank (Golub & Pereyra "
              "1973): exact where the rank is locally constant, as for every full-rank "
              "matrix; where a singular value crosses the cutoff the value jumps"),
]
