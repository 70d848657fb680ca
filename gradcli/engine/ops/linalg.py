"""Linear-algebra primitives: matmul, inv, det, solve (einsum: `ops/einsum.py`).

Each derivative rule is written with these same primitives (a matmul's
cotangent is a matmul, inv's is a product with its own output), so
derivatives of any order stay inside this small family.  Operands follow
numpy's stacking convention: the last two axes are the matrix, leading axes
broadcast.  User-level conveniences (1-D operands of matmul/solve, `...` and
repeated letters in einsum) are rewritten by the catalogue before they get
here, so the rows only see the normalized forms and reject anything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import (
    add_all,
    batch_elementwise,
    like_infer,
    result_dtype,
    sym_matmul,
)
from gradcli.engine.ops.einsum import LETTERS, einsum, parse_einsum  # noqa: F401 - re-exported
from gradcli.engine.ops.row import Attrs, Into, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError

# ---- shared helpers ------------------------------------------------------------

def _float_dtype(inputs: tuple[Node, ...]) -> str:
    """Inverses and determinants are never integers: int operands give float64."""
    return next((x.dtype for x in inputs if x.is_float), "float64")


def _lead_shape(what: str, *shapes: Shape) -> Shape:
    """Broadcast shape of the stacking (leading) axes of matrix operands."""
    try:
        return tuple(np.broadcast_shapes(*(s[:-2] for s in shapes)))
    except ValueError:
        names = " and ".join(str(s) for s in shapes)
        raise ShapeError(f"{what}: the leading (stacking) axes of shapes {names} "
                         "do not broadcast together") from None


def _square(what: str, x: Node) -> None:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{what} needs square matrices in the last two axes, "
                         f"got shape {x.shape}")


def _nan_if_singular(fn: Any, *arrays: np.ndarray) -> np.ndarray:
    """`fn` (np.linalg.inv or solve) on stacks, with NaN for singular matrices.

    numpy raises for the whole stack when one matrix is singular; a singular
    matrix is a numeric fault of the user's values (reported as non-finite
    results), not a crash, so only the offending slices become NaN.
    """
    want = next((x.dtype for x in arrays if x.dtype.kind == "f"), np.dtype("float64"))
    try:
        out = np.asarray(fn(*arrays))
    except np.linalg.LinAlgError:
        lead = tuple(np.broadcast_shapes(*(x.shape[:-2] for x in arrays)))
        stacks = [np.broadcast_to(x, lead + x.shape[-2:]) for x in arrays]
        out = np.full(lead + arrays[-1].shape[-2:], np.nan, dtype=want)
        for index in np.ndindex(lead):
            try:
                out[index] = fn(*(x[index] for x in stacks))
            except np.linalg.LinAlgError:
                pass  # stays NaN
    return out if out.dtype == want else out.astype(want)


# ---- matmul --------------------------------------------------------------------

def _infer_matmul(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    a, b = inputs
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"matmul primitive needs operands of at least 2 dimensions, got "
                         f"shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not fit "
                         f"({a.shape[-1]} columns against {b.shape[-2]} rows)")
    lead = _lead_shape("matmul", a.shape, b.shape)
    return lead + (a.shape[-2], b.shape[-1]), result_dtype(inputs)


def _forward_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return like_infer(np.matmul(a, b), (a, b))


def _matmul_into(out: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    # The planner uses it only for operands of the result's dtype, where
    # like_infer above changes nothing: the same BLAS call, the same bits.
    np.matmul(a, b, out=out)


def _batch_matmul(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Any) -> Node:
    """Batched operand against a plain matrix: fold the batch into one GEMM
    (numpy runs a stack of matmuls as a loop of small ones; a Jacobian's
    basis is exactly such a stack)."""
    a, b = inputs
    if batched == (True, False) and b.ndim == 2:
        rows = N.reshape(a, (a.size // a.shape[-1], a.shape[-1]))
        return N.reshape(N.matmul(rows, b), a.shape[:-1] + (b.shape[-1],))
    if batched == (False, True) and a.ndim == 2:
        k, n = b.shape[-2], b.shape[-1]
        lead = b.shape[:-2]
        perm = (b.ndim - 2,) + tuple(range(b.ndim - 2)) + (b.ndim - 1,)
        cols = N.reshape(N.transpose(b, perm), (k, b.size // k))
        product = N.reshape(N.matmul(a, cols), (a.shape[0],) + lead + (n,))
        back = tuple(range(1, len(lead) + 1)) + (0, len(lead) + 1)
        return N.transpose(product, back)
    return batch_elementwise("matmul")(inputs, batched, attrs)


def _vjp_matmul(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a, b = out.inputs
    return (N.sum_to(N.matmul(g, N.swap_last(b)), a.shape) if needs[0] else None,
            N.sum_to(N.matmul(N.swap_last(a), g), b.shape) if needs[1] else None)


def _jvp_matmul(t: tuple[Node | None, ...], out: Node) -> Node | None:
    a, b = out.inputs
    terms = []
    if t[0] is not None:
        terms.append(N.matmul(t[0], b))
    if t[1] is not None:
        terms.append(N.matmul(a, t[1]))
    return add_all(terms)


# ---- inv, det ------------------------------------------------------------------

def _infer_inv(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    _square("inv", inputs[0])
    return inputs[0].shape, _float_dtype(inputs)


def _vjp_inv(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    yt = N.swap_last(out)
    return (N.neg(N.matmul(N.matmul(yt, g), yt)),)


def _jvp_inv(t: tuple[Node | None, ...], out: Node) -> Node | None:
    return None if t[0] is None else N.neg(N.matmul(N.matmul(out, t[0]), out))


def inv(a: Node) -> Node:
    return apply("inv", (a,))


def _infer_det(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    _square("det", inputs[0])
    return inputs[0].shape[:-2], _float_dtype(inputs)


def _vjp_det(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a = out.inputs[0]
    scale = N.reshape(N.mul(g, out), out.shape + (1, 1))  # broadcast over matrix axes
    return (N.mul(scale, N.swap_last(inv(a))),)


def _jvp_det(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    a = out.inputs[0]
    # d det = det * trace(inv(a) @ da), the trace as an elementwise sum.
    trace = N.reduce_sum(N.mul(N.swap_last(inv(a)), t[0]), (a.ndim - 2, a.ndim - 1))
    return N.mul(out, trace)


def det(a: Node) -> Node:
    return apply("det", (a,))


def _batch_unary(op: str):
    """inv/det act on the last two axes: a leading batch axis is one more stack axis."""
    return lambda ins, batched, attrs: apply(op, ins, attrs)


# ---- solve ---------------------------------------------------------------------

def _infer_solve(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    a, b = inputs
    _square("solve", a)
    if b.ndim < 2:
        raise ShapeError(f"solve primitive needs a right-hand side of at least 2 dimensions "
                         f"(..., n, k), got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"solve: a matrix of shape {a.shape} does not fit a right-hand "
                         f"side of shape {b.shape} ({a.shape[-1]} against {b.shape[-2]} rows)")
    lead = _lead_shape("solve", a.shape, b.shape)
    return lead + b.shape[-2:], _float_dtype(inputs)


def _forward_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # numpy >= 2 treats a b of 2+ dimensions as a stack of (n, k) matrices.
    return _nan_if_singular(np.linalg.solve, a, b)


def solve(a: Node, b: Node) -> Node:
    return apply("solve", (a, b))


def _vjp_solve(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a, b = out.inputs
    gb = solve(N.swap_last(a), g)  # full (broadcast) shape; summed to each operand's
    return (N.sum_to(N.neg(N.matmul(gb, N.swap_last(out))), a.shape) if needs[0] else None,
            N.sum_to(gb, b.shape) if needs[1] else None)


def _jvp_solve(t: tuple[Node | None, ...], out: Node) -> Node | None:
    a = out.inputs[0]
    ta, tb = t
    if ta is None and tb is None:
        return None
    rhs = tb
    if ta is not None:
        moved = N.neg(N.matmul(ta, out))
        rhs = moved if tb is None else N.add(tb, moved)
    return solve(a, rhs)


# ---- sympy lowering of inv, det, solve --------------------------------------------

def _matrix(array: np.ndarray) -> Any:
    import sympy

    return sympy.Matrix(np.asarray(array, dtype=object).tolist())


def _sym_inv(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=object)
    out = np.empty(a.shape, dtype=object)
    for index in np.ndindex(a.shape[:-2]):
        out[index] = np.array(_matrix(a[index]).inv().tolist(), dtype=object)
    return out


def _sym_det(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=object)
    out = np.empty(a.shape[:-2], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = _matrix(a[index]).det()
    return out


def _sym_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    lead = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = np.broadcast_to(a, lead + a.shape[-2:])
    b = np.broadcast_to(b, lead + b.shape[-2:])
    out = np.empty(b.shape, dtype=object)
    for index in np.ndindex(lead):
        out[index] = np.array(_matrix(a[index]).LUsolve(_matrix(b[index])).tolist(),
                              dtype=object)
    return out


SINGULAR = "needs a nonsingular matrix"

ROWS = [
    Primitive("matmul", _infer_matmul, _forward_matmul, _vjp_matmul, _jvp_matmul,
              # Otherwise matrix axes are trailing and stack axes broadcast from the
              # right, so aligning ranks as for elementwise ops is exactly right.
              _batch_matmul, sym_matmul,
              "matrix product of stacks of matrices (leading axes broadcast)",
              into=Into(_matmul_into)),
    Primitive("inv", _infer_inv, lambda a: _nan_if_singular(np.linalg.inv, a), _vjp_inv, _jvp_inv,
              _batch_unary("inv"), _sym_inv, "inverse of each matrix in the last two axes",
              SINGULAR),
    Primitive("det", _infer_det, lambda a: np.asarray(np.linalg.det(a)), _vjp_det, _jvp_det,
              _batch_unary("det"), _sym_det, "determinant of each matrix in the last two axes",
              SINGULAR + " for its derivative (uses inv)"),
    Primitive("solve", _infer_solve, _forward_solve, _vjp_solve, _jvp_solve,
              batch_elementwise("solve"), _sym_solve,
              "x with a @ x = b for stacks of (n, n) a and (n, k) b", SINGULAR),
]
