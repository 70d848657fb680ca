"""Gathers and scatters: integer-array indexing with the indices as INPUT
nodes (constants or integer inputs), so `x[idx]` with an integer input is
an ordinary graph node and every derivative program stays a graph.

The three rows share one normalized form; numpy's full indexing (slices,
ints, None, masks, where the advanced axes go) is lowered onto it by the
catalogue (`language/functions/indexing.py`):

    gather(x, i_0, ..., i_{k-1})          out[d, r] = x[i_0[d], ..., i_{k-1}[d], r]
    scatter_add(x, i_0, ..., i_{k-1}, v)  x with v[d, r] added at [i_0[d], ..., r]
    scatter_set(x, i_0, ..., i_{k-1}, v)  x with x[i_0[d], ..., r] = v[d, r]

The k index arrays broadcast together to a shape D and index the leading
k axes of x; the other axes R = x.shape[k:] are kept, so the result (and
v) has shape D + R.  Negative indices count from the end (numpy); an index
out of range is an error when the program runs.

The vjp of a gather is a scatter-add (repeated indices accumulate their
cotangents), the vjp of a scatter-add is a gather, so derivatives of any
order stay in this family.  scatter_set writes the LAST of repeated
indices (row-major order of D) and gives the other writes derivative 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape, const
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import result_dtype
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import NoSymbolicForm, ShapeError, SpecError

INT_KINDS = ("int", "uint")


def is_int(node: Node) -> bool:
    return node.dtype.startswith(INT_KINDS)


def index_shape(x: Node, idx: tuple[Node, ...]) -> Shape:
    """D, the broadcast shape of the index arrays, after checking them."""
    if not 1 <= len(idx) <= x.ndim:
        raise ShapeError(f"{len(idx)} index arrays do not fit an array of shape {x.shape}")
    bad = [i.dtype for i in idx if not is_int(i)]
    if bad:
        raise ShapeError(f"index arrays must be integers, got {bad[0]}")
    try:
        return tuple(np.broadcast_shapes(*(i.shape for i in idx)))
    except ValueError:
        shapes = ", ".join(str(i.shape) for i in idx)
        raise ShapeError(f"index arrays of shapes {shapes} do not broadcast together") from None


def _infer_gather(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, idx = inputs[0], inputs[1:]
    return index_shape(x, idx) + x.shape[len(idx):], x.dtype


def _infer_scatter(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, idx, v = inputs[0], inputs[1:-1], inputs[-1]
    want = index_shape(x, idx) + x.shape[len(idx):]
    if v.shape != want:
        raise ShapeError(f"scatter values of shape {v.shape} must have shape {want}")
    return x.shape, result_dtype((x, v))


# ---- forward ------------------------------------------------------------------

def _ints(array: Any) -> np.ndarray:
    """Index values as an int array (sympy lowering hands over sympy Integers)."""
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return array
    out = np.empty(array.shape, dtype=np.int64)
    for position in np.ndindex(array.shape):
        item = array[position]
        if not getattr(item, "is_Integer", False) and not isinstance(item, (int, np.integer)):
            raise NoSymbolicForm("an index computed from a float value (argsort) has no "
                                 "symbolic form")
        out[position] = int(item)
    return out


def checked(shape: Shape, idx: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """The index arrays with negative values wrapped, or an error naming
    the first index out of range (numpy raises IndexError there)."""
    out = []
    for axis, raw in enumerate(idx):
        i, n = _ints(raw), shape[axis]
        if i.size:
            low, high = int(i.min()), int(i.max())
            if low < -n or high >= n:
                bad = low if low < -n else high
                raise SpecError(f"index {bad} is out of range for an axis of size {n}")
            if low < 0:
                i = np.where(i < 0, i + n, i)
        out.append(i)
    return tuple(out)


def _forward_gather(x: np.ndarray, *idx: np.ndarray) -> np.ndarray:
    return np.asarray(x[checked(x.shape, idx)])


def _forward_scatter_add(x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    idx, v = rest[:-1], rest[-1]
    out = np.array(x, dtype=np.result_type(x, v))
    np.add.at(out, checked(x.shape, idx), v)
    return out


def last_writes(flat: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of every value of `flat`, in order."""
    _, first_from_end = np.unique(flat[::-1], return_index=True)
    return np.sort(flat.size - 1 - first_from_end)


def _forward_scatter_set(x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    idx, v = rest[:-1], rest[-1]
    out = np.array(x, dtype=np.result_type(x, v))
    norm = checked(x.shape, idx)
    lead = tuple(np.broadcast_shapes(*(i.shape for i in norm)))
    full = [np.broadcast_to(i, lead).ravel() for i in norm]
    count = len(full[0])
    if count:
        keep = last_writes(np.ravel_multi_index(full, x.shape[:len(idx)]))
        values = np.reshape(v, (count,) + x.shape[len(idx):])
        out[tuple(f[keep] for f in full)] = values[keep]
    return out


# ---- builders -----------------------------------------------------------------

def gather(x: Node, *idx: Node) -> Node:
    return apply("gather", (x, *idx))


def scatter_add(x: Node, idx: tuple[Node, ...], v: Node) -> Node:
    return apply("scatter_add", (x, *idx, v))


def scatter_set(x: Node, idx: tuple[Node, ...], v: Node) -> Node:
    return apply("scatter_set", (x, *idx, v))


def _static_unique(x: Node, idx: tuple[Node, ...]) -> bool:
    """True when constant indices never repeat a position (no winners needed)."""
    if not all(i.op == "const" for i in idx):
        return False
    norm = checked(x.shape, tuple(i.attrs["value"] for i in idx))
    lead = tuple(np.broadcast_shapes(*(i.shape for i in norm)))
    full = [np.broadcast_to(i, lead).ravel() for i in norm]
    flat = np.ravel_multi_index(full, x.shape[:len(idx)]) if full[0].size else full[0]
    return len(np.unique(flat)) == flat.size


def winners(x: Node, idx: tuple[Node, ...], like: Node) -> Node:
    """1.0 where a write of scatter_set(x, idx, v) is the one that lands
    (the last write to its position), 0.0 for the overwritten ones, with
    shape D + (1,) * len(R) so it broadcasts against v.  Built from the
    scatter itself: every write stores its own number, then reads back."""
    lead = index_shape(x, idx)
    tail = (1,) * (x.ndim - len(idx))
    if _static_unique(x, idx):
        return N.fill(1.0, lead + tail, like.dtype)
    ids = const(np.arange(int(np.prod(lead, dtype=np.int64)), dtype=np.int64).reshape(lead))
    stamped = scatter_set(const(np.full(x.shape[:len(idx)], -1, dtype=np.int64)), idx, ids)
    landed = N.mask(N.compare("eq", gather(stamped, *idx), ids), like)
    return N.reshape(landed, lead + tail)


# ---- derivatives ----------------------------------------------------------------

def _vjp_gather(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x, idx = out.inputs[0], out.inputs[1:]
    gx = scatter_add(N.zeros_like(x), idx, g) if needs[0] else None
    return (gx,) + (None,) * len(idx)


def _jvp_gather(t: tuple[Node | None, ...], out: Node) -> Node | None:
    return None if t[0] is None else gather(t[0], *out.inputs[1:])


def _vjp_scatter_add(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    idx = out.inputs[1:-1]
    gv = gather(g, *idx) if needs[-1] else None
    return (g if needs[0] else None,) + (None,) * len(idx) + (gv,)


def _vjp_scatter_set(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x, idx, v = out.inputs[0], out.inputs[1:-1], out.inputs[-1]
    gx = scatter_set(g, idx, N.fill(0.0, v.shape, g.dtype)) if needs[0] else None
    gv = N.mul(gather(g, *idx), winners(x, idx, g)) if needs[-1] else None
    return (gx,) + (None,) * len(idx) + (gv,)


def _jvp_scatter(kind: str):
    def jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
        tx, tv = t[0], t[-1]
        if tx is None and tv is None:
            return None
        if tv is None and kind == "scatter_add":
            return tx
        v = out.inputs[-1]
        tx = N.zeros_like(out) if tx is None else tx
        tv = N.fill(0.0, v.shape, out.dtype) if tv is None else tv
        return apply(kind, (tx, *out.inputs[1:-1], tv))

    return jvp


# ---- batching -------------------------------------------------------------------

def _aligned(idx: tuple[Node, ...], flags: tuple[bool, ...]) -> tuple[list[Node], int, int]:
    """Batched index arrays reshaped so the batch axis lines up in front of
    the broadcast shape D (unbatched ones broadcast from the right); the
    rank of D and the batch size."""
    rank = max(i.ndim - int(b) for i, b in zip(idx, flags))
    size = next((i.shape[0] for i, b in zip(idx, flags) if b), 0)
    out = [N.reshape(i, (i.shape[0],) + (1,) * (rank + 1 - i.ndim) + i.shape[1:]) if b else i
           for i, b in zip(idx, flags)]
    return out, rank, size


def _iota(size: int, rank: int) -> Node:
    """The batch axis as an index array: 0..size-1 along the front of D."""
    return const(np.arange(size, dtype=np.int64).reshape((size,) + (1,) * rank))


def _lift(x: Node, batched: bool, size: int) -> Node:
    return x if batched else N.broadcast_to(N.reshape(x, (1,) + x.shape), (size,) + x.shape)


def _batch_gather(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    x, idx = inputs[0], inputs[1:]
    aligned, rank, size = _aligned(idx, batched[1:])
    if not batched[0]:
        return gather(x, *aligned)
    return gather(x, _iota(x.shape[0], rank), *aligned)


def _batch_scatter(kind: str):
    def rule(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
        x, idx, v = inputs[0], inputs[1:-1], inputs[-1]
        size = next(n.shape[0] for n, b in zip(inputs, batched) if b)
        aligned, rank, _ = _aligned(idx, batched[1:-1])
        x, v = _lift(x, batched[0], size), _lift(v, batched[-1], size)
        return apply(kind, (x, _iota(size, rank), *aligned, v))

    return rule


# ---- sympy -------------------------------------------------------------------------

def _sym_gather(x: np.ndarray, *idx: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=object)
    return np.asarray(x[checked(x.shape, idx)], dtype=object)


def _sym_scatter(forward):
    def rule(x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        idx = tuple(_ints(i) for i in rest[:-1])
        return forward(np.asarray(x, dtype=object), *idx, np.asarray(rest[-1], dtype=object))

    return rule


ROWS = [
    Primitive("gather", _infer_gather, _forward_gather, _vjp_gather, _jvp_gather,
              _batch_gather, _sym_gather,
              "x[i0, i1, ...] with integer index arrays (inputs of the graph) over the "
              "leading axes; numpy's advanced indexing is built on it",
              "integer indices are never differentiated; a repeated index gathers the same "
              "element twice, so its cotangents add up"),
    Primitive("scatter_add", _infer_scatter, _forward_scatter_add, _vjp_scatter_add,
              _jvp_scatter("scatter_add"), _batch_scatter("scatter_add"),
              _sym_scatter(_forward_scatter_add),
              "x.at[i0, i1, ...].add(v): a copy of x with v added at the indexed positions; "
              "the vjp of gather",
              "repeated indices accumulate (each write adds)"),
    Primitive("scatter_set", _infer_scatter, _forward_scatter_set, _vjp_scatter_set,
              _jvp_scatter("scatter_set"), _batch_scatter("scatter_set"),
              _sym_scatter(_forward_scatter_set),
              "x.at[i0, i1, ...].set(v): a copy of x with the indexed positions replaced by v",
              "of repeated indices the last write (row-major order) lands and gets the "
              "derivative; overwritten writes and replaced elements of x get 0"),
]
