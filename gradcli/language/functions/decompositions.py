"""Matrix decompositions with numpy.linalg's signatures and results.

Functions with several results (eigh, svd, qr, slogdet) return a `Results`:
take one array with `[i]` or numpy's field name (`eigh(a).eigenvectors`).
Every array is its own primitive node (see engine/ops/spectral.py, svd.py,
decompositions.py), batched over leading axes as numpy.linalg is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import apply
from gradcli.engine.ops import decompositions as D
from gradcli.engine.ops import linalg as L
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops import spectral as S
from gradcli.engine.ops import svd as V
from gradcli.engine.ops.structure import getitem
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import bool_arg, int_arg, number_arg, str_arg
from gradcli.language.functions.context import Context, promote, to_float
from gradcli.language.functions.registry import define
from gradcli.language.functions.results import Results


def _square(x: Node) -> Node:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2] or x.shape[-1] == 0:
        raise ShapeError(f"needs a square matrix (or a stack of them) in the last two axes, "
                         f"got shape {x.shape}")
    return x


def _matrix(x: Node) -> Node:
    if x.ndim < 2 or 0 in x.shape[-2:]:
        raise ShapeError(f"needs a matrix (or a stack of them) in the last two axes, got "
                         f"shape {x.shape}")
    return x


def _no_hermitian(value: Any, instead: str) -> None:
    if bool_arg("hermitian", value):
        raise SpecError(f"hermitian=True is not supported; {instead}")


def cholesky(ctx: Context, a: Any, upper: Any = False) -> Node:
    """numpy.linalg.cholesky: reads the lower triangle (upper=True: the upper
    one, and returns the upper factor)."""
    a = _square(to_float(ctx, a))
    if bool_arg("upper", upper):
        return N.swap_last(D.cholesky(N.swap_last(a)))
    return D.cholesky(a)


def _uplo(a: Node, uplo: Any) -> Node:
    return N.swap_last(a) if str_arg("UPLO", uplo, ("L", "U")) == "U" else a


def eigh(ctx: Context, a: Any, UPLO: Any = "L") -> Results:  # noqa: N803 - numpy's name
    a = _uplo(_square(to_float(ctx, a)), UPLO)
    return Results("eigh", ("eigenvalues", "eigenvectors"), (S.eigh_w(a), S.eigh_v(a)))


def eigvalsh(ctx: Context, a: Any, UPLO: Any = "L") -> Node:  # noqa: N803 - numpy's name
    return S.eigh_w(_uplo(_square(to_float(ctx, a)), UPLO))


def svd(ctx: Context, a: Any, full_matrices: Any = True, compute_uv: Any = True,
        hermitian: Any = False) -> Results | Node:
    a = _matrix(to_float(ctx, a))
    _no_hermitian(hermitian, "svd of a symmetric matrix is the same without it")
    if not bool_arg("compute_uv", compute_uv):
        return V.svd_s(a)
    m, n = a.shape[-2:]
    if bool_arg("full_matrices", full_matrices) and m != n:
        raise SpecError(f"full_matrices=True (numpy's default) on a {m}x{n} matrix adds "
                        f"{abs(m - n)} arbitrary columns to {'U' if m > n else 'Vh'}, which "
                        "have no derivative: pass full_matrices=False (the thin SVD)")
    return Results("svd", ("U", "S", "Vh"), (V.svd_u(a), V.svd_s(a), V.svd_vh(a)))


def svdvals(ctx: Context, x: Any) -> Node:
    return V.svd_s(_matrix(to_float(ctx, x)))


def _qr(a: Node) -> tuple[Node, Node]:
    """Reduced QR; for m < n, the QR of the first m columns (Householder
    reflections see nothing else) and R's other columns Qᵀ a[:, m:]."""
    m, n = a.shape[-2:]
    if m >= n:
        return D.qr_q(a), D.qr_r(a)
    square = getitem(a, (Ellipsis, slice(None), slice(0, m)))
    rest = getitem(a, (Ellipsis, slice(None), slice(m, n)))
    q = D.qr_q(square)
    r = apply("concat", (D.qr_r(square), N.matmul(N.swap_last(q), rest)), {"axis": a.ndim - 1})
    return q, r


def qr(ctx: Context, a: Any, mode: Any = "reduced") -> Results | Node:
    a = _matrix(to_float(ctx, a))
    mode = str_arg("mode", mode, ("reduced", "complete", "r", "raw"))
    m, n = a.shape[-2:]
    if mode == "raw":
        raise SpecError("mode='raw' (Householder reflectors) is not supported; use 'reduced'")
    if mode == "complete" and m > n:
        raise SpecError(f"mode='complete' on a {m}x{n} matrix adds {m - n} arbitrary columns "
                        "to Q, which have no derivative: use mode='reduced'")
    q, r = _qr(a)
    return r if mode == "r" else Results("qr", ("Q", "R"), (q, r))


def slogdet(ctx: Context, a: Any) -> Results:
    a = _square(to_float(ctx, a))
    return Results("slogdet", ("sign", "logabsdet"),
                   (apply("slogdet_sign", (a,)), apply("logabsdet", (a,))))


def pinv(ctx: Context, a: Any, rcond: Any = 1e-15, hermitian: Any = False) -> Node:
    a = _matrix(to_float(ctx, a))
    _no_hermitian(hermitian, "pinv of a symmetric matrix is the same without it")
    cutoff = number_arg("rcond", rcond)
    if not cutoff >= 0:
        raise SpecError(f"argument 'rcond' must be at least 0, got {cutoff}")
    return D.pinv(a, cutoff)


def matrix_power(ctx: Context, a: Any, n: Any) -> Node:
    """numpy.linalg.matrix_power: repeated squaring (about 2 log2 n products);
    n = 0 gives the identity (derivative 0), n < 0 powers of inv(a)."""
    (a,) = promote(ctx, a)
    _square(a)
    power = int_arg("n", n)
    if power == 0:
        eye = const(np.eye(a.shape[-1], dtype=a.dtype))
        return N.broadcast_to(eye, a.shape)
    if power < 0:
        a = L.inv(to_float(ctx, a))
        power = -power
    result, base = None, a
    while power:
        if power & 1:
            result = base if result is None else N.matmul(result, base)
        power >>= 1
        if power:
            base = N.matmul(base, base)
    assert result is not None
    return result


SINGULAR = "needs a nonsingular matrix"
SPECTRAL = ("at repeated eigenvalues (within sqrt(eps) * the largest |eigenvalue|) only "
            "functions symmetric in them have a gradient, and derivatives through the "
            "eigenvectors are refused: exit 2 with the gap and the tolerance")
SINGULAR_VALUES = ("at repeated singular values (and, for a non-square matrix, singular "
                   "values near 0) only functions symmetric in them have a gradient, and "
                   "derivatives through U or Vh are refused: exit 2 with the gap and the "
                   "tolerance; a singular value exactly 0 has derivative 0")

FUNCTIONS = [
    define("cholesky", cholesky, "lower Cholesky factor L, a = L @ L.T (numpy.linalg.cholesky;"
           " reads the lower triangle; upper=True: the upper factor from the upper triangle)",
           "needs a positive definite matrix (others give NaN); the unread triangle has "
           "derivative 0"),
    define("eigh", eigh, "eigenvalues (ascending) and eigenvectors of a symmetric matrix: "
           "eigh(a)[0] or .eigenvalues, eigh(a)[1] or .eigenvectors (reads the UPLO "
           "triangle); each eigenvector is signed to have a positive dot product with a fixed "
           "vector (see docs/spec.md), so signs may differ from numpy's", SPECTRAL),
    define("eigvalsh", eigvalsh, "eigenvalues (ascending) of a symmetric matrix "
           "(= eigh(a)[0])", SPECTRAL),
    define("svd", svd, "thin SVD a = U @ diag(S) @ Vh: svd(a, full_matrices=False)[0..2] "
           "or .U .S .Vh; compute_uv=False gives S; each column of U (and row of Vh) is "
           "signed as eigh's eigenvectors, so signs may differ from numpy's", SINGULAR_VALUES),
    define("svdvals", svdvals, "singular values, descending (= svd(a, compute_uv=False))",
           SINGULAR_VALUES),
    define("qr", qr, "reduced QR a = Q @ R: qr(a)[0] or .Q, qr(a)[1] or .R; mode='r' gives R;"
           " R's diagonal is made >= 0 (numpy's may be negative)",
           "needs the first min(m, n) columns independent (R nonsingular)"),
    define("slogdet", slogdet, "sign and log|det| without overflow: slogdet(a)[0] or .sign, "
           "slogdet(a)[1] or .logabsdet", SINGULAR + " (the sign has derivative 0)"),
    define("pinv", pinv, "Moore-Penrose pseudo-inverse; singular values <= rcond * the "
           "largest count as 0", "derivative at fixed rank (Golub & Pereyra 1973): exact "
           "where the rank does not change nearby (every full-rank matrix)"),
    define("matrix_power", matrix_power, "a @ a @ ... (n times; n = 0: identity; n < 0: "
           "powers of inv(a))", SINGULAR + " when n < 0"),
]
