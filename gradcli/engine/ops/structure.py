"""Primitives that move, select, reduce or create elements: no arithmetic
beyond sums, so their derivatives are other structural ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Index, Node, Shape, format_index, named
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import (
    batch_elementwise,
    infer_elementwise,
    infer_same,
    result_dtype,
    sym_add_over,
    sym_elementwise,
    sym_numpy,
)
from gradcli.engine.ops.row import Attrs, Into, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError

_INT64 = (-(1 << 63), (1 << 63) - 1)


def selected_shape(shape: Shape, index: Index) -> Shape:
    """Shape of x[index] computed on a zero-stride view, so nothing is allocated."""
    if any(type(i) is int and not _INT64[0] <= i <= _INT64[1] for i in index):
        raise ShapeError(f"index {format_index(index)} does not fit shape {shape}: an "
                         "integer index beyond int64 is out of range for every axis")
    try:
        return np.broadcast_to(np.empty((), dtype=bool), shape)[index].shape
    except IndexError as exc:
        raise ShapeError(f"index {format_index(index)} does not fit shape {shape}: {exc}") \
            from None
    except (OverflowError, ValueError) as exc:  # a slice bound numpy cannot take
        raise ShapeError(f"index {format_index(index)} does not fit shape {shape}: {exc}") \
            from None


def _batched_index(index: Index) -> Index:
    return (slice(None),) + tuple(index)


def _lift(x: Node, batched: bool, size: int) -> Node:
    """Give an unbatched operand a batch axis (for ops that need one on all)."""
    return x if batched else N.broadcast_to(N.reshape(x, (1,) + x.shape), (size,) + x.shape)


def _batch_size(inputs: tuple[Node, ...], batched: tuple[bool, ...]) -> int:
    return next(x.shape[0] for x, b in zip(inputs, batched) if b)


def _align_value(v: Node, batched: bool, target: Shape) -> Node:
    """Reshape a batched value so it broadcasts against a batched selection."""
    if not batched or v.ndim - 1 >= len(target):
        return v
    return N.reshape(v, (v.shape[0],) + (1,) * (len(target) - v.ndim + 1) + v.shape[1:])


# ---- creation, conversion ----------------------------------------------------

def _infer_fill(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return attrs["shape"], attrs["dtype"]


def _forward_fill(*, value: float, shape: Shape, dtype: str) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


def _no_batch(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    raise AssertionError("an op without inputs is never batched")  # pragma: no cover


def _vjp_cast(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    # Only float -> float carries a derivative; a cast to an integer (or bool)
    # truncates, which is piecewise constant.
    x = out.inputs[0]
    return (N.cast(g, x.dtype) if x.is_float and out.is_float else None,)


def _jvp_cast(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None or not (out.inputs[0].is_float and out.is_float):
        return None
    return N.cast(t[0], out.dtype)


# ---- reshapes ------------------------------------------------------------------

def _infer_reshape(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x = inputs[0]
    shape = attrs["shape"]
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"cannot reshape an array of shape {x.shape} into {shape}")
    return shape, x.dtype


def _infer_broadcast(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, shape = inputs[0], attrs["shape"]
    try:
        if tuple(np.broadcast_shapes(x.shape, shape)) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"cannot broadcast shape {x.shape} to {shape}") from None
    return shape, x.dtype


def _infer_transpose(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, perm = inputs[0], attrs["perm"]
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"axes {perm} are not a permutation of the {x.ndim} axes of {x.shape}")
    return tuple(x.shape[p] for p in perm), x.dtype


def _inverse_perm(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


# ---- reductions ----------------------------------------------------------------

def _infer_reduce(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x = inputs[0]
    return N.dropped_shape(x.shape, attrs["axes"]), x.dtype


def _forward_sum(x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
    return np.sum(x, axis=axes)


def _forward_max(x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
    return np.max(x, axis=axes)


def _sum_into(out: np.ndarray, x: np.ndarray, *, axes: tuple[int, ...]) -> None:
    np.sum(x, axis=axes, out=out)


def _max_into(out: np.ndarray, x: np.ndarray, *, axes: tuple[int, ...]) -> None:
    np.max(x, axis=axes, out=out)


def _fill_into(out: np.ndarray, *, value: float, shape: Shape, dtype: str) -> None:
    out.fill(value)


def _max_weights(out: Node) -> Node:
    """d max / d x: 1/count on the elements equal to the maximum (ties split)."""
    x, axes = out.inputs[0], out.attrs["axes"]
    hit = N.mask(N.compare("eq", x, N.expand_to(out, x.shape, axes)), x)
    count = N.reduce_sum(hit, axes, keepdims=True)
    return N.mul(hit, N.reciprocal(count))


def _shift_axes(attrs: Attrs) -> dict[str, Any]:
    return {**attrs, "axes": tuple(a + 1 for a in attrs["axes"])}


def _sym_max(x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
    import sympy

    moved = np.moveaxis(np.asarray(x, dtype=object), axes, range(-len(axes), 0))
    flat = moved.reshape(moved.shape[: moved.ndim - len(axes)] + (-1,))
    out = np.empty(flat.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = _max_tree(sympy, list(flat[index]))
    return out


def _max_tree(sympy: Any, items: list[Any]) -> Any:
    """Max of many as a balanced tree of unevaluated two-argument Maxes.

    sympy's own Max(a, b, c, ...) compares its arguments symbolically
    (factor_terms on every pair), when built and again in every derivative
    (d Max = Heaviside(a - Max(others))): seconds per element for a max
    pool over tanh(conv(x)).  Two arguments at a time, its derivative is
    Heaviside(a - b) with nothing to compare; numbers substituted evaluate
    it.  (A two-way tie gets 1/2 each, as the engine; wider exact ties
    split unevenly here, a measure-zero case `check` never samples.)"""
    while len(items) > 1:
        items = [sympy.Max(items[i], items[i + 1], evaluate=False) if i + 1 < len(items)
                 else items[i] for i in range(0, len(items), 2)]
    return items[0]


# ---- indexing --------------------------------------------------------------------

def _infer_getitem(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return selected_shape(inputs[0].shape, attrs["index"]), inputs[0].dtype


def _infer_update(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, v = inputs
    target = selected_shape(x.shape, attrs["index"])
    try:
        np.broadcast_shapes(v.shape, target)
        if len(v.shape) > len(target):
            raise ValueError
    except ValueError:
        raise ShapeError(f"a value of shape {v.shape} does not fit x{format_index(attrs['index'])}"
                         f" of shape {target}") from None
    return x.shape, result_dtype(inputs)


def _forward_getitem(x: np.ndarray, *, index: Index) -> np.ndarray:
    return x[index]


def _forward_setitem(x: np.ndarray, v: np.ndarray, *, index: Index) -> np.ndarray:
    out = np.array(x, dtype=np.result_type(x, v))
    out[index] = v
    return out


def _forward_addat(x: np.ndarray, v: np.ndarray, *, index: Index) -> np.ndarray:
    out = np.array(x, dtype=np.result_type(x, v))
    out[index] += v
    return out


def getitem(x: Node, index: Index) -> Node:
    return apply("getitem", (x,), {"index": tuple(index)})


def _vjp_getitem(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x = out.inputs[0]
    return (apply("addat", (N.zeros_like(x), g), {"index": out.attrs["index"]}),)


def _vjp_update(kind: str):
    def vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
        x, v = out.inputs
        index = out.attrs["index"]
        if kind == "setitem" and needs[0]:
            gx = apply("setitem", (g, N.scalar(0.0, g)), {"index": index})
        else:
            gx = g if needs[0] else None
        gv = N.sum_to(getitem(g, index), v.shape) if needs[1] else None
        return gx, gv

    return vjp


def _jvp_update(kind: str):
    def jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
        tx, tv = t
        if tx is None and tv is None:
            return None
        tx = tx if tx is not None else N.zeros_like(out)
        if tv is None:
            return apply("setitem", (tx, N.scalar(0.0, out)), {"index": out.attrs["index"]}) \
                if kind == "setitem" else tx
        return apply(kind, (tx, tv), {"index": out.attrs["index"]})

    return jvp


def _batch_update(kind: str):
    def rule(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
        x, v = inputs
        x = _lift(x, batched[0], _batch_size(inputs, batched))
        index = _batched_index(attrs["index"])
        target = selected_shape(x.shape, index)[1:]
        return apply(kind, (x, _align_value(v, batched[1], target)), {"index": index})

    return rule


# ---- joining -------------------------------------------------------------------------

def _infer_concat(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    axis = attrs["axis"]
    first = inputs[0].shape
    for x in inputs[1:]:
        if x.ndim != len(first) or any(a != b for i, (a, b) in enumerate(zip(x.shape, first))
                                       if i != axis):
            shapes = ", ".join(str(i.shape) for i in inputs)
            raise ShapeError(f"cannot concatenate shapes {shapes} along axis {axis}")
    size = sum(x.shape[axis] for x in inputs)
    return first[:axis] + (size,) + first[axis + 1:], result_dtype(inputs)


def _forward_concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=axis)


def _vjp_concat(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    axis, start, parts = out.attrs["axis"], 0, []
    for x, need in zip(out.inputs, needs):
        stop = start + x.shape[axis]
        index = (slice(None),) * axis + (slice(start, stop),)
        parts.append(getitem(g, index) if need else None)
        start = stop
    return tuple(parts)


def _jvp_concat(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if all(x is None for x in t):
        return None
    parts = [ti if ti is not None else N.zeros_like(x) for ti, x in zip(t, out.inputs)]
    return apply("concat", parts, out.attrs)


def _batch_concat(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    size = _batch_size(inputs, batched)
    parts = [_lift(x, b, size) for x, b in zip(inputs, batched)]
    return apply("concat", parts, {"axis": attrs["axis"] + 1})


def _infer_pad(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, widths = inputs[0], attrs["widths"]
    if len(widths) != x.ndim or any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ShapeError(f"pad widths {widths} do not fit shape {x.shape}")
    return tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths)), x.dtype


def _forward_pad(x: np.ndarray, *, widths: tuple[tuple[int, int], ...],
                 value: float) -> np.ndarray:
    return np.pad(x, widths, mode="constant", constant_values=value)


def _unpad_index(out: Node) -> Index:
    return tuple(slice(lo, lo + d) for d, (lo, _) in zip(out.inputs[0].shape,
                                                           out.attrs["widths"]))


ROWS = [
    Primitive("named", infer_same, lambda x, *, name: x, lambda g, out, needs: (g,),
              lambda t, out: t[0], lambda ins, b, at: named(ins[0], at["name"]),
              sym_numpy(lambda x, *, name: x),
              "the value of a node the user named (a let, an output): the identity, kept "
              "distinct so derivatives at the name are taken at exactly that node"),
    Primitive("fill", _infer_fill, _forward_fill, None, None, _no_batch, sym_numpy(_forward_fill),
              "an array of one value", into=Into(_fill_into)),
    Primitive("cast", lambda ins, at: (ins[0].shape, at["dtype"]),
              lambda x, *, dtype: x.astype(dtype), _vjp_cast, _jvp_cast,
              batch_elementwise("cast"), sym_numpy(lambda x, *, dtype: x),
              "convert to another dtype"),
    Primitive("stop_gradient", infer_same, lambda x: x, None, None,
              batch_elementwise("stop_gradient"), sym_elementwise(lambda sp, a: a),
              "the value of x, treated as a constant by every derivative",
              "derivative 0 by definition"),
    Primitive("reshape", _infer_reshape, lambda x, *, shape: np.reshape(x, shape),
              lambda g, out, needs: (N.reshape(g, out.inputs[0].shape),),
              lambda t, out: None if t[0] is None else N.reshape(t[0], out.shape),
              lambda ins, b, at: N.reshape(ins[0], ins[0].shape[:1] + at["shape"]),
              sym_numpy(lambda x, *, shape: np.reshape(x, shape)), "same elements, new shape"),
    Primitive("broadcast_to", _infer_broadcast, lambda x, *, shape: np.broadcast_to(x, shape),
              lambda g, out, needs: (N.sum_to(g, out.inputs[0].shape),),
              lambda t, out: None if t[0] is None else N.broadcast_to(t[0], out.shape),
              lambda ins, b, at: N.broadcast_to(
                  _align_value(ins[0], True, at["shape"]), ins[0].shape[:1] + at["shape"]),
              sym_numpy(lambda x, *, shape: np.broadcast_to(x, shape)),
              "repeat along axes of size 1 (numpy broadcasting)"),
    Primitive("transpose", _infer_transpose, lambda x, *, perm: np.transpose(x, perm),
              lambda g, out, needs: (N.transpose(g, _inverse_perm(out.attrs["perm"])),),
              lambda t, out: None if t[0] is None else N.transpose(t[0], out.attrs["perm"]),
              lambda ins, b, at: N.transpose(ins[0], (0,) + tuple(p + 1 for p in at["perm"])),
              sym_numpy(lambda x, *, perm: np.transpose(x, perm)), "permute axes"),
    Primitive("sum", _infer_reduce, _forward_sum,
              lambda g, out, needs: (N.expand_to(g, out.inputs[0].shape, out.attrs["axes"]),),
              lambda t, out: None if t[0] is None else N.reduce_sum(t[0], out.attrs["axes"]),
              lambda ins, b, at: apply("sum", ins, _shift_axes(at)),
              lambda x, *, axes: sym_add_over(x, axes), "sum over axes",
              into=Into(_sum_into)),
    Primitive("max", _infer_reduce, _forward_max,
              lambda g, out, needs: (N.mul(N.expand_to(g, out.inputs[0].shape,
                                                       out.attrs["axes"]), _max_weights(out)),),
              lambda t, out: None if t[0] is None else N.reduce_sum(
                  N.mul(t[0], _max_weights(out)), out.attrs["axes"]),
              lambda ins, b, at: apply("max", ins, _shift_axes(at)),
              _sym_max, "largest element over axes", "ties split the derivative evenly",
              into=Into(_max_into)),
    Primitive("getitem", _infer_getitem, _forward_getitem, _vjp_getitem,
              lambda t, out: None if t[0] is None else getitem(t[0], out.attrs["index"]),
              lambda ins, b, at: getitem(ins[0], _batched_index(at["index"])),
              sym_numpy(_forward_getitem), "x[index] with ints, slices, ..., None"),
    Primitive("setitem", _infer_update, _forward_setitem, _vjp_update("setitem"),
              _jvp_update("setitem"), _batch_update("setitem"), sym_numpy(_forward_setitem),
              "x.at[index].set(v): a copy of x with x[index] replaced by v",
              "x's replaced elements get derivative 0: they do not reach the result"),
    Primitive("addat", _infer_update, _forward_addat, _vjp_update("addat"),
              _jvp_update("addat"), _batch_update("addat"), sym_numpy(_forward_addat),
              "x.at[index].add(v): a copy of x with v added at x[index]"),
    Primitive("concat", _infer_concat, _forward_concat, _vjp_concat, _jvp_concat,
              _batch_concat, sym_numpy(_forward_concat), "join arrays along an axis"),
    Primitive("pad", _infer_pad, _forward_pad,
              lambda g, out, needs: (getitem(g, _unpad_index(out)),),
              # the padding is constant: its tangent is 0 whatever the pad value
              lambda t, out: None if t[0] is None else apply(
                  "pad", t, {**out.attrs, "value": 0.0}),
              lambda ins, b, at: apply("pad", ins, {**at, "widths": ((0, 0),) + at["widths"]}),
              sym_numpy(_forward_pad), "pad with a constant value"),
]

# keep the elementwise inference importable from here for family modules
__all__ = ["ROWS", "getitem", "selected_shape", "infer_elementwise"]
