"""Functions that rearrange elements (numpy's argument order and defaults).
All of them are reshapes, broadcasts, transposes and concatenations, so
their derivatives are the same moves backwards."""

from __future__ import annotations

import math
from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import (
    axis_arg,
    int_arg,
    int_sequence,
    node_list,
    one_axis,
    shape_arg,
)
from gradcli.language.functions.context import Context, as_node, check_size, promote
from gradcli.language.functions.registry import define


def _size(shape: tuple[int, ...]) -> int:
    # Python ints: numpy's int64 product wraps around for huge shapes.
    return math.prod(shape)


def resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    """A target shape with at most one -1, which takes the remaining size."""
    dims = int_sequence("shape", shape)
    if any(d < -1 for d in dims) or dims.count(-1) > 1:
        raise SpecError(f"shape {dims} may hold sizes >= 0 and at most one -1")
    if -1 in dims:
        known = _size(tuple(d for d in dims if d != -1))
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape an array of {size} elements into {dims}")
        dims = tuple(size // known if d == -1 else d for d in dims)
    if _size(dims) != size:
        raise ShapeError(f"cannot reshape an array of {size} elements into {dims}")
    return dims


def reshape(ctx: Context, x: Any, shape: Any) -> Node:
    x = as_node(ctx, x)
    return N.reshape(x, check_size(ctx, resolve_shape(shape, x.size)))


def flatten(ctx: Context, x: Any) -> Node:
    x = as_node(ctx, x)
    return N.reshape(x, (x.size,))


def _join(ctx: Context, arrays: Any) -> list[Node]:
    return promote(ctx, *node_list("arrays", arrays))


def concat(ctx: Context, arrays: Any, axis: Any = 0) -> Node:
    parts = _join(ctx, arrays)
    if axis is None:  # numpy: flatten first
        parts = [N.reshape(p, (p.size,)) for p in parts]
        axis = 0
    if any(p.ndim == 0 for p in parts):
        raise ShapeError("0-d arrays cannot be concatenated (use stack)")
    ax = one_axis("axis", axis, parts[0].ndim)
    return parts[0] if len(parts) == 1 else apply("concat", parts, {"axis": ax})


def stack(ctx: Context, arrays: Any, axis: Any = 0) -> Node:
    parts = _join(ctx, arrays)
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        raise ShapeError("all arrays must have the same shape, got "
                         + ", ".join(str(p.shape) for p in parts))
    ax = one_axis("axis", axis, parts[0].ndim + 1)
    lifted = [N.reshape(p, p.shape[:ax] + (1,) + p.shape[ax:]) for p in parts]
    return lifted[0] if len(lifted) == 1 else apply("concat", lifted, {"axis": ax})


def broadcast_to(ctx: Context, x: Any, shape: Any) -> Node:
    x = as_node(ctx, x)
    target = check_size(ctx, shape_arg("shape", shape))
    lead = len(target) - x.ndim
    ok = lead >= 0 and all(d in (1, t) for d, t in zip(x.shape, target[lead:]))
    if not ok:
        raise ShapeError(f"cannot broadcast shape {x.shape} to {target}")
    return N.broadcast_to(x, target)


def expand_dims(ctx: Context, x: Any, axis: Any) -> Node:
    x = as_node(ctx, x)
    count = len(int_sequence("axis", axis))
    axes = axis_arg("axis", axis, x.ndim + count)
    dims = iter(x.shape)
    return N.reshape(x, tuple(1 if i in axes else next(dims) for i in range(x.ndim + count)))


def squeeze(ctx: Context, x: Any, axis: Any = None) -> Node:
    x = as_node(ctx, x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = axis_arg("axis", axis, x.ndim)
        wide = [a for a in axes if x.shape[a] != 1]
        if wide:
            raise ShapeError(f"cannot squeeze axis {wide[0]} of shape {x.shape}: its size is "
                             f"{x.shape[wide[0]]}, not 1")
    return N.reshape(x, N.dropped_shape(x.shape, axes))


def tile(ctx: Context, x: Any, reps: Any) -> Node:
    """numpy.tile: the shorter of x.shape and reps is padded with leading 1s;
    copies are laid out block after block."""
    x = as_node(ctx, x)
    counts = int_sequence("reps", reps)
    if any(r < 0 for r in counts):
        raise SpecError(f"argument 'reps' cannot be negative: {counts}")
    rank = max(x.ndim, len(counts))
    shape = (1,) * (rank - x.ndim) + x.shape
    counts = (1,) * (rank - len(counts)) + counts
    check_size(ctx, tuple(r * s for r, s in zip(counts, shape)))
    spread = tuple(d for r, s in zip(counts, shape) for d in (1, s))
    wide = tuple(d for r, s in zip(counts, shape) for d in (r, s))
    out = N.broadcast_to(N.reshape(x, spread), wide)
    return N.reshape(out, tuple(r * s for r, s in zip(counts, shape)))


def repeat(ctx: Context, x: Any, repeats: Any, axis: Any = None) -> Node:
    """numpy.repeat with one repeat count: each element `repeats` times in a row."""
    x = as_node(ctx, x)
    if isinstance(repeats, (list, tuple)):
        raise SpecError("argument 'repeats' must be one integer (per-element counts are "
                        "not supported)")
    count = int_arg("repeats", repeats, minimum=0)
    if axis is None:
        x, ax = N.reshape(x, (x.size,)), 0
    else:
        ax = one_axis("axis", axis, x.ndim)
    shape = x.shape
    check_size(ctx, shape[:ax] + (shape[ax] * count,) + shape[ax + 1:])
    spread = shape[:ax + 1] + (1,) + shape[ax + 1:]
    wide = shape[:ax + 1] + (count,) + shape[ax + 1:]
    out = N.broadcast_to(N.reshape(x, spread), wide)
    return N.reshape(out, shape[:ax] + (shape[ax] * count,) + shape[ax + 1:])


def transpose(ctx: Context, x: Any, axes: Any = None) -> Node:
    x = as_node(ctx, x)
    if axes is None:
        return N.transpose(x)
    perm = int_sequence("axes", axes)
    if len(perm) != x.ndim:
        raise ShapeError(f"axes {perm} do not match the {x.ndim} axes of shape {x.shape}")
    normalized = [one_axis("axes", a, x.ndim) for a in perm]
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"axes {perm} repeat an axis")
    return N.transpose(x, normalized)


def stop_gradient(ctx: Context, x: Any) -> Node:
    return N.stop_gradient(as_node(ctx, x))


FUNCTIONS = [
    define("reshape", reshape, "same elements in a new shape (one size may be -1)"),
    define("flatten", flatten, "the elements as a 1-D array (row-major)"),
    define("concat", concat, "join a list of arrays along an existing axis"),
    define("stack", stack, "join a list of equal-shaped arrays along a new axis"),
    define("broadcast_to", broadcast_to, "repeat along size-1 and new leading axes"),
    define("expand_dims", expand_dims, "insert size-1 axes at the given positions"),
    define("squeeze", squeeze, "remove size-1 axes (all of them, or the given ones)"),
    define("tile", tile, "repeat the whole array reps times along each axis (numpy.tile)"),
    define("repeat", repeat, "repeat each element along axis (None: of the flattened array)"),
    define("transpose", transpose, "permute axes (default: reverse them)"),
    define("stop_gradient", stop_gradient, "the value of x, treated as a constant by "
           "every derivative", "derivative 0 by definition"),
]
