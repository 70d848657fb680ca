"""Builders for the matrix algebra that decomposition rules are written in:
triangles, diagonals, column/row scalings, the symmetric matrix that
numpy's UPLO='L' routines read and its adjoint.

Like `nodes.py`, these only build primitive nodes (where, matmul, getitem,
...), so every derivative written with them can be differentiated again.
Masks are small boolean constants of the matrix shape; leading (stacking)
axes broadcast against them.
"""

from __future__ import annotations

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.table import apply


def triangle_mask(n: int, m: int, k: int, lower: bool) -> np.ndarray:
    """numpy's tril (lower) or triu mask of an (n, m) matrix, diagonal k."""
    return np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)


def tril(x: Node, k: int = 0) -> Node:
    """numpy.tril over the last two axes: where(mask, x, 0), so infinities
    above the triangle give 0 (as numpy) and the derivative is the same mask."""
    mask = triangle_mask(x.shape[-2], x.shape[-1], k, True)
    return N.where(const(mask), x, N.scalar(0.0, x))


def triu(x: Node, k: int = 0) -> Node:
    mask = triangle_mask(x.shape[-2], x.shape[-1], k, False)
    return N.where(const(mask), x, N.scalar(0.0, x))


def sym_lower(x: Node) -> Node:
    """The symmetric matrix a UPLO='L' LAPACK routine sees: the lower triangle
    of x mirrored (numpy's cholesky, eigh and eigvalsh read nothing else)."""
    return N.add(tril(x), N.swap_last(tril(x, -1)))


def fold_lower(s: Node) -> Node:
    """The adjoint of `sym_lower`: <s, sym_lower(t)> = <fold_lower(s), t> for
    every t, so a gradient s with respect to the symmetric matrix becomes the
    gradient with respect to the input (the upper triangle gets 0, the
    strict lower triangle gets s_ij + s_ji)."""
    return N.add(tril(s), N.swap_last(triu(s, 1)))


def eye_mask(n: int) -> Node:
    return const(np.eye(n, dtype=bool))


def diag_part(x: Node) -> Node:
    """The diagonal of each matrix in the last two (square) axes, shape (..., n)."""
    n = x.shape[-1]
    flat = N.reshape(x, x.shape[:-2] + (n * n,))
    return apply("getitem", (flat,), {"index": (Ellipsis, slice(0, n * n, n + 1))})


def scale_cols(x: Node, v: Node) -> Node:
    """x @ diag(v) without forming diag(v): column j times v_j."""
    return N.mul(x, N.reshape(v, v.shape[:-1] + (1, v.shape[-1])))


def column(v: Node) -> Node:
    """(..., n) -> (..., n, 1): v_i in row i, to broadcast against matrices."""
    return N.reshape(v, v.shape + (1,))


def row(v: Node) -> Node:
    """(..., n) -> (..., 1, n): v_j in column j."""
    return N.reshape(v, v.shape[:-1] + (1, v.shape[-1]))


def safe_reciprocal(x: Node, keep: Node) -> Node:
    """1/x where `keep`, exactly 0 elsewhere; 1/0 is never formed, so no
    inf reaches a derivative (the double where of the 2-norm)."""
    one, zero = N.scalar(1.0, x), N.scalar(0.0, x)
    return N.where(keep, N.reciprocal(N.where(keep, x, one)), zero)


def identity_minus(p: Node) -> Node:
    """I - p for a square (..., n, n) p."""
    n = p.shape[-1]
    return N.sub(const(np.eye(n, dtype=p.dtype)), p)


def swap(x: Node) -> Node:
    return N.swap_last(x)


def mm(*xs: Node) -> Node:
    """A chain of matrix products, left to right."""
    out = xs[0]
    for x in xs[1:]:
        out = N.matmul(out, x)
    return out
