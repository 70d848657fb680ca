"""The thin singular value decomposition a = U diag(s) Vh, one primitive per
output: `svd_u` (..., m, k), `svd_s` (..., k), `svd_vh` (..., k, n) with
k = min(m, n), numpy.linalg.svd(a, full_matrices=False), except for signs:
each pair (u_i, v_i) is signed so that u_i has a positive dot product with a
fixed vector (`spectral.orientation`), which makes U and Vh smooth where
LAPACK's own signs jump.  `svd_s` runs LAPACK without vectors; `svd_u` and
`svd_vh` each run the full SVD of the same array, so their signs agree.

Derivatives: Townsend 2016, "Differentiating the singular value
decomposition" (real case), with dP = Uᵀ dA V, S = diag(s) and
F_ij = 1/(s_j² - s_i²) for i != j:
    ds = diag(dP)
    dU = U (F ∘ (dP S + S dPᵀ)) + (I - U Uᵀ) dA V S⁻¹        (the last term if m > k)
    dV = V (F ∘ (S dP + dPᵀ S)) + (I - V Vᵀ) dAᵀ U S⁻¹       (the last term if n > k)
and their transposes (derived from these, so the two modes agree):
    s̄ -> U diag(s̄) Vᵀ
    Ū -> U ((G + Gᵀ) S) Vᵀ + (I - U Uᵀ) Ū S⁻¹ Vᵀ,  G = F ∘ (Uᵀ Ū)
    V̄ -> U (S (H + Hᵀ)) Vᵀ + U S⁻¹ V̄ᵀ (I - V Vᵀ),  H = F ∘ (Vᵀ V̄)
Repeated singular values (and, for a non-square matrix, singular values at 0,
repeated with the implicit zeros of the larger side) go through the guard
`degenerate_check`, as eigenvalues do.  A singular value that is exactly 0
has derivative 0 (the convention of abs'(0) = 0: s_i = |signed value|).
"""

from __future__ import annotations

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import matrix_nodes as M
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.spectral import (
    degenerate_check,
    inverse_gaps,
    no_symbolic,
    orientation,
    per_slice,
    same_op,
    tolerance,
)
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError

KINK = ("at repeated singular values (within sqrt(eps) * the largest) the gradient of a "
        "function of s is given only if it treats them alike (sum = nuclear norm, "
        "norms), and derivatives through U or Vh are refused (exit 2, naming the gap and "
        "the tolerance); for a non-square matrix the same holds for singular values "
        "near 0; a singular value exactly 0 has derivative 0 (as abs'(0) = 0)")
WHY = ("singular values are square roots of eigenvalues of aᵀa, without a closed form "
       "beyond 4x4, and LAPACK's ordering and signs are not expressions")


def _matrix(inputs: tuple[Node, ...]) -> tuple[Node, int, int, int]:
    (a,) = inputs
    if a.ndim < 2 or 0 in a.shape[-2:]:
        raise ShapeError(f"svd needs matrices (at least 1x1) in the last two axes, got "
                         f"shape {a.shape}")
    if not a.is_float:
        raise ShapeError(f"svd needs a float matrix, got {a.dtype}")
    m, n = a.shape[-2:]
    return a, m, n, min(m, n)


def _infer(part: str):
    def infer(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
        a, m, n, k = _matrix(inputs)
        tail = {"u": (m, k), "s": (k,), "vh": (k, n)}[part]
        return a.shape[:-2] + tail, a.dtype

    return infer


def _forward(part: str):
    def forward(a: np.ndarray) -> np.ndarray:
        m, n = a.shape[-2:]
        k = min(m, n)
        if part == "s":
            return per_slice(lambda x: np.linalg.svd(x, compute_uv=False), a, (k,))
        if part == "u":
            return per_slice(lambda x: _oriented(x)[0], a, (m, k))
        return per_slice(lambda x: _oriented(x)[1], a, (k, n))

    return forward


def _oriented(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """U and Vh with each pair (u_i, v_i) signed so that r . u_i > 0 (see
    `spectral.orientation`); both rows compute this from the same LAPACK call
    on the same array, so their signs agree."""
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    sign = orientation(u)
    return u * sign[..., None, :], vh * sign[..., :, None]


def svd_u(a: Node) -> Node:
    return apply("svd_u", (a,))


def svd_s(a: Node) -> Node:
    return apply("svd_s", (a,))


def svd_vh(a: Node) -> Node:
    return apply("svd_vh", (a,))


def _zero_where_zero(s: Node, x: Node) -> Node:
    """x with exact zeros where s is exactly 0 (the abs'(0) = 0 convention)."""
    return N.where(N.compare("eq", s, N.scalar(0.0, s)), N.scalar(0.0, x), x)


def _inverse_s(s: Node) -> Node:
    """1/s_i, and 0 where s_i is within the tolerance of 0 (the guard has
    made sure nothing is multiplied by those entries)."""
    return M.safe_reciprocal(s, N.compare("gt", s, tolerance(s)))


def _rect(a: Node) -> bool:
    return a.shape[-1] != a.shape[-2]


# ---- singular values ------------------------------------------------------------------

def _vjp_s(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    c = degenerate_check(out, _zero_where_zero(out, g), "values", "svd (singular values)",
                         _rect(a))
    return (M.mm(M.scale_cols(svd_u(a), c), svd_vh(a)),)


def _jvp_s(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    a = out.inputs[0]
    dp = M.mm(M.swap(svd_u(a)), t[0], M.swap(svd_vh(a)))
    # Repeated singular values move as the eigenvalues of the symmetric part
    # of dP's block: each alone has a derivative if that block is diagonal.
    half = N.mul(N.add(dp, M.swap(dp)), N.scalar(0.5, dp))
    checked = degenerate_check(out, half, "offdiag", "svd (singular values)", _rect(a))
    return _zero_where_zero(out, M.diag_part(checked))


# ---- singular vectors -----------------------------------------------------------------
# F only ever appears times one singular value: F_ij s_j = E_ij P_ij and
# F_ij s_i = E_ij (1 - P_ij) with E_ij = 1/(s_j - s_i), P_ij = s_j/(s_i + s_j),
# so no square is formed (s ~ 1e200 would overflow s_j² - s_i²).  Written so,
#     (G + Gᵀ) S      = (E ∘ P)       ∘ (X - Xᵀ),  X = Uᵀ Ū
#     S (H + Hᵀ)      = (E ∘ (1 - P)) ∘ (Y - Yᵀ),  Y = Vᵀ V̄
#     F ∘ (dP S + S dPᵀ) = E ∘ (P ∘ dP + (1 - P) ∘ dPᵀ)
#     F ∘ (S dP + dPᵀ S) = E ∘ ((1 - P) ∘ dP + P ∘ dPᵀ)

def _weights(s: Node) -> tuple[Node, Node, Node]:
    """E (0 on vetted repeated pairs), P and 1 - P as above (0 where s_i + s_j = 0)."""
    si, sj = M.column(s), M.row(s)
    total = N.add(si, sj)
    inv_total = M.safe_reciprocal(total, N.compare("gt", total, N.scalar(0.0, s)))
    return inverse_gaps(s), N.mul(sj, inv_total), N.mul(si, inv_total)


def _antisym(x: Node) -> Node:
    return N.sub(x, M.swap(x))


def _vjp_u(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    u, s, vh = out, svd_s(a), svd_vh(a)
    g = degenerate_check(s, g, "zero", "svd (U)", _rect(a))
    e, p, _ = _weights(s)
    core = N.mul(N.mul(e, p), _antisym(M.mm(M.swap(u), g)))
    total = M.mm(u, core, vh)
    if a.shape[-2] > s.shape[-1]:  # tall: U misses a complement
        rest = N.sub(g, M.mm(u, M.mm(M.swap(u), g)))
        total = N.add(total, M.mm(M.scale_cols(rest, _inverse_s(s)), vh))
    return (total,)


def _vjp_vh(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    u, s, vh = svd_u(a), svd_s(a), out
    vbar = M.swap(degenerate_check(s, g, "zero", "svd (Vh)", _rect(a)))
    e, _, q = _weights(s)
    core = N.mul(N.mul(e, q), _antisym(M.mm(vh, vbar)))
    total = M.mm(u, core, vh)
    if a.shape[-1] > s.shape[-1]:  # wide: V misses a complement
        rest = N.sub(vbar, M.mm(M.swap(vh), M.mm(vh, vbar)))
        total = N.add(total, M.mm(M.scale_cols(u, _inverse_s(s)), M.swap(rest)))
    return (total,)


def _jvp_u(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    a = out.inputs[0]
    u, s, vh = out, svd_s(a), svd_vh(a)
    da = degenerate_check(s, t[0], "zero", "svd (U)", _rect(a))
    dav = M.mm(da, M.swap(vh))
    dp = M.mm(M.swap(u), dav)
    e, p, q = _weights(s)
    du = M.mm(u, N.mul(e, N.add(N.mul(p, dp), N.mul(q, M.swap(dp)))))
    if a.shape[-2] > s.shape[-1]:
        rest = N.sub(dav, M.mm(u, dp))
        du = N.add(du, M.scale_cols(rest, _inverse_s(s)))
    return du


def _jvp_vh(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    a = out.inputs[0]
    u, s, vh = svd_u(a), svd_s(a), out
    da = degenerate_check(s, t[0], "zero", "svd (Vh)", _rect(a))
    datu = M.mm(M.swap(da), u)          # dAᵀ U, (n, k)
    dp = M.mm(M.swap(u), da, M.swap(vh))
    e, p, q = _weights(s)
    dv = M.mm(M.swap(vh), N.mul(e, N.add(N.mul(q, dp), N.mul(p, M.swap(dp)))))
    if a.shape[-1] > s.shape[-1]:
        rest = N.sub(datu, M.mm(M.swap(vh), M.swap(dp)))
        dv = N.add(dv, M.scale_cols(rest, _inverse_s(s)))
    return M.swap(dv)


ROWS = [
    Primitive("svd_u", _infer("u"), _forward("u"), _vjp_u, _jvp_u, same_op("svd_u"),
              no_symbolic("svd", WHY),
              "U of the thin SVD of each matrix in the last two axes (numpy.linalg.svd(a, "
              "full_matrices=False)[0]), each column signed to have a positive dot product "
              "with r_i = 1 + frac((i + 1) * 0.618...)", KINK),
    Primitive("svd_s", _infer("s"), _forward("s"), _vjp_s, _jvp_s, same_op("svd_s"),
              no_symbolic("svd", WHY),
              "singular values (descending) of each matrix in the last two axes", KINK),
    Primitive("svd_vh", _infer("vh"), _forward("vh"), _vjp_vh, _jvp_vh, same_op("svd_vh"),
              no_symbolic("svd", WHY),
              "Vh of the thin SVD of each matrix in the last two axes (numpy.linalg.svd(a, "
              "full_matrices=False)[2]), each row signed as the matching column of U", KINK),
]
