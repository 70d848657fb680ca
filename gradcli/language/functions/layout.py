"""numpy's splitting, stacking and axis-moving functions, built from slices,
concatenations, reshapes and transposes.

The split family returns a Python list of arrays: an expression indexes it
(`split(x, 3)[0]`, `split(x, 3)[1:]`) and a `let` with several names
unpacks it (`a, b, c: split(x, 3)`).  A list of equal-shaped arrays used as
one value is stacked, as `np.array(np.split(x, 3))` would be.
"""

from __future__ import annotations

from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import getitem
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import int_sequence, node_list, one_axis
from gradcli.language.functions.context import Context, as_node, promote
from gradcli.language.functions.registry import define

# A list result is a Python list of graph nodes: more pieces than this is a
# typo (split(x, 10**9)), not a program.
MAX_PIECES = 10_000

# ---- split -------------------------------------------------------------------------


def _cuts(sections: Any, n: int, even: bool) -> list[int]:
    """Split points along an axis of length n: an int is a number of
    sections (equal ones for split, numpy's uneven ones for array_split);
    a list is the indices where pieces start (numpy's rule for each)."""
    if isinstance(sections, (list, tuple)):
        points = list(int_sequence("indices_or_sections", list(sections)))
        return [0] + points + [n]
    count = int_sequence("indices_or_sections", sections)
    if len(count) != 1 or count[0] < 1:
        raise SpecError(f"number of sections must be a positive integer, got {sections!r}")
    count_ = count[0]
    if count_ > MAX_PIECES:
        raise SpecError(f"{count_} sections would make a list of more than {MAX_PIECES} arrays")
    if even and n % count_:
        raise ShapeError(f"an axis of length {n} does not split into {count_} equal sections "
                         "(array_split allows unequal ones)")
    size, extra = divmod(n, count_)
    cuts = [0]
    for k in range(count_):
        cuts.append(cuts[-1] + size + (1 if k < extra else 0))
    return cuts


def _pieces(x: Node, cuts: list[int], axis: int) -> list[Node]:
    n = x.shape[axis]
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        part = slice(lo, hi)  # numpy slices: negative and out-of-range points clip
        out.append(getitem(x, (slice(None),) * axis + (part,)) if (lo, hi) != (0, n) else x)
    return out


def _split(ctx: Context, ary: Any, sections: Any, axis: Any, even: bool) -> list[Node]:
    x = as_node(ctx, ary)
    if x.ndim == 0:
        raise ShapeError("a 0-d array cannot be split")
    ax = one_axis("axis", axis, x.ndim)
    return _pieces(x, _cuts(sections, x.shape[ax], even), ax)


def split(ctx: Context, ary: Any, indices_or_sections: Any, axis: Any = 0) -> list[Node]:
    return _split(ctx, ary, indices_or_sections, axis, even=True)


def array_split(ctx: Context, ary: Any, indices_or_sections: Any, axis: Any = 0) -> list[Node]:
    return _split(ctx, ary, indices_or_sections, axis, even=False)


def hsplit(ctx: Context, ary: Any, indices_or_sections: Any) -> list[Node]:
    x = as_node(ctx, ary)
    return _split(ctx, x, indices_or_sections, 1 if x.ndim > 1 else 0, even=True)


def vsplit(ctx: Context, ary: Any, indices_or_sections: Any) -> list[Node]:
    x = as_node(ctx, ary)
    if x.ndim < 2:
        raise ShapeError(f"vsplit needs at least 2 axes, got shape {x.shape}")
    return _split(ctx, x, indices_or_sections, 0, even=True)


def dsplit(ctx: Context, ary: Any, indices_or_sections: Any) -> list[Node]:
    x = as_node(ctx, ary)
    if x.ndim < 3:
        raise ShapeError(f"dsplit needs at least 3 axes, got shape {x.shape}")
    return _split(ctx, x, indices_or_sections, 2, even=True)


# ---- at least n axes ---------------------------------------------------------------

def _at_least(x: Node, n: int) -> Node:
    if x.ndim >= n:
        return x
    if n == 1 or x.ndim == 0:
        return N.reshape(x, (1,) * (n - x.ndim) + x.shape)
    if n == 2:
        return N.reshape(x, (1,) + x.shape)
    return N.reshape(x, (1,) + x.shape + (1,) if x.ndim == 1 else x.shape + (1,))


def _at_least_all(ctx: Context, arys: tuple[Any, ...], n: int) -> Node | list[Node]:
    if not arys:
        raise SpecError("needs at least one array")
    out = [_at_least(as_node(ctx, a), n) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(ctx: Context, *arys: Any) -> Node | list[Node]:
    return _at_least_all(ctx, arys, 1)


def atleast_2d(ctx: Context, *arys: Any) -> Node | list[Node]:
    return _at_least_all(ctx, arys, 2)


def atleast_3d(ctx: Context, *arys: Any) -> Node | list[Node]:
    return _at_least_all(ctx, arys, 3)


# ---- stacking ------------------------------------------------------------------------

def _join(parts: list[Node], axis: int) -> Node:
    first = parts[0].shape
    for p in parts[1:]:
        if p.ndim != len(first) or any(a != b for i, (a, b) in enumerate(zip(p.shape, first))
                                       if i != axis):
            shapes = ", ".join(str(q.shape) for q in parts)
            raise ShapeError(f"cannot join shapes {shapes} along axis {axis}")
    return parts[0] if len(parts) == 1 else apply("concat", parts, {"axis": axis})


def _arrays(ctx: Context, tup: Any) -> list[Node]:
    return promote(ctx, *node_list("tup", tup))


def vstack(ctx: Context, tup: Any) -> Node:
    return _join([_at_least(p, 2) for p in _arrays(ctx, tup)], 0)


def hstack(ctx: Context, tup: Any) -> Node:
    parts = [_at_least(p, 1) for p in _arrays(ctx, tup)]
    return _join(parts, 0 if parts[0].ndim == 1 else 1)


def dstack(ctx: Context, tup: Any) -> Node:
    return _join([_at_least(p, 3) for p in _arrays(ctx, tup)], 2)


def column_stack(ctx: Context, tup: Any) -> Node:
    """1-D arrays become columns; 2-D ones are joined as they are."""
    parts = [N.reshape(p, (p.size, 1)) if p.ndim < 2 else p for p in _arrays(ctx, tup)]
    return _join(parts, 1)


def append(ctx: Context, arr: Any, values: Any, axis: Any = None) -> Node:
    """numpy.append: both flattened (axis=None), else joined along axis."""
    x, v = promote(ctx, arr, values)
    if axis is None:
        return _join([N.reshape(x, (x.size,)), N.reshape(v, (v.size,))], 0)
    if x.ndim == 0:
        raise ShapeError("a 0-d array has no axis to append along (use axis=None)")
    if v.ndim != x.ndim:
        raise ShapeError(f"values of shape {v.shape} must have the {x.ndim} axes of arr "
                         f"{x.shape}")
    return _join([x, v], one_axis("axis", axis, x.ndim))


# ---- moving axes ---------------------------------------------------------------------

def moveaxis(ctx: Context, a: Any, source: Any, destination: Any) -> Node:
    x = as_node(ctx, a)
    src = [one_axis("source", s, x.ndim) for s in int_sequence("source", source)]
    dst = [one_axis("destination", d, x.ndim) for d in int_sequence("destination", destination)]
    if len(src) != len(dst):
        raise SpecError("'source' and 'destination' must name the same number of axes")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError("'source' and 'destination' must not repeat an axis")
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return N.transpose(x, order)


def swapaxes(ctx: Context, a: Any, axis1: Any, axis2: Any) -> Node:
    x = as_node(ctx, a)
    i, j = one_axis("axis1", axis1, x.ndim), one_axis("axis2", axis2, x.ndim)
    perm = list(range(x.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return N.transpose(x, perm)


LIST = "; gives a list of arrays: index it (parts[0]) or unpack it in let ('a, b: ...')"

FUNCTIONS = [
    define("split", split, "equal pieces along axis: a number of sections, or the indices "
           "where pieces start" + LIST),
    define("array_split", array_split, "split, but a number of sections need not divide the "
           "axis (the first pieces are one longer)" + LIST),
    define("hsplit", hsplit, "split along axis 1 (axis 0 for 1-D arrays)" + LIST),
    define("vsplit", vsplit, "split along axis 0 (at least 2-D)" + LIST),
    define("dsplit", dsplit, "split along axis 2 (at least 3-D)" + LIST),
    define("vstack", vstack, "join along axis 0, 1-D arrays as rows"),
    define("hstack", hstack, "join along axis 1 (axis 0 for 1-D arrays)"),
    define("dstack", dstack, "join along axis 2, after making every array 3-D"),
    define("column_stack", column_stack, "join 1-D arrays as columns (2-D ones as they are)"),
    define("append", append, "arr then values: flattened (axis=None) or joined along axis"),
    define("moveaxis", moveaxis, "move axes to new positions, the others keeping their order"),
    define("swapaxes", swapaxes, "exchange two axes"),
    define("atleast_1d", atleast_1d, "the array with at least 1 axis (several arrays: a list)"),
    define("atleast_2d", atleast_2d, "the array with at least 2 axes, (n,) -> (1, n) (several "
           "arrays: a list)"),
    define("atleast_3d", atleast_3d, "the array with at least 3 axes, (n,) -> (1, n, 1), "
           "(m, n) -> (m, n, 1) (several arrays: a list)"),
]
