"""Products and matrix functions with numpy's conventions, rewritten onto
the linalg primitives (which only take stacks of matrices): 1-D operands are
reshaped, tensordot becomes one 2-D matmul, diagonals are strided slices of
the flattened matrix."""

from __future__ import annotations

from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import linalg as L
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import getitem
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import int_arg, int_sequence, one_axis
from gradcli.language.functions.context import Context, promote, to_float
from gradcli.language.functions.registry import define

SINGULAR = "needs a nonsingular matrix"


def matmul(ctx: Context, a: Any, b: Any) -> Node:
    """numpy.matmul: a 1-D a is a row (1, n), a 1-D b a column (n, 1); the
    added axis is removed from the result.  Leading axes broadcast."""
    a, b = promote(ctx, a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"0-d operands are not allowed (shapes {a.shape} and {b.shape}); "
                         "use * for scalars")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ShapeError(f"shapes {a.shape} and {b.shape} do not fit: {a.shape[-1]} columns "
                         f"against {inner_b} rows")
    a2 = N.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = N.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    out = N.matmul(a2, b2)
    if b.ndim == 1:
        out = N.reshape(out, out.shape[:-1])
    if a.ndim == 1:
        out = N.reshape(out, out.shape[:-2] + out.shape[-1:] if b.ndim > 1 else out.shape[:-1])
    return out


def _tensordot(a: Node, b: Node, axes_a: list[int], axes_b: list[int]) -> Node:
    """Contract axes_a of a with axes_b of b as one (M, K) @ (K, N) matmul."""
    for i, j in zip(axes_a, axes_b):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"axis {i} of shape {a.shape} (size {a.shape[i]}) does not match "
                             f"axis {j} of shape {b.shape} (size {b.shape[j]})")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    shape_a = tuple(a.shape[i] for i in free_a)
    shape_b = tuple(b.shape[j] for j in free_b)
    k = 1
    for i in axes_a:
        k *= a.shape[i]
    m = 1
    for d in shape_a:
        m *= d
    n = 1
    for d in shape_b:
        n *= d
    a2 = N.reshape(N.transpose(a, free_a + axes_a), (m, k))
    b2 = N.reshape(N.transpose(b, axes_b + free_b), (k, n))
    return N.reshape(N.matmul(a2, b2), shape_a + shape_b)


def tensordot(ctx: Context, a: Any, b: Any, axes: Any = 2) -> Node:
    a, b = promote(ctx, a, b)
    if isinstance(axes, (list, tuple)):
        if len(axes) != 2:
            raise SpecError("argument 'axes' must be an integer or a pair (axes of a, axes of b)"
                            f", got {axes!r}")
        axes_a = [one_axis("axes", i, a.ndim) for i in int_sequence("axes", axes[0])]
        axes_b = [one_axis("axes", j, b.ndim) for j in int_sequence("axes", axes[1])]
        if len(axes_a) != len(axes_b):
            raise ShapeError(f"axes {axes!r} name {len(axes_a)} axes of a but {len(axes_b)} "
                             "of b")
        if len(set(axes_a)) != len(axes_a) or len(set(axes_b)) != len(axes_b):
            raise ShapeError(f"axes {axes!r} repeat an axis")
    else:
        count = int_arg("axes", axes, minimum=0)
        if count > a.ndim or count > b.ndim:
            raise ShapeError(f"axes={count} is more than the dimensions of shapes {a.shape} "
                             f"and {b.shape}")
        axes_a = list(range(a.ndim - count, a.ndim))
        axes_b = list(range(count))
    return _tensordot(a, b, axes_a, axes_b)


def dot(ctx: Context, a: Any, b: Any) -> Node:
    """numpy.dot: a product with a scalar, an inner product of vectors, a
    matrix product, or the sum over a's last and b's second-to-last axis."""
    a, b = promote(ctx, a, b)
    if a.ndim == 0 or b.ndim == 0:
        return N.mul(a, b)
    if b.ndim == 1 or a.ndim == 1 or (a.ndim == 2 and b.ndim == 2):
        return matmul(ctx, a, b)
    return _tensordot(a, b, [a.ndim - 1], [b.ndim - 2])


def outer(ctx: Context, a: Any, b: Any) -> Node:
    a, b = promote(ctx, a, b)
    return N.mul(N.reshape(a, (a.size, 1)), N.reshape(b, (1, b.size)))


def diagonal_slice(n: int, m: int, k: int) -> tuple[slice, int]:
    """The k-th diagonal of a row-major (n, m) matrix as one slice of its
    flattened elements, and its length."""
    count = max(0, min(n, m - k)) if k >= 0 else max(0, min(n + k, m))
    start = k if k >= 0 else -k * m
    if count == 0:
        return slice(0, 0), 0
    return slice(start, start + (count - 1) * (m + 1) + 1, m + 1), count


def diagonal(x: Node, k: int, axis1: int, axis2: int) -> Node:
    """numpy.diagonal: the diagonal becomes the last axis."""
    rest = [i for i in range(x.ndim) if i not in (axis1, axis2)]
    n, m = x.shape[axis1], x.shape[axis2]
    lead = tuple(x.shape[i] for i in rest)
    flat = N.reshape(N.transpose(x, rest + [axis1, axis2]), lead + (n * m,))
    index, _ = diagonal_slice(n, m, k)
    return getitem(flat, (Ellipsis, index))


def trace(ctx: Context, x: Any, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Node:
    (x,) = promote(ctx, x)
    if x.ndim < 2:
        raise ShapeError(f"needs at least 2 dimensions, got shape {x.shape}")
    ax1, ax2 = one_axis("axis1", axis1, x.ndim), one_axis("axis2", axis2, x.ndim)
    if ax1 == ax2:
        raise ShapeError("axis1 and axis2 must be different axes")
    d = diagonal(x, int_arg("offset", offset), ax1, ax2)
    return N.reduce_sum(d, (d.ndim - 1,))


def place_diagonal(v: Node, base: Node, k: int) -> Node:
    """A copy of the (n, m) matrix `base` with v on its k-th diagonal."""
    n, m = base.shape
    index, count = diagonal_slice(n, m, k)
    flat = N.reshape(base, (n * m,))
    if count:
        flat = apply("setitem", (flat, v), {"index": (index,)})
    return N.reshape(flat, (n, m))


def diag(ctx: Context, v: Any, k: Any = 0) -> Node:
    """numpy.diag both ways: 1-D -> matrix with v on diagonal k, 2-D -> diagonal k."""
    (v,) = promote(ctx, v)
    k = int_arg("k", k)
    if v.ndim == 2:
        return diagonal(v, k, 0, 1)
    if v.ndim != 1:
        raise ShapeError(f"needs a 1-D array (to build a matrix) or a 2-D array (to take "
                         f"its diagonal), got shape {v.shape}")
    n = v.shape[0] + abs(k)
    return place_diagonal(v, N.fill(0.0, (n, n), v.dtype), k)


def _square(x: Node) -> None:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"needs a square matrix (or a stack of them) in the last two axes, "
                         f"got shape {x.shape}")


def det(ctx: Context, a: Any) -> Node:
    a = to_float(ctx, a)
    _square(a)
    return L.det(a)


def inv(ctx: Context, a: Any) -> Node:
    a = to_float(ctx, a)
    _square(a)
    return L.inv(a)


def solve(ctx: Context, a: Any, b: Any) -> Node:
    """numpy >= 2: a 1-D b is one right-hand side; otherwise b is a stack of
    (n, k) right-hand sides."""
    a, b = promote(ctx, to_float(ctx, a), b)
    _square(a)
    if b.ndim == 0:
        raise ShapeError("the right-hand side b must have at least 1 dimension")
    rows = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if rows != a.shape[-1]:
        raise ShapeError(f"a matrix of shape {a.shape} does not fit a right-hand side of shape "
                         f"{b.shape} ({a.shape[-1]} against {rows} rows)")
    if b.ndim > 1:
        return L.solve(a, b)
    out = L.solve(a, N.reshape(b, b.shape + (1,)))
    return N.reshape(out, out.shape[:-1])


FUNCTIONS = [
    define("matmul", matmul, "matrix product (numpy.matmul: 1-D operands, stacks broadcast)"),
    define("dot", dot, "numpy.dot: inner product of vectors, matrix product, or a sum over "
           "a's last and b's second-to-last axis"),
    define("tensordot", tensordot, "sum over pairs of axes (axes=n: a's last n with b's first "
           "n; or (axes_a, axes_b))"),
    define("outer", outer, "outer product of the flattened operands"),
    define("trace", trace, "sum of the diagonal (axis1, axis2, offset as numpy)"),
    define("diag", diag, "1-D: a matrix with v on diagonal k; 2-D: its diagonal k"),
    define("det", det, "determinant of a square matrix (or each of a stack)", SINGULAR +
           " for its derivative (d det = det * inv(a).T)"),
    define("inv", inv, "inverse of a square matrix (or each of a stack)", SINGULAR),
    define("solve", solve, "x with a @ x = b (numpy.linalg.solve; b may be 1-D)", SINGULAR),
]
