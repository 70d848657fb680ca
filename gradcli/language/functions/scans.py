"""Scans and order (numpy's argument order and defaults): running sums and
products, differences, sorting, and the moves that reorder elements
(roll, flip, rot90).  cumsum/cumprod/sort are primitives
(engine/ops/scans.py); the others are slices, concatenations and
transposes, so their derivatives are the same moves backwards."""

from __future__ import annotations

from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.scans import cumsum as cumsum_node
from gradcli.engine.ops.structure import getitem
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import axis_arg, int_arg, int_sequence, one_axis
from gradcli.language.functions.context import Context, as_node, promote
from gradcli.language.functions.registry import define

# diff(x, n) is n subtractions in the graph: a larger n is a typo, not a program.
MAX_DIFF_ORDER = 10_000


def _flat_or_axis(ctx: Context, a: Any, axis: Any) -> tuple[Node, int]:
    """numpy's axis=None: the flattened array, along its only axis."""
    x = as_node(ctx, a)
    if axis is None:
        return N.reshape(x, (x.size,)), 0
    if x.ndim == 0:
        raise ShapeError("a 0-d array has no axis to scan along (use axis=None)")
    return x, one_axis("axis", axis, x.ndim)


def _numeric(ctx: Context, a: Any) -> Node:
    """Integers stay integers (numpy's scans of ints are ints); bools count as floats."""
    (x,) = promote(ctx, a)
    return x


def cumsum(ctx: Context, a: Any, axis: Any = None) -> Node:
    x, ax = _flat_or_axis(ctx, _numeric(ctx, a), axis)
    return cumsum_node(x, ax)


def cumprod(ctx: Context, a: Any, axis: Any = None) -> Node:
    x, ax = _flat_or_axis(ctx, _numeric(ctx, a), axis)
    return apply("cumprod", (x,), {"axis": ax})


def _slice(x: Node, axis: int, part: slice) -> Node:
    return getitem(x, (slice(None),) * axis + (part,))


def diff(ctx: Context, a: Any, n: Any = 1, axis: Any = -1, prepend: Any = None,
         append: Any = None) -> Node:
    """numpy.diff: x[1:] - x[:-1] along axis, n times; prepend/append are
    joined first (a number is broadcast to one slice along axis)."""
    x = _numeric(ctx, a)
    times = int_arg("n", n, minimum=0)
    if x.ndim == 0:
        raise ShapeError("diff needs at least one axis, got a 0-d array")
    ax = one_axis("axis", axis, x.ndim)
    if prepend is not None or append is not None:
        extras = [e for e in (prepend, append) if e is not None]
        x, *extras = promote(ctx, x, *extras)
        pieces = iter(extras)
        parts = [next(pieces) if e is not None else None for e in (prepend, append)]
        for k, (e, where) in enumerate(zip(parts, ("prepend", "append"))):
            if e is not None and e.ndim == 0:
                parts[k] = e = N.broadcast_to(e, x.shape[:ax] + (1,) + x.shape[ax + 1:])
            if e is not None and (e.ndim != x.ndim or any(
                    d != s for i, (d, s) in enumerate(zip(e.shape, x.shape)) if i != ax)):
                raise ShapeError(f"{where} of shape {e.shape} does not fit x {x.shape} "
                                 f"along axis {ax}")
        x = apply("concat", [p for p in (parts[0], x, parts[1]) if p is not None],
                  {"axis": ax})
    if times >= x.shape[ax]:  # nothing left: numpy's empty result, built at once
        return _slice(x, ax, slice(0, 0))
    if times > MAX_DIFF_ORDER:
        raise SpecError(f"n={times} differences build {times} subtractions; at most "
                        f"{MAX_DIFF_ORDER}")
    for _ in range(times):
        n_now = x.shape[ax]
        x = N.sub(_slice(x, ax, slice(1, None)), _slice(x, ax, slice(0, n_now - 1)))
    return x


def sort(ctx: Context, a: Any, axis: Any = -1) -> Node:
    x, ax = _flat_or_axis(ctx, _numeric(ctx, a), axis)
    return apply("sort", (x,), {"axis": ax})


def argsort(ctx: Context, a: Any, axis: Any = -1) -> Node:
    x, ax = _flat_or_axis(ctx, _numeric(ctx, a), axis)
    return apply("argsort", (x,), {"axis": ax})


def _roll_one(x: Node, shift: int, axis: int) -> Node:
    n = x.shape[axis]
    if n == 0 or shift % n == 0:
        return x
    k = shift % n
    return apply("concat", (_slice(x, axis, slice(n - k, n)), _slice(x, axis, slice(0, n - k))),
                 {"axis": axis})


def roll(ctx: Context, a: Any, shift: Any, axis: Any = None) -> Node:
    """numpy.roll: elements shifted along axis, those pushed off the end come
    back at the start; axis=None rolls the flattened array."""
    x = as_node(ctx, a)
    shifts = int_sequence("shift", shift)
    if axis is None:
        if len(shifts) != 1:
            raise SpecError("with axis=None, 'shift' must be one integer")
        return N.reshape(_roll_one(N.reshape(x, (x.size,)), shifts[0], 0), x.shape)
    axes = [one_axis("axis", a, x.ndim) for a in int_sequence("axis", axis)]
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise SpecError(f"'shift' {shifts} and 'axis' {tuple(axes)} must have the same length")
    total: dict[int, int] = {}
    for s, ax in zip(shifts, axes):  # numpy adds the shifts of a repeated axis
        total[ax] = total.get(ax, 0) + s
    for ax, s in total.items():
        x = _roll_one(x, s, ax)
    return x


def _flip_axes(x: Node, axes: tuple[int, ...]) -> Node:
    return getitem(x, tuple(slice(None, None, -1) if d in axes else slice(None)
                            for d in range(x.ndim)))


def flip(ctx: Context, m: Any, axis: Any = None) -> Node:
    x = as_node(ctx, m)
    return _flip_axes(x, axis_arg("axis", axis, x.ndim))


def fliplr(ctx: Context, m: Any) -> Node:
    x = as_node(ctx, m)
    if x.ndim < 2:
        raise ShapeError(f"fliplr needs at least 2 axes, got shape {x.shape}")
    return _flip_axes(x, (1,))


def flipud(ctx: Context, m: Any) -> Node:
    x = as_node(ctx, m)
    if x.ndim < 1:
        raise ShapeError("flipud needs at least 1 axis, got a 0-d array")
    return _flip_axes(x, (0,))


def rot90(ctx: Context, m: Any, k: Any = 1, axes: Any = (0, 1)) -> Node:
    """numpy.rot90: k quarter turns from the first axis of `axes` towards the second."""
    x = as_node(ctx, m)
    turns = int_arg("k", k) % 4
    pair = int_sequence("axes", axes)
    if len(pair) != 2 or x.ndim < 2:
        raise ShapeError(f"rot90 needs 2 axes of an array with at least 2, got axes={pair} "
                         f"and shape {x.shape}")
    a, b = (one_axis("axes", p, x.ndim) for p in pair)
    if a == b:
        raise ShapeError(f"axes {pair} must be two different axes")
    if turns == 0:
        return x
    if turns == 2:
        return _flip_axes(x, (a, b))
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    if turns == 1:
        return N.transpose(_flip_axes(x, (b,)), perm)
    return _flip_axes(N.transpose(x, perm), (b,))


FUNCTIONS = [
    define("cumsum", cumsum, "running sums along axis (None: of the flattened array)"),
    define("cumprod", cumprod, "running products along axis (None: of the flattened array)",
           "d/dx[j] of a running product is the product of the other factors, exact where "
           "x has zeros (no division by x)"),
    define("diff", diff, "n-th differences x[1:] - x[:-1] along axis (numpy.diff; prepend and "
           "append are joined first)"),
    define("sort", sort, "values sorted ascending along axis (None: of the flattened array)",
           "ties: a stable sort, so equal values keep their input order and each gets the "
           "derivative of the output place it is sorted to"),
    define("argsort", argsort, "positions that sort along axis (None: of the flattened "
           "array); integers, for indexing (take_along_axis(x, argsort(x)))",
           "a stable sort: equal values keep their input order; integer-valued, so never "
           "differentiated"),
    define("roll", roll, "elements shifted by shift along axis, wrapping around (None: of the "
           "flattened array)"),
    define("flip", flip, "reverse the order of elements along axis (None: every axis)"),
    define("fliplr", fliplr, "reverse the columns (axis 1)"),
    define("flipud", flipud, "reverse the rows (axis 0)"),
    define("rot90", rot90, "rotate by 90 degrees k times in the plane of axes (numpy.rot90)"),
]
