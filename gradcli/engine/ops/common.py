"""Shared pieces for op rows: dtype rules, elementwise shape/batch rules and
lazy sympy vectorisation (sympy is imported only when a rule runs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Attrs
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError


def result_dtype(inputs: tuple[Node, ...]) -> str:
    """Float if any operand is float (the problem has one float dtype); else the first."""
    for node in inputs:
        if node.is_float:
            return node.dtype
    return inputs[0].dtype if inputs else "float64"


def broadcast(inputs: tuple[Node, ...]) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*(i.shape for i in inputs)))
    except ValueError:
        shapes = " and ".join(str(i.shape) for i in inputs)
        raise ShapeError(f"shapes {shapes} do not broadcast together") from None


def infer_elementwise(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return broadcast(inputs), result_dtype(inputs)


def infer_predicate(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return broadcast(inputs), "bool"


def infer_same(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return inputs[0].shape, inputs[0].dtype


def batch_elementwise(op: str) -> Callable[[tuple[Node, ...], tuple[bool, ...], Attrs], Node]:
    """Batched operands keep axis 0 and get singleton axes so that numpy's
    trailing-axis broadcasting lines up their other axes with unbatched ones."""

    def rule(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
        rank = max(x.ndim - int(b) for x, b in zip(inputs, batched))
        aligned = []
        for x, b in zip(inputs, batched):
            if b and x.ndim - 1 < rank:
                x = N.reshape(x, (x.shape[0],) + (1,) * (rank - x.ndim + 1) + x.shape[1:])
            elif not b and any(batched) and x.ndim > rank:
                raise AssertionError("unbatched operand of higher rank")  # pragma: no cover
            aligned.append(x)
        return apply(op, aligned, attrs)

    return rule


def keep_dtype(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """Wrap a numpy function so the result has the first operand's float dtype
    (math.erf and friends return float64; float32 problems stay float32)."""

    def forward(x: np.ndarray, *rest: np.ndarray, **attrs: Any) -> np.ndarray:
        out = np.asarray(fn(x, *rest, **attrs))
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    return forward


def sym_elementwise(build: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """A sympy rule applying `build(sympy, *scalars)` to every element."""

    def rule(*arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        import sympy

        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=object) for a in arrays))
        out = np.empty(arrays[0].shape, dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = build(sympy, *(a[index] for a in arrays))
        return out

    # each element on its own: a caller may lower a large node in pieces
    rule.elementwise = True  # type: ignore[attr-defined]
    return rule


def sym_numpy(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A sympy rule that is the numpy forward itself applied to object arrays
    (structural ops: reshapes, slices, sums, products)."""

    def rule(*arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        return np.asarray(fn(*(np.asarray(a, dtype=object) for a in arrays), **attrs),
                          dtype=object)

    return rule


def sym_add_over(x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """The sum over `axes` of an object array of sympy expressions, each as
    one sympy.Add of its terms: numpy's own sum adds them pairwise, and every
    sympy addition re-sorts the terms so far, which made a sum of 10,000
    terms cost minutes."""
    import sympy

    x = np.asarray(x, dtype=object)
    axes = [a % x.ndim for a in axes] if x.ndim else []
    moved = np.moveaxis(x, axes, range(x.ndim - len(axes), x.ndim))
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    out = np.empty(flat.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sympy.Add(*flat[index])
    return out


def sym_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """matmul of object arrays (stacks of matrices), each element one sympy.Add."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    return sym_add_over(a[..., :, :, None] * b[..., None, :, :], (-2,))


def like_infer(value: Any, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Give a numpy result the dtype `result_dtype` promised (numpy promotes
    int64 @ float32 to float64; a float32 problem must stay float32)."""
    value = np.asarray(value)
    if value.dtype == arrays[0].dtype == arrays[-1].dtype:
        return value  # the common case: operands of the problem's own dtype
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    want = floats[0] if floats else arrays[0].dtype
    return value if value.dtype == want else value.astype(want)


def add_all(terms: list[Node]) -> Node | None:
    """The sum of derivative terms; None (a zero) when there are none."""
    return None if not terms else terms[0] if len(terms) == 1 else N.add(terms[0],
                                                                          add_all(terms[1:]))
