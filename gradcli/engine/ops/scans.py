"""Scans and order along one axis: cumsum, cumprod, a first-order linear
recurrence (the derivative of cumprod), sort and argsort.

cumprod's derivatives never divide by the input: the tangent and the
cotangent of c_k = c_{k-1} x_k are themselves linear recurrences
(`linrec`), so they are exact where x holds zeros (d c_k / d x_j is the
product of the other factors, which a quotient c_k / x_j would make nan).
sort's derivative is the permutation of a stable argsort: a gather forward,
a scatter backwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape, const
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import add_all, result_dtype, sym_numpy
from gradcli.engine.ops.gather import gather, scatter_add
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import NoSymbolicForm, ShapeError


def _shifted_axis(attrs: Attrs) -> dict[str, Any]:
    return {**attrs, "axis": attrs["axis"] + 1}


def _lift(x: Node, batched: bool, size: int) -> Node:
    return x if batched else N.broadcast_to(N.reshape(x, (1,) + x.shape), (size,) + x.shape)


def shift(x: Node, axis: int, step: int, value: float) -> Node:
    """x moved one place along `axis` (step +1: towards higher indices),
    the vacated place filled with `value`: the k-th element becomes x[k-1]
    (step +1) or x[k+1] (step -1)."""
    n = x.shape[axis]
    if n == 0:
        return x
    keep = slice(0, n - 1) if step > 0 else slice(1, n)
    part = apply("getitem", (x,), {"index": (slice(None),) * axis + (keep,)})
    widths = tuple(((1, 0) if step > 0 else (0, 1)) if a == axis else (0, 0)
                   for a in range(x.ndim))
    return apply("pad", (part,), {"widths": widths, "value": value})


# ---- cumsum -----------------------------------------------------------------------

def _forward_cumsum(x: np.ndarray, *, axis: int, reverse: bool) -> np.ndarray:
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
    return np.cumsum(x, axis=axis)


def cumsum(x: Node, axis: int, reverse: bool = False) -> Node:
    return apply("cumsum", (x,), {"axis": axis, "reverse": reverse})


def _infer_axis(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x = inputs[0]
    if not 0 <= attrs["axis"] < x.ndim:
        raise ShapeError(f"axis {attrs['axis']} does not fit shape {x.shape}")
    return x.shape, x.dtype


# ---- cumprod ------------------------------------------------------------------------

def _exclusive(out: Node) -> Node:
    """The products before each element: 1, c_0, c_1, ... (no division)."""
    return shift(out, out.attrs["axis"], +1, 1.0)


def _vjp_cumprod(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    # d c_k / d x_j = E_j * x_{j+1} * ... * x_k for k >= j (E: exclusive products),
    # so the cotangent is E_j * S_j with S_j = g_j + x_{j+1} S_{j+1}.
    x, axis = out.inputs[0], out.attrs["axis"]
    s = linrec(shift(x, axis, -1, 0.0), g, axis, reverse=True)
    return (N.mul(_exclusive(out), s),)


def _jvp_cumprod(t: tuple[Node | None, ...], out: Node) -> Node | None:
    # d c_k = x_k d c_{k-1} + c_{k-1} t_k
    if t[0] is None:
        return None
    return linrec(out.inputs[0], N.mul(_exclusive(out), t[0]), out.attrs["axis"])


# ---- linrec: h_k = a_k h_{k-1} + b_k ----------------------------------------------

def linrec(a: Node, b: Node, axis: int, reverse: bool = False) -> Node:
    return apply("linrec", (a, b), {"axis": axis, "reverse": reverse})


def _infer_linrec(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    a, b = inputs
    if a.shape != b.shape:
        raise ShapeError(f"linrec operands must have one shape, got {a.shape} and {b.shape}")
    return _infer_axis(inputs, attrs)[0], result_dtype(inputs)


def _forward_linrec(a: np.ndarray, b: np.ndarray, *, axis: int, reverse: bool) -> np.ndarray:
    """h_k = a_k h_{k-1} + b_k with h_{-1} = 0 (reverse: h_k = a_k h_{k+1} + b_k,
    h_n = 0).  The first element is b alone: a there multiplies nothing, so
    an inf in it cannot make 0 * inf.  Works on object arrays (sympy) too."""
    a_m, b_m = np.moveaxis(np.asarray(a), axis, 0), np.moveaxis(np.asarray(b), axis, 0)
    out = np.empty(b_m.shape, dtype=np.result_type(a_m, b_m))
    order = range(len(b_m) - 1, -1, -1) if reverse else range(len(b_m))
    previous = None
    for k in order:
        previous = b_m[k] if previous is None else a_m[k] * previous + b_m[k]
        out[k] = previous
    return np.moveaxis(out, 0, axis)


def _vjp_linrec(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    a, _ = out.inputs
    axis, reverse = out.attrs["axis"], out.attrs["reverse"]
    step = 1 if reverse else -1  # where the next state's coefficient comes from
    lam = linrec(shift(a, axis, step, 0.0), g, axis, reverse=not reverse)
    ga = N.mul(lam, shift(out, axis, -step, 0.0)) if needs[0] else None
    return ga, (lam if needs[1] else None)


def _jvp_linrec(t: tuple[Node | None, ...], out: Node) -> Node | None:
    a, _ = out.inputs
    axis, reverse = out.attrs["axis"], out.attrs["reverse"]
    terms = []
    if t[0] is not None:
        terms.append(N.mul(t[0], shift(out, axis, -1 if reverse else 1, 0.0)))
    if t[1] is not None:
        terms.append(t[1])
    drive = add_all(terms)
    return None if drive is None else linrec(a, N.broadcast_to(drive, out.shape), axis, reverse)


def _batch_linrec(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    size = next(x.shape[0] for x, b in zip(inputs, batched) if b)
    a, b = (_lift(x, f, size) for x, f in zip(inputs, batched))
    return apply("linrec", (a, b), _shifted_axis(attrs))


# ---- sort, argsort ----------------------------------------------------------------------

def argsort(x: Node, axis: int) -> Node:
    return apply("argsort", (x,), {"axis": axis})


def along_axis(perm: Node, axis: int) -> tuple[Node, ...]:
    """Index arrays selecting perm[..., k, ...] along `axis` and every
    other axis in place (numpy's take_along_axis), for gather/scatter."""
    out = []
    for d, n in enumerate(perm.shape):
        if d == axis:
            out.append(perm)
        else:
            shape = tuple(n if e == d else 1 for e in range(perm.ndim))
            out.append(const(np.arange(n, dtype=np.int64).reshape(shape)))
    return tuple(out)


def _vjp_sort(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x, axis = out.inputs[0], out.attrs["axis"]
    return (scatter_add(N.zeros_like(x), along_axis(argsort(x, axis), axis), g),)


def _jvp_sort(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    x, axis = out.inputs[0], out.attrs["axis"]
    return gather(t[0], *along_axis(argsort(x, axis), axis))


def _no_sympy_sort(x: np.ndarray, *, axis: int) -> np.ndarray:
    # Ranks as sums of Piecewise comparisons are a closed form, but sympy
    # needs minutes to build one for 8 elements: no sympy rule, so `check`
    # compares sort with finite differences only.
    raise NoSymbolicForm("sort and argsort have no symbolic form (sympy has no sort); "
                         "check compares them with finite differences")


def _infer_argsort(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return _infer_axis(inputs, attrs)[0], "int64"


def _batch_axis(op: str):
    return lambda ins, b, at: apply(op, ins, _shifted_axis(at))


ROWS = [
    Primitive("cumsum", _infer_axis, _forward_cumsum,
              lambda g, out, needs: (cumsum(g, out.attrs["axis"], not out.attrs["reverse"]),),
              lambda t, out: None if t[0] is None else cumsum(t[0], out.attrs["axis"],
                                                                out.attrs["reverse"]),
              _batch_axis("cumsum"), sym_numpy(_forward_cumsum),
              "running sums along an axis (reverse=True: from the end); its vjp is the "
              "reverse running sum"),
    Primitive("cumprod", _infer_axis, lambda x, *, axis: np.cumprod(x, axis=axis),
              _vjp_cumprod, _jvp_cumprod, _batch_axis("cumprod"),
              sym_numpy(lambda x, *, axis: np.cumprod(x, axis=axis)),
              "running products along an axis",
              "derivatives are the products of the other factors, exact where x has zeros "
              "(no division)"),
    Primitive("linrec", _infer_linrec, _forward_linrec, _vjp_linrec, _jvp_linrec,
              _batch_linrec, sym_numpy(_forward_linrec),
              "first-order linear recurrence h[k] = a[k] * h[k-1] + b[k] along an axis, "
              "h[-1] = 0 (reverse=True: from the end); the derivatives of cumprod"),
    Primitive("sort", _infer_axis,
              lambda x, *, axis: np.sort(x, axis=axis, kind="stable"),
              _vjp_sort, _jvp_sort, _batch_axis("sort"), _no_sympy_sort,
              "values sorted along an axis (ascending); no sympy form (sympy has no sort), "
              "so check uses finite differences",
              "the derivative follows the permutation of a stable sort: tied elements keep "
              "their input order, so the k-th of equal values gets the derivative of the "
              "k-th of their output places"),
    Primitive("argsort", _infer_argsort,
              lambda x, *, axis: np.argsort(x, axis=axis, kind="stable"),
              None, None, _batch_axis("argsort"), _no_sympy_sort,
              "positions that sort an array along an axis (stable; int64)",
              "integer-valued: no derivative"),
]
