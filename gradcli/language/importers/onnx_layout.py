"""ONNX's constants and layout operators: Constant, Shape, Cast, Reshape,
Flatten, Transpose, Concat, (Un)Squeeze, Slice, Gather, the reductions,
Expand, and the shape arithmetic that is only folded on constants (Range,
Equal, Where, ConstantOfShape).  Each works on constants (numpy, folded
while the model is built) and on nodes alike, where that makes sense."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.errors import ShapeError, SpecError
from gradcli.language.importers.onnx_file import DTYPES
from gradcli.language.importers.onnx_ops import Op, Step, Value, is_const, need, shape_of

# ---- constants and shapes ------------------------------------------------------------

def _constant(step: Step, args: list[Any]) -> Value:
    attrs = step.node.attrs
    if "value" in attrs and isinstance(attrs["value"], np.ndarray):
        return attrs["value"]
    if "value_float" in attrs:
        return np.asarray(attrs["value_float"], dtype="float32")
    if "value_floats" in attrs:
        return np.asarray(attrs["value_floats"], dtype="float32")
    if "value_int" in attrs:
        return np.asarray(attrs["value_int"], dtype="int64")
    if "value_ints" in attrs:
        return np.asarray(attrs["value_ints"], dtype="int64")
    raise step.fail(f"holds a {', '.join(attrs) or 'missing'} value; gradcli reads numeric "
                    "tensors, floats and ints")


def _shape(step: Step, args: list[Any]) -> Value:
    (x,) = need(step, args, 1)[:1]
    dims = shape_of(x)
    start, end = step.attr("start", 0), step.attr("end", None)
    return np.asarray(dims[start:end], dtype="int64")


def _size(step: Step, args: list[Any]) -> Value:
    (x,) = need(step, args, 1)[:1]
    return np.asarray(int(np.prod(shape_of(x), dtype=np.int64)), dtype="int64")


def _identity(step: Step, args: list[Any]) -> Value:
    return need(step, args, 1)[0]


def _dropout(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    training = args[2] if len(args) > 2 else None
    if training is not None and bool(np.any(step.constant(training, "training_mode"))):
        raise step.fail("is in training mode; gradcli evaluates the trained network "
                        "(export in eval mode)")
    return x  # inference: the identity, as Keras and PyTorch evaluate a trained network


def _cast(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    target = DTYPES.get(int(step.attr("to", 0)))
    if target is None:
        raise step.fail(f"casts to element type {step.attr('to')}, which gradcli does not read")
    if is_const(x):
        return np.asarray(x).astype(target)
    if np.dtype(target).kind == "f":  # floats stay in the problem's dtype
        return step.float_node(x)
    if x.is_float:
        raise step.fail(f"casts a float value computed from the model's inputs to {target}: "
                        "not differentiable, and not folded (it is not a constant)")
    return x


def _reshape(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 2)[0]
    target = list(step.ints(args[1], "shape"))
    dims = shape_of(x)
    if not step.attr("allowzero", 0):
        target = [dims[i] if d == 0 and i < len(dims) else d for i, d in enumerate(target)]
    size = int(np.prod(dims, dtype=np.int64))
    if target.count(-1) > 1:
        raise ShapeError(f"has more than one -1 in its shape {tuple(target)}")
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
        target[target.index(-1)] = size // known if known else 0
    if int(np.prod(target, dtype=np.int64)) != size:
        raise ShapeError(f"cannot reshape {dims} into {tuple(target)}")
    return np.reshape(x, target) if is_const(x) else step.N.reshape(x, tuple(target))


def _flatten(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    dims = shape_of(x)
    axis = int(step.attr("axis", 1))
    axis = axis + len(dims) if axis < 0 else axis
    if not 0 <= axis <= len(dims):
        raise step.fail(f"axis {step.attr('axis')} is out of range for {len(dims)} axes")
    target = (int(np.prod(dims[:axis], dtype=np.int64)), int(np.prod(dims[axis:], dtype=np.int64)))
    return np.reshape(x, target) if is_const(x) else step.N.reshape(x, target)


def _transpose(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    rank = len(shape_of(x))
    perm = tuple(step.attr("perm", tuple(reversed(range(rank)))))
    if sorted(perm) != list(range(rank)):
        raise step.fail(f"perm {perm} is not a permutation of {rank} axes")
    return np.transpose(x, perm) if is_const(x) else step.N.transpose(x, perm)


def _concat(step: Step, args: list[Any]) -> Value:
    parts = [a for a in args if a is not None]
    if not parts:
        raise step.fail("has no inputs")
    axis = step.axis(int(step.attr("axis", 0)), len(shape_of(parts[0])))
    if is_const(*parts):
        return np.concatenate([np.asarray(p) for p in parts], axis=axis)
    return step.fn("concat", [step.node_of(p) for p in parts], axis=axis)


def _axes(step: Step, args: list[Any], rank: int) -> tuple[int, ...] | None:
    """The `axes` input (attribute before opset 13/18), normalised; None: absent."""
    if len(args) > 1 and args[1] is not None:
        found = step.ints(args[1], "axes")
    elif "axes" in step.node.attrs:
        found = tuple(step.attr("axes"))
    else:
        return None
    axes = tuple(step.axis(a, rank, "axis") for a in found)
    if len(set(axes)) != len(axes):
        raise step.fail(f"repeats an axis in {found}")
    return axes


def _squeeze(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    dims = shape_of(x)
    axes = _axes(step, args, len(dims))
    if axes is None:
        axes = tuple(i for i, d in enumerate(dims) if d == 1)
    if any(dims[a] != 1 for a in axes):
        raise ShapeError(f"cannot squeeze axes {axes} of shape {dims}: not of size 1")
    target = tuple(d for i, d in enumerate(dims) if i not in axes)
    return np.reshape(x, target) if is_const(x) else step.N.reshape(x, target)


def _unsqueeze(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    dims = shape_of(x)
    raw = step.ints(args[1], "axes") if len(args) > 1 and args[1] is not None \
        else tuple(step.attr("axes", ()))
    rank = len(dims) + len(raw)
    axes = {step.axis(a, rank) for a in raw}
    if not raw or len(axes) != len(raw):
        raise step.fail(f"needs distinct axes, got {raw}")
    rest = iter(dims)
    target = tuple(1 if i in axes else next(rest) for i in range(rank))
    return np.reshape(x, target) if is_const(x) else step.N.reshape(x, target)


def _slice(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 3)[0]
    dims = shape_of(x)
    starts, ends = step.ints(args[1], "starts"), step.ints(args[2], "ends")
    axes = step.ints(args[3], "axes") if len(args) > 3 and args[3] is not None \
        else tuple(range(len(starts)))
    steps = step.ints(args[4], "steps") if len(args) > 4 and args[4] is not None \
        else (1,) * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps) or 0 in steps:
        raise step.fail(f"has starts {starts}, ends {ends}, axes {axes}, steps {steps}: "
                        "they need one entry per axis and steps other than 0")
    index: list[Any] = [slice(None)] * len(dims)
    for start, end, axis, stride in zip(starts, ends, axes, steps):
        # numpy's slices clamp out-of-range starts and ends as ONNX does
        index[step.axis(axis, len(dims))] = slice(start, end, stride)
    if is_const(x):
        return np.asarray(x)[tuple(index)]
    from gradcli.language.functions.indexing import select

    return select(step.call.ctx, x, tuple(index))


def _gather(step: Step, args: list[Any]) -> Value:
    x, indices = need(step, args, 2)[:2]
    dims = shape_of(x)
    axis = step.axis(int(step.attr("axis", 0)), len(dims))
    if is_const(indices):
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise step.fail(f"its indices must be integers, got {idx.dtype}")
        if idx.size and (idx.min() < -dims[axis] or idx.max() >= dims[axis]):
            raise ShapeError(f"an index is out of range for axis {axis} of size {dims[axis]}")
        idx = np.where(idx < 0, idx + dims[axis], idx).astype("int64")
        if is_const(x):
            return np.take(np.asarray(x), idx, axis=axis)
        indices = idx if idx.ndim else int(idx)
    return step.fn("take", x, indices, axis=axis)


def _reduce(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 1)[0]
    rank = len(shape_of(x))
    axes = _axes(step, args, rank)
    if not axes:
        if step.attr("noop_with_empty_axes", 0):
            return x
        axes = tuple(range(rank))
    keep = bool(step.attr("keepdims", 1))
    name = "sum" if step.node.op == "ReduceSum" else "mean"
    if is_const(x):
        return getattr(np, name)(np.asarray(x), axis=axes, keepdims=keep)
    return step.fn(name, step.float_node(x), axis=axes, keepdims=keep)


def _expand(step: Step, args: list[Any]) -> Value:
    x = need(step, args, 2)[0]
    try:
        target = np.broadcast_shapes(shape_of(x), step.ints(args[1], "shape"))
    except ValueError:
        raise ShapeError(f"cannot broadcast {shape_of(x)} to {step.ints(args[1], 'shape')}") \
            from None
    if is_const(x):
        return np.broadcast_to(np.asarray(x), target).copy()
    return step.fn("broadcast_to", x, tuple(target))


def _constant_of_shape(step: Step, args: list[Any]) -> Value:
    shape = step.ints(need(step, args, 1)[0], "shape")
    fill = step.attr("value")
    fill = np.zeros(1, dtype="float32") if not isinstance(fill, np.ndarray) else fill
    from gradcli.language.limits import size_error

    reason = size_error(shape, step.call.ctx.max_elements)
    if reason:
        raise step.fail(reason)
    return np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)


def _folded(fold: Callable[..., np.ndarray]) -> Op:
    """Ops gradcli evaluates only on constants (shape arithmetic)."""
    def op(step: Step, args: list[Any]) -> Value:
        present = [a for a in args if a is not None]
        if not is_const(*present):
            raise step.fail("is supported on constants only (shape computations), but an "
                            "input is computed from the model's inputs")
        return np.asarray(fold(*[np.asarray(a) for a in present]))
    return op


def _range(start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
    count = max(int(np.ceil((limit - start) / delta)), 0)
    if count > 10_000_000:
        raise SpecError(f"Range of {count} elements is too long")
    return np.arange(count, dtype=np.result_type(start, limit, delta)) * delta + start


COMPARISONS = {"Equal": ("eq", np.equal), "Greater": ("gt", np.greater),
               "Less": ("lt", np.less), "GreaterOrEqual": ("ge", np.greater_equal),
               "LessOrEqual": ("le", np.less_equal)}


def _broadcast(step: Step, values: list[Value]) -> list[Any]:
    try:
        shape = np.broadcast_shapes(*(shape_of(v) for v in values))
    except ValueError:
        raise ShapeError(f"cannot broadcast shapes {[shape_of(v) for v in values]}") from None
    nodes = [step.node_of(v) for v in values]
    return [n if n.shape == shape else step.fn("broadcast_to", n, shape) for n in nodes]


def _compare(step: Step, args: list[Any]) -> Value:
    """A boolean value (a mask for Where, as torch's Softplus threshold)."""
    a, b = need(step, args, 2)[:2]
    op, fold = COMPARISONS[step.node.op]
    if is_const(a, b):
        return fold(np.asarray(a), np.asarray(b))
    x, y = _broadcast(step, [a, b])
    if x.is_float != y.is_float:
        raise step.fail(f"compares {x.dtype} with {y.dtype}")
    return step.N.compare(op, x, y)


def _where(step: Step, args: list[Any]) -> Value:
    cond, a, b = need(step, args, 3)[:3]
    if is_const(cond, a, b):
        return np.where(np.asarray(cond), np.asarray(a), np.asarray(b))
    c, x, y = _broadcast(step, [cond, a, b])
    if c.dtype != "bool" or x.dtype != y.dtype:
        raise step.fail(f"takes a boolean condition and two values of one type, got "
                        f"{c.dtype}, {x.dtype}, {y.dtype}")
    return step.N.where(c, x, y)


OPS: dict[str, Op] = {
    "Constant": _constant, "Shape": _shape, "Size": _size, "Identity": _identity,
    "Dropout": _dropout, "Cast": _cast, "Reshape": _reshape, "Flatten": _flatten,
    "Transpose": _transpose, "Concat": _concat, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze,
    "Slice": _slice, "Gather": _gather, "ReduceSum": _reduce, "ReduceMean": _reduce,
    "Expand": _expand, "ConstantOfShape": _constant_of_shape, "Range": _folded(_range),
    "Where": _where, **{name: _compare for name in COMPARISONS},
}
