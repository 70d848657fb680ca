"""Linear-algebra primitives: matmul, einsum, inv, det, solve.

Each derivative rule is written with these same primitives (a matmul's
cotangent is a matmul, inv's is a product with its own output), so
derivatives of any order stay inside this small family.  Operands follow
numpy's stacking convention: the last two axes are the matrix, leading axes
broadcast.  User-level conveniences (1-D operands of matmul/solve, `...` and
repeated letters in einsum) are rewritten by the catalogue before they get
here, so the rows only see the normalized forms and reject anything else.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.errors import ShapeError
from gradcli.graph import Node, Shape, apply
from gradcli.ops import nodes as N
from gradcli.ops.common import batch_elementwise, result_dtype, sym_numpy
from gradcli.ops.row import Attrs, Primitive

LETTERS = string.ascii_letters  # the subscripts numpy's einsum accepts


# ---- shared helpers ------------------------------------------------------------

def _float_dtype(inputs: tuple[Node, ...]) -> str:
    """Inverses and determinants are never integers: int operands give float64."""
    return next((x.dtype for x in inputs if x.is_float), "float64")


def _like_infer(value: Any, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Give a numpy result the dtype `result_dtype` promised (numpy promotes
    int64 @ float32 to float64; a float32 problem must stay float32)."""
    value = np.asarray(value)
    if value.dtype == arrays[0].dtype == arrays[-1].dtype:
        return value  # the common case: operands of the problem's own dtype
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    want = floats[0] if floats else arrays[0].dtype
    return value if value.dtype == want else value.astype(want)


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


def _add_all(terms: list[Node]) -> Node | None:
    return None if not terms else terms[0] if len(terms) == 1 else N.add(terms[0],
                                                                          _add_all(terms[1:]))


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
    return _like_infer(np.matmul(a, b), (a, b))


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
    return _add_all(terms)


# ---- einsum --------------------------------------------------------------------

def parse_einsum(subscripts: Any, shapes: Sequence[Shape]) -> tuple[list[str], str]:
    """Check a normalized einsum string against the operand shapes and return
    (operand terms, output term).  Normalized means explicit `->`, letters
    only, no letter twice in one term, the same size wherever a letter occurs."""
    if not isinstance(subscripts, str) or subscripts.count("->") != 1:
        raise ShapeError(f"einsum subscripts {subscripts!r} must have exactly one '->'")
    if "." in subscripts:
        raise ShapeError(f"einsum subscripts {subscripts!r}: '...' must be expanded "
                         "before the primitive")
    lhs, target = subscripts.split("->")
    terms = lhs.split(",")
    if not shapes or len(terms) != len(shapes):
        raise ShapeError(f"einsum subscripts {subscripts!r} name {len(terms)} operand(s) "
                         f"but {len(shapes)} were given")
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        _check_term(subscripts, term, f"operand {k}")
        if len(term) != len(shape):
            raise ShapeError(f"einsum {subscripts!r}: operand {k} has shape {shape} but "
                             f"subscripts '{term}' name {len(term)} axes")
        for letter, size in zip(term, shape, strict=True):
            if sizes.setdefault(letter, size) != size:
                raise ShapeError(f"einsum {subscripts!r}: letter '{letter}' has size "
                                 f"{sizes[letter]} and {size} (operand {k}, shape {shape})")
    _check_term(subscripts, target, "the output")
    missing = [c for c in target if c not in sizes]
    if missing:
        raise ShapeError(f"einsum {subscripts!r}: output letter(s) {''.join(missing)} "
                         "appear in no operand")
    return terms, target


def _check_term(subscripts: str, term: str, what: str) -> None:
    bad = [c for c in term if c not in LETTERS]
    if bad:
        raise ShapeError(f"einsum {subscripts!r}: {what} uses {''.join(bad)!r}; "
                         "only letters a-z, A-Z are subscripts")
    if len(set(term)) != len(term):
        raise ShapeError(f"einsum {subscripts!r}: {what} repeats a letter in '{term}' "
                         "(diagonals must be taken before the primitive)")


def _einsum_shape(subscripts: str, inputs: Sequence[Node]) -> Shape:
    terms, target = parse_einsum(subscripts, [x.shape for x in inputs])
    sizes = {c: d for term, x in zip(terms, inputs, strict=True)
             for c, d in zip(term, x.shape, strict=True)}
    return tuple(sizes[c] for c in target)


def _infer_einsum(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return _einsum_shape(attrs.get("subscripts"), inputs), result_dtype(inputs)


def _forward_einsum(*arrays: np.ndarray, subscripts: str) -> np.ndarray:
    # Contraction-order search only pays off from three operands on.
    return _like_infer(np.einsum(subscripts, *arrays, optimize=len(arrays) > 2), arrays)


def einsum(subscripts: str, *operands: Node) -> Node:
    """Build an einsum node; a single operand becomes a sum and/or transpose,
    the ops whose derivatives need no einsum at all."""
    if len(operands) != 1:
        return apply("einsum", operands, {"subscripts": subscripts})
    (x,) = operands
    (term,), target = parse_einsum(subscripts, [x.shape])
    summed = tuple(i for i, c in enumerate(term) if c not in target)
    rest = [c for c in term if c in target]
    return N.transpose(N.reduce_sum(x, summed), [rest.index(c) for c in target])


def _vjp_einsum(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    terms, target = parse_einsum(out.attrs["subscripts"], [x.shape for x in out.inputs])
    grads: list[Node | None] = []
    for k, (x, need) in enumerate(zip(out.inputs, needs, strict=True)):
        if not need:
            grads.append(None)
            continue
        others = [t for j, t in enumerate(terms) if j != k]
        seen = set(target).union(*others)
        # Letters of operand k found nowhere else were summed in operand k
        # alone: the derivative does not depend on them, so it is broadcast.
        kept = "".join(c for c in terms[k] if c in seen)
        part = einsum(",".join([target] + others) + "->" + kept, g,
                      *(y for j, y in enumerate(out.inputs) if j != k))
        kept_shape = tuple(d if c in seen else 1 for c, d in zip(terms[k], x.shape, strict=True))
        grads.append(N.broadcast_to(N.reshape(part, kept_shape), x.shape))
    return tuple(grads)


def _jvp_einsum(t: tuple[Node | None, ...], out: Node) -> Node | None:
    terms = []
    for k, tk in enumerate(t):
        if tk is not None:
            ops = list(out.inputs)
            ops[k] = tk
            terms.append(einsum(out.attrs["subscripts"], *ops))
    return _add_all(terms)


def _batch_einsum(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    subscripts = attrs["subscripts"]
    fresh = next((c for c in LETTERS if c not in subscripts), None)
    if fresh is None:
        raise ShapeError(f"einsum {subscripts!r} uses all 52 letters: no letter is left "
                         "for a batch axis")
    lhs, target = subscripts.split("->")
    terms = [fresh + t if b else t for t, b in zip(lhs.split(","), batched, strict=True)]
    return einsum(",".join(terms) + "->" + fresh + target, *inputs)


def _sym_einsum(*arrays: np.ndarray, subscripts: str) -> np.ndarray:
    import sympy

    # numpy's einsum multiplies and adds object arrays (sympy expressions);
    # an empty sum gives the int 0, which is made a sympy number here.
    value = np.einsum(subscripts, *(np.asarray(a, dtype=object) for a in arrays),
                      optimize=len(arrays) > 2)
    out = np.asarray(value, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sympy.sympify(out[index])
    return out


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
              _batch_matmul, sym_numpy(np.matmul),
              "matrix product of stacks of matrices (leading axes broadcast)"),
    Primitive("einsum", _infer_einsum, _forward_einsum, _vjp_einsum, _jvp_einsum,
              _batch_einsum, _sym_einsum,
              "Einstein summation with explicit, normalized subscripts ('ij,jk->ik')"),
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
