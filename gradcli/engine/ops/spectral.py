"""The symmetric eigendecomposition, one primitive per output, and the guard
that refuses its derivatives where they do not exist.

`eigh_w(a)` (eigenvalues, ascending) and `eigh_v(a)` (eigenvectors, the
columns) read the lower triangle of a, as numpy's UPLO='L' routines do, so
each is a function of every element of a and the derivative with respect to
the strict upper triangle is 0; the derivative with respect to the mirrored
symmetric matrix is folded onto the lower triangle (`fold_lower`).  The two
rows share no node: a spec using both runs LAPACK twice (eigvalsh and eigh),
and the evaluator merges every other copy (see docs/spec.md).

Derivatives (Giles 2008, "An extended collection of matrix derivative
results", section 3.1; Seeger et al. 2017, "Auto-differentiating linear
algebra"), with Σ the symmetric matrix read, M = Vᵀ dΣ V and
F_ij = 1/(w_j - w_i) for i != j:
    dw = diag(M)                 w̄ -> Σ̄ = V diag(w̄) Vᵀ
    dV = V (F ∘ M)               V̄ -> Σ̄ = V (F ∘ (Vᵀ V̄)) Vᵀ
At (near-)repeated eigenvalues F is infinite or dominated by rounding:
`degenerate_check` (the guard, a primitive that is the identity on its
second operand) raises UndefinedDerivative with the gap and the tolerance
unless the derivative asked for is one that exists there (see `KINK`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import matrix_nodes as M
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import NoSymbolicForm, ShapeError, UndefinedDerivative

KINDS = ("values", "offdiag", "zero")
KINK = ("the derivative is undefined at repeated eigenvalues: where two eigenvalues are "
        "within sqrt(eps) * max|eigenvalue| of each other, the gradient of a function of "
        "the eigenvalues is given only if it treats them alike (sum, logdet, norms), and "
        "any derivative through the eigenvectors is refused (exit 2, naming the gap and "
        "the tolerance); second derivatives there need eigenvectors and are refused too")


def tolerance(w: Node) -> Node:
    """sqrt(eps) * max|w| per matrix, shape lead + (1,): two eigenvalues (or
    singular values) closer than this count as repeated.  The computed
    vectors, and derivatives through them, carry a relative error of about
    eps * max|w| / gap, so below the tolerance fewer than half of the
    float's digits would be right.  A constant of the derivative (no
    gradient flows through a threshold)."""
    scale = apply("max", (N.unary("abs", w),), {"axes": (w.ndim - 1,)})
    root = math.sqrt(float(np.finfo(w.dtype).eps))
    return N.stop_gradient(M.column(N.mul(scale, N.scalar(root, w))))


def inverse_gaps(w: Node) -> Node:
    """F_ij = 1/(w_j - w_i), exactly 0 on the diagonal and wherever
    |w_j - w_i| <= tolerance: those pairs are vetted by `degenerate_check`."""
    gap = N.sub(M.row(w), M.column(w))
    keep = N.compare("gt", N.unary("abs", gap), M.column(tolerance(w)))
    return M.safe_reciprocal(gap, keep)


def degenerate_check(w: Node, c: Node, kind: str, subject: str, rect: bool = False) -> Node:
    """c itself, once the guard has found the derivative it carries defined
    at the eigenvalues (or singular values) w; see `_forward_check`."""
    return apply("degenerate_check", (w, c), {"kind": kind, "subject": subject, "rect": rect})


# ---- the guard ------------------------------------------------------------------------

def _lead(w_shape: Shape, c_shape: Shape, kind: str) -> Shape:
    tail = 1 if kind == "values" else 2
    try:
        return tuple(np.broadcast_shapes(w_shape[:-1], c_shape[:len(c_shape) - tail]))
    except ValueError:
        raise ShapeError(f"degenerate_check: stacks of shapes {w_shape} and {c_shape} "
                         "do not broadcast") from None


def _infer_check(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    w, c = inputs
    if attrs["kind"] not in KINDS:
        raise ShapeError(f"degenerate_check: unknown kind {attrs['kind']!r}")
    tail = 1 if attrs["kind"] == "values" else 2
    if w.ndim < 1 or c.ndim < tail:
        raise ShapeError(f"degenerate_check: shapes {w.shape} and {c.shape} do not fit")
    lead = _lead(w.shape, c.shape, attrs["kind"])
    return lead + c.shape[c.ndim - tail:], c.dtype


def _forward_check(w: np.ndarray, c: np.ndarray, *, kind: str, subject: str,
                   rect: bool) -> np.ndarray:
    """Raise UndefinedDerivative where the derivative carried by c does not
    exist at w; return c (broadcast to the stack) otherwise.

    Pairs i != j with |w_i - w_j| <= tol = sqrt(eps) * max|w| are repeated.
    kind "values": c is a cotangent of w; it must be equal (within sqrt(eps)
    * max|c|) on repeated pairs: then V diag(c) Vᵀ does not depend on the
    arbitrary basis of the eigenspace.  kind "offdiag": c is Vᵀ dΣ V; its
    (i, j) entries must vanish on repeated pairs (the basis then
    diagonalises the perturbation).  kind "zero": c feeds a derivative of
    eigen/singular vectors, which exists at no repeated pair: c must be 0.
    rect (a non-square svd): values within tol of 0 are also repeated, with
    the implicit zero singular values of the larger side.
    """
    lead = _lead(w.shape, c.shape, kind)
    tail = 1 if kind == "values" else 2
    out = np.broadcast_to(c, lead + c.shape[c.ndim - tail:])
    k = w.shape[-1]
    if out.size == 0 or k == 0:
        return np.array(out)
    # In w's own dtype, rounded as `tolerance` rounds it in the graph, so the
    # pairs vetted here are exactly those `inverse_gaps` sets to 0.
    wb = np.broadcast_to(w, lead + (k,))
    cb = out
    root = np.asarray(math.sqrt(float(np.finfo(w.dtype).eps)), dtype=w.dtype)
    tol = np.max(np.abs(wb), axis=-1) * root
    gap = np.abs(wb[..., :, None] - wb[..., None, :])
    pairs = (gap <= tol[..., None, None]) & ~np.eye(k, dtype=bool)
    lows = (np.abs(wb) <= tol[..., None]) if rect else np.zeros(wb.shape, dtype=bool)
    if kind == "offdiag":
        lows &= wb != 0  # an exact zero singular value has derivative 0 by convention
    if not pairs.any() and not lows.any():
        return out if out is c else np.array(out)
    size = np.max(np.abs(cb), axis=tuple(range(len(lead), cb.ndim)))
    nonzero = size > 0
    with np.errstate(invalid="ignore"):
        if kind == "values":
            ctol = (root * size)[..., None]
            bad_pairs = pairs & (np.abs(cb[..., :, None] - cb[..., None, :]) > ctol[..., None])
            bad_lows = lows & (np.abs(cb) > ctol)
        elif kind == "offdiag":
            ctol = (root * size)[..., None, None]
            bad_pairs = pairs & (np.abs(cb) > ctol)
            bad_lows = lows & nonzero[..., None]
        else:
            bad_pairs = pairs & nonzero[..., None, None]
            bad_lows = lows & nonzero[..., None]
    if bad_pairs.any():
        *where, i, j = (int(v) for v in np.argwhere(bad_pairs)[0])
        _raise(subject, kind, tuple(where), wb, tol, (i, j), cb)
    if bad_lows.any():
        *where, i = (int(v) for v in np.argwhere(bad_lows)[0])
        _raise(subject, kind, tuple(where), wb, tol, (i,), cb)
    return out if out is c else np.array(out)


def _raise(subject: str, kind: str, where: tuple[int, ...], w: np.ndarray, tol: np.ndarray,
           at: tuple[int, ...], c: np.ndarray) -> None:
    values = "singular values" if subject.startswith("svd") else "eigenvalues"
    one = values[:-1]
    stack = f" in matrix {list(where)} of the stack" if where else ""
    limit = f"the tolerance {tol[where]:.3g} (sqrt(eps) * the largest |{one}|)"
    if len(at) == 2:
        i, j = at
        a, b = w[where + (i,)], w[where + (j,)]
        fact = (f"{values} [{i}] = {a:.17g} and [{j}] = {b:.17g}{stack} differ by "
                f"{abs(a - b):.3g}, within {limit}")
        slopes = (f" ({c[where + (i,)]:.6g} and {c[where + (j,)]:.6g})"
                  if kind == "values" else "")
    else:
        (i,) = at
        fact = (f"{one} [{i}] = {w[where + (i,)]:.3g}{stack} is within {limit} of the "
                f"zero {values} of a non-square matrix")
        slopes = f" ({c[where + (i,)]:.6g} and 0)" if kind == "values" else ""
    if kind == "values":
        why = (f"the function does not treat them alike: its derivatives with respect to "
               f"them differ{slopes}, and at repeated {values} each one alone has no "
               f"derivative (functions symmetric in them, like sum, logdet or norms, do)")
    elif kind == "offdiag":
        why = (f"forward mode needs each {one}'s own derivative, which does not exist there "
               f"(reverse mode, grad, gives gradients of functions symmetric in them)")
    else:
        why = (f"the vectors of repeated {values} are not unique (any rotation among them "
               f"is as good), so nothing computed from them has a derivative there")
    raise UndefinedDerivative(f"{subject}: derivative undefined: {fact}; {why}")


def _vjp_check(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    return None, N.sum_to(g, out.inputs[1].shape)


def _jvp_check(t: tuple[Node | None, ...], out: Node) -> Node | None:
    return t[1]


def lift(x: Node, batched: bool, size: int) -> Node:
    """Give an unbatched operand the batch axis (broadcast, nothing copied)."""
    return x if batched else N.broadcast_to(N.reshape(x, (1,) + x.shape), (size,) + x.shape)


def _batch_check(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    size = next(x.shape[0] for x, b in zip(inputs, batched) if b)
    w, c = (lift(x, b, size) for x, b in zip(inputs, batched))
    return apply("degenerate_check", (w, c), attrs)


def _sym_check(w: np.ndarray, c: np.ndarray, *, kind: str, subject: str,
               rect: bool) -> np.ndarray:
    lead = _lead(np.shape(w), np.shape(c), kind)
    tail = 1 if kind == "values" else 2
    return np.broadcast_to(np.asarray(c, dtype=object), lead + np.shape(c)[np.ndim(c) - tail:])


# ---- eigh ---------------------------------------------------------------------------

def square_float(what: str, inputs: tuple[Node, ...]) -> Node:
    (a,) = inputs
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or a.shape[-1] == 0:
        raise ShapeError(f"{what} needs square matrices (at least 1x1) in the last two axes, "
                         f"got shape {a.shape}")
    if not a.is_float:
        raise ShapeError(f"{what} needs a float matrix, got {a.dtype}")
    return a


def per_slice(fn: Any, a: np.ndarray, tail: Shape) -> np.ndarray:
    """fn on a stack of matrices; slices where LAPACK fails (NaN input, no
    convergence, not positive definite) become NaN instead of failing all."""
    try:
        return np.asarray(fn(a))
    except np.linalg.LinAlgError:
        out = np.full(a.shape[:-2] + tail, np.nan, dtype=a.dtype)
        for index in np.ndindex(a.shape[:-2]):
            try:
                out[index] = fn(a[index])
            except np.linalg.LinAlgError:
                pass  # stays NaN
        return out


GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def reference_vector(n: int) -> np.ndarray:
    """r_i = 1 + frac((i + 1) * 0.618...): positive, all different and with no
    simple ratios, so no eigenvector or singular vector of a structured
    matrix (tridiagonal, symmetric patterns like (1, -1)/sqrt(2)) is
    orthogonal to it except by accident."""
    return 1.0 + np.mod(np.arange(1, n + 1) * GOLDEN, 1.0)


def orientation(vectors: np.ndarray) -> np.ndarray:
    """+1 or -1 per column of each matrix, making r . column > 0.

    LAPACK's signs jump wherever a Householder reflection degenerates (an
    element below the subdiagonal crossing 0: every tridiagonal matrix is
    such a point), so a sign-dependent function of numpy's vectors has no
    derivative at the matrices people write down; this choice is smooth
    everywhere except where a column is orthogonal to r."""
    r = reference_vector(vectors.shape[-2]).astype(vectors.dtype)
    return np.where(np.einsum("i,...ij->...j", r, vectors) < 0, -1.0, 1.0).astype(vectors.dtype)


def _eigenvectors(a: np.ndarray) -> np.ndarray:
    v = np.linalg.eigh(a)[1]
    return v * orientation(v)[..., None, :]


def eigh_w(a: Node) -> Node:
    return apply("eigh_w", (a,))


def eigh_v(a: Node) -> Node:
    return apply("eigh_v", (a,))


def _vjp_eigh_w(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    v = eigh_v(out.inputs[0])
    c = degenerate_check(out, g, "values", "eigh (eigenvalues)")
    return (M.fold_lower(M.mm(M.scale_cols(v, c), M.swap(v))),)


def _jvp_eigh_w(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    v = eigh_v(out.inputs[0])
    m = M.mm(M.swap(v), M.sym_lower(t[0]), v)
    return M.diag_part(degenerate_check(out, m, "offdiag", "eigh (eigenvalues)"))


def _vjp_eigh_v(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    w, v = eigh_w(out.inputs[0]), out
    x = degenerate_check(w, M.mm(M.swap(v), g), "zero", "eigh (eigenvectors)")
    return (M.fold_lower(M.mm(v, N.mul(inverse_gaps(w), x), M.swap(v))),)


def _jvp_eigh_v(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    w, v = eigh_w(out.inputs[0]), out
    m = M.mm(M.swap(v), M.sym_lower(t[0]), v)
    m = degenerate_check(w, m, "zero", "eigh (eigenvectors)")
    return M.mm(v, N.mul(inverse_gaps(w), m))


def same_op(op: str):
    """Batching of ops on the last axes: the batch axis is one more stack axis."""
    return lambda ins, batched, attrs: apply(op, ins, attrs)


def no_symbolic(op: str, why: str):
    def rule(*arrays: Any, **attrs: Any) -> np.ndarray:
        raise NoSymbolicForm(f"{op} has no symbolic form ({why}); gradcli check compares "
                             "its derivatives with finite differences only")

    return rule


EIGEN_WHY = ("eigenvalues are roots of the characteristic polynomial, without a closed form "
             "beyond 4x4, and their ascending order is not an expression")

ROWS = [
    Primitive("degenerate_check", _infer_check, _forward_check, _vjp_check, _jvp_check,
              _batch_check, _sym_check,
              "the identity on its second operand (a cotangent or tangent), which first "
              "refuses it where the eigen/singular values in the first are repeated and the "
              "derivative it carries does not exist there",
              "raises UndefinedDerivative (exit 2) with the gap and the tolerance"),
    Primitive("eigh_w", lambda ins, at: (square_float("eigh", ins).shape[:-1], ins[0].dtype),
              lambda a: per_slice(np.linalg.eigvalsh, a, a.shape[-1:]),
              _vjp_eigh_w, _jvp_eigh_w, same_op("eigh_w"),
              no_symbolic("eigh", EIGEN_WHY),
              "eigenvalues (ascending) of the symmetric matrix in the lower triangle of each "
              "matrix in the last two axes (numpy.linalg.eigvalsh)", KINK),
    Primitive("eigh_v", lambda ins, at: (square_float("eigh", ins).shape, ins[0].dtype),
              lambda a: per_slice(_eigenvectors, a, a.shape[-2:]),
              _vjp_eigh_v, _jvp_eigh_v, same_op("eigh_v"),
              no_symbolic("eigh", EIGEN_WHY),
              "eigenvectors (columns) of the symmetric matrix in the lower triangle of each "
              "matrix in the last two axes (numpy.linalg.eigh(a)[1]), each signed to have a "
              "positive dot product with r_i = 1 + frac((i + 1) * 0.618...)", KINK),
]
