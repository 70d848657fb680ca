"""numpy indexing with integer arrays and constant boolean masks, lowered
onto the `gather`/`scatter_*` primitives (engine/ops/gather.py).

An index is a tuple of items: ints, slices, None, `...` (basic indexing,
the `getitem`/`setitem`/`addat` rows as before), and integer arrays —
nested lists of ints, constants, integer inputs or any integer node — or
boolean masks that are constants (a mask computed from inputs would make
the result's shape depend on values).  numpy's rules apply:

- a boolean mask of k dimensions stands for its k `nonzero()` index arrays;
- integer arrays broadcast together to a shape D; ints next to them count
  as (0-d) arrays;
- when the arrays and ints are adjacent in the index, D takes their place in
  the result; when a slice or None separates them, D comes first.

Lowering: the basic items are applied first (`getitem`, ints dropping their
axis), the arrays' axes are moved to the front, one `gather` takes them,
and a transpose puts D where numpy puts it.  An update does the same moves
around a `scatter_add`/`scatter_set` and writes the block back with
`setitem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const, toposort
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.gather import checked, gather, is_int, scatter_add, scatter_set
from gradcli.engine.ops.structure import format_index, getitem, selected_shape
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import one_axis, static
from gradcli.language.functions.context import Context, as_node, promote
from gradcli.language.functions.registry import define


@dataclass(frozen=True)
class _Array:
    node: Node  # an integer node
    text: str   # how the index is shown in messages


@dataclass(frozen=True)
class _MaskEnd:
    """Follows the index arrays of a boolean mask: the axes they cover."""

    shape: tuple[int, ...]


@dataclass(frozen=True)
class Lowered:
    """An advanced index split into numpy's steps (see the module doc)."""

    basic: tuple[Any, ...]     # applied first: ints, slices, None; arrays' axes kept whole
    perm: tuple[int, ...]      # moves the arrays' axes (of the basic result) to the front
    arrays: tuple[Node, ...]   # the gather's index arrays, in axis order
    order: tuple[int, ...]     # gather layout (D + rest) -> numpy's layout
    shape: tuple[int, ...]     # the selection's shape in numpy's layout


def _describe(item: Any) -> str:
    if isinstance(item, _Array):
        return item.text
    return format_index((item,))[1:-1]


def _array_item(ctx: Context, value: Any) -> list[Any]:
    """An array-like index item as advanced items (a mask as several)."""
    if isinstance(value, (list, tuple)) and _holds_node(value):
        value = as_node(ctx, value)  # [i, j] of integer nodes: stacked, still integers
    if isinstance(value, Node):
        if is_int(value):
            return [_Array(value, f"an integer array of shape {value.shape}")]
        if value.dtype == "bool":
            mask = _constant(ctx, value)
            if mask is None:
                raise SpecError("a boolean mask index must be a constant: x[mask] with a mask "
                                "computed from inputs has a shape that depends on their "
                                "values (use where(mask, x, 0))")
            return _mask(mask)
        raise SpecError(f"an array of dtype {value.dtype} cannot be an index: indices are "
                        "integers (an input with dtype: int64, or a list of ints)")
    try:
        array = None if isinstance(value, str) else np.asarray(value)
    except ValueError:
        raise SpecError(f"the index list {_short(value)} is ragged") from None
    if array is None or array.dtype == object:
        raise SpecError(f"{_short(value)} cannot be an index")
    if array.dtype == bool:
        return _mask(array)
    if array.size == 0 or array.dtype.kind in "iu":
        array = array.astype(np.int64)
        return [_Array(const(array), f"an integer array of shape {array.shape}")]
    raise SpecError(f"indices must be integers, got {_short(value)} (index lists hold ints "
                    "like [0, 2])")


def _constant(ctx: Context, node: Node) -> np.ndarray | None:
    """The value of a node that depends on no input (`eye(100) > 0`, too
    large to have been folded while building), or None.  Evaluated with
    the Context's injected transformations (the language runs no program
    itself)."""
    if node.op == "const":
        return node.attrs["value"]
    if any(n.op == "input" for n in toposort([node])):
        return None
    if ctx.transforms is None:
        raise SpecError("a boolean mask computed from constants needs an evaluator here; "
                        "write it as a list of booleans")
    return np.asarray(ctx.transforms.plan([node]).run({})[0])


def _holds_node(value: Any) -> bool:
    if isinstance(value, Node):
        return True
    return isinstance(value, (list, tuple)) and any(_holds_node(v) for v in value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _mask(mask: np.ndarray) -> list[Any]:
    if mask.ndim == 0:
        raise SpecError("a 0-d boolean index (x[True]) is not supported; use x[None]")
    return [_Array(const(i.astype(np.int64)), f"a boolean mask of shape {mask.shape}")
            for i in np.nonzero(mask)] + [_MaskEnd(mask.shape)]


def items(ctx: Context, index: Sequence[Any]) -> list[Any]:
    """Index items normalized: ints, slices, None, Ellipsis and _Array
    entries; a mask leaves a _MaskEnd after its arrays."""
    out: list[Any] = []
    for item in index:
        item = static(item)
        if item is None or item is Ellipsis or isinstance(item, slice):
            out.append(item)
        elif isinstance(item, (bool, np.bool_)):
            raise SpecError("a boolean scalar cannot be an index (use x[None] for a new axis)")
        elif isinstance(item, (int, np.integer)):
            out.append(int(item))
        elif isinstance(item, float):
            raise SpecError(f"indices must be integers, got {item!r}")
        else:
            out.extend(_array_item(ctx, item))
    return out


def is_basic(normalized: Sequence[Any]) -> bool:
    return not any(isinstance(i, _Array) for i in normalized)


def _expanded(x: Node, normalized: list[Any]) -> list[Any]:
    """Ellipsis expanded, trailing full slices added, masks checked against
    the axes they cover (their marker dropped)."""
    if sum(1 for i in normalized if i is Ellipsis) > 1:
        raise SpecError("an index can only have a single ellipsis ('...')")
    used = sum(1 for i in normalized if i is not None and i is not Ellipsis
               and not isinstance(i, _MaskEnd))
    if used > x.ndim:
        raise ShapeError(f"too many indices for an array of shape {x.shape}: {used} axes "
                         "are indexed")
    fill = [slice(None)] * (x.ndim - used)
    out: list[Any] = []
    for item in normalized:
        if item is Ellipsis:
            out.extend(fill)
            fill = []
        elif isinstance(item, _MaskEnd):  # the arrays just added cover the mask's axes
            shape = item.shape
            axis = sum(1 for i in out if i is not None) - len(shape)
            covered = x.shape[axis:axis + len(shape)]
            if covered != shape:
                raise ShapeError(f"a boolean mask of shape {shape} does not match the axes "
                                 f"{tuple(range(axis, axis + len(shape)))} of shape {x.shape} "
                                 f"(sizes {covered})")
        else:
            out.append(item)
    return out + fill


def _check_constant(array: _Array, axis: int, size: int) -> Node:
    """Constant indices are checked (and negative ones wrapped) while
    building, so a bad one is an error at the expression, not at run time."""
    node = array.node
    if node.op != "const":
        return node
    value = node.attrs["value"]
    outside = value[(value < -size) | (value >= size)]
    if outside.size:
        raise ShapeError(f"index {int(outside.flat[0])} is out of range for axis {axis} of "
                         f"size {size}")
    (value,) = checked((size,), (value,))
    return const(value)


def lower(x: Node, normalized: list[Any]) -> Lowered:
    """numpy's advanced-indexing rules as steps (needs at least one array)."""
    entries = _expanded(x, normalized)
    basic: list[Any] = []
    arrays: list[Node] = []
    array_axes: list[int] = []   # axes of the basic result taken by arrays
    before = None                # result axes before the first int/array item
    advanced_at: list[int] = []  # positions of int/array items among the entries
    x_axis = y_axis = 0
    for position, item in enumerate(entries):
        if isinstance(item, _Array) or isinstance(item, int):
            advanced_at.append(position)
            if before is None:
                before = y_axis
        if isinstance(item, _Array):
            arrays.append(_check_constant(item, x_axis, x.shape[x_axis]))
            array_axes.append(y_axis)
            basic.append(slice(None))
            x_axis, y_axis = x_axis + 1, y_axis + 1
        elif isinstance(item, int):
            basic.append(item)
            x_axis += 1
        elif item is None:
            basic.append(None)
            y_axis += 1
        else:
            basic.append(item)
            x_axis, y_axis = x_axis + 1, y_axis + 1
    y_shape = selected_shape(x.shape, tuple(basic))
    try:
        lead = tuple(np.broadcast_shapes(*(a.shape for a in arrays)))
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ShapeError(f"index arrays of shapes {shapes} do not broadcast together") \
            from None
    rest = [a for a in range(len(y_shape)) if a not in array_axes]
    adjacent = advanced_at == list(range(advanced_at[0], advanced_at[-1] + 1))
    place = before if adjacent else 0
    n = len(lead)
    order = tuple([n + j for j in range(place)] + list(range(n))
                  + [n + j for j in range(place, len(rest))])
    gathered = lead + tuple(y_shape[a] for a in rest)
    return Lowered(tuple(basic), tuple(array_axes + rest), tuple(arrays), order,
                   tuple(gathered[o] for o in order))


def _trivial(basic: tuple[Any, ...]) -> bool:
    return all(i == slice(None) for i in basic)


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


def select(ctx: Context, x: Node, index: Sequence[Any]) -> Node:
    """x[index] with numpy's semantics (basic or advanced)."""
    normalized = items(ctx, index)
    if is_basic(normalized):
        return getitem(x, tuple(normalized))
    plan = lower(x, normalized)
    y = x if _trivial(plan.basic) else getitem(x, plan.basic)
    return N.transpose(gather(N.transpose(y, plan.perm), *plan.arrays), plan.order)


def update(ctx: Context, x: Node, index: Sequence[Any], v: Node, kind: str) -> Node:
    """x.at[index].set(v) (kind "set") or .add(v) (kind "add"): a copy of x.

    Advanced indices: `add` accumulates repeated positions; `set` keeps the
    last write of a repeated position (row-major order of the index arrays)."""
    normalized = items(ctx, index)
    if is_basic(normalized):
        return apply("setitem" if kind == "set" else "addat", (x, v),
                     {"index": tuple(normalized)})
    plan = lower(x, normalized)
    if v.ndim > len(plan.shape) or not _broadcasts(v.shape, plan.shape):
        shown = ", ".join(_describe(i) for i in normalized if not isinstance(i, _MaskEnd))
        raise ShapeError(f"a value of shape {v.shape} does not fit x[{shown}] of shape "
                         f"{plan.shape}")
    values = N.transpose(N.broadcast_to(v, plan.shape), _inverse(plan.order))
    scatter = scatter_set if kind == "set" else scatter_add
    trivial = _trivial(plan.basic)
    y = x if trivial else getitem(x, plan.basic)
    written = N.transpose(scatter(N.transpose(y, plan.perm), plan.arrays, values),
                          _inverse(plan.perm))
    return written if trivial else apply("setitem", (x, written), {"index": plan.basic})


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return tuple(np.broadcast_shapes(shape, target)) == tuple(target)
    except ValueError:
        return False


# ---- catalogue functions -------------------------------------------------------------

def _indices(ctx: Context, indices: Any, what: str = "indices") -> Node:
    found = items(ctx, [indices])
    if len(found) != 1 or not isinstance(found[0], (_Array, int)):
        raise SpecError(f"'{what}' must be integers (a list of ints or an integer input), "
                        "not a boolean mask")
    return found[0].node if isinstance(found[0], _Array) else const(np.int64(found[0]))


def take(ctx: Context, a: Any, indices: Any, axis: Any = None) -> Node:
    """numpy.take: a[..., indices, ...] along axis (None: of the flattened a)."""
    x = as_node(ctx, a)
    if axis is None:
        x, ax = N.reshape(x, (x.size,)), 0
    else:
        ax = one_axis("axis", axis, x.ndim)
    return select(ctx, x, [slice(None)] * ax + [_indices(ctx, indices)])


def _along(ctx: Context, x: Node, indices: Any, axis: Any) -> tuple[Node, list[Any]]:
    """(array, index items) of numpy's take_along_axis/put_along_axis."""
    idx = _indices(ctx, indices)
    if axis is None:
        x = N.reshape(x, (x.size,))
        if idx.ndim != 1:
            raise ShapeError(f"with axis=None the indices must be 1-D, got shape {idx.shape}")
        return x, [idx]
    ax = one_axis("axis", axis, x.ndim)
    if idx.ndim != x.ndim:
        raise ShapeError(f"indices of shape {idx.shape} must have as many axes as the array "
                         f"{x.shape}")
    out: list[Any] = []
    for d, n in enumerate(x.shape):
        if d == ax:
            out.append(idx)
        else:
            if idx.shape[d] not in (1, n) and n != 1:
                raise ShapeError(f"indices of shape {idx.shape} do not broadcast against the "
                                 f"array {x.shape} outside axis {ax}")
            out.append(np.arange(n).reshape(tuple(n if e == d else 1 for e in range(x.ndim))))
    return x, out


def take_along_axis(ctx: Context, arr: Any, indices: Any, axis: Any = -1) -> Node:
    x, index = _along(ctx, as_node(ctx, arr), indices, axis)
    return select(ctx, x, index)


def put_along_axis(ctx: Context, arr: Any, indices: Any, values: Any, axis: Any) -> Node:
    x, v = promote(ctx, arr, values)
    flat, index = _along(ctx, x, indices, axis)
    out = update(ctx, flat, index, v, "set")
    return N.reshape(out, x.shape)


FUNCTIONS = [
    define("take", take, "elements at integer indices along axis (None: of the flattened "
           "array), numpy.take; indices may be an integer input",
           "repeated indices take an element twice; their derivatives add up"),
    define("take_along_axis", take_along_axis, "arr picked along axis by integer indices of "
           "the same number of axes (the output of argsort-like orders), numpy's",
           "repeated indices take an element twice; their derivatives add up"),
    define("put_along_axis", put_along_axis, "a copy of arr with values written at indices "
           "along axis (numpy's, but functional: arr.at[...].set(values))",
           "of repeated indices the last write lands and gets the derivative; replaced "
           "elements of arr get 0"),
]
