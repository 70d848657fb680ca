"""What one primitive is: a single row holding every rule about it.

Adding an op means adding one row in one family module; the transformations
(`autodiff.py`, `batching.py`), the evaluator and the sympy lowering read rows
and know no op by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape

Attrs = Mapping[str, Any]
# infer(inputs, attrs) -> (shape, dtype); raises ShapeError with a plain message.
InferRule = Callable[[tuple[Node, ...], Attrs], tuple[Shape, str]]
# vjp(g, out, needs) -> one cotangent node (or None = zero) per input of `out`;
# `needs[i]` is False when input i needs no cotangent, so none is built.
VjpRule = Callable[[Node, Node, tuple[bool, ...]], tuple[Node | None, ...]]
# jvp(tangents, out) -> tangent of out (None = zero); tangents[i] None = zero.
JvpRule = Callable[[tuple[Node | None, ...], Node], Node | None]
# batch(inputs, batched, attrs) -> output node with the batch axis at 0;
# batched[i] says whether inputs[i] carries a leading batch axis.
BatchRule = Callable[[tuple[Node, ...], tuple[bool, ...], Attrs], Node]
# sympy(*object_arrays, **attrs) -> object array of sympy expressions.
SympyRule = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Accuracy:
    """A documented exception to the accuracy bar of docs/accuracy.md (relative
    error 1e-13 for values and first derivatives, 1e-12 for second ones in
    float64; 1e-5 in float32).  The accuracy harness enforces `bound` instead of
    the bar for this order and dtype, and fails if the bound is not needed."""

    order: int  # 0: the value, 1: first derivatives, 2: second derivatives
    bound: float  # the measured worst relative error, rounded up
    reason: str  # why the bar cannot (or need not) be met
    dtype: str = "float64"
    variant: str = ""  # the harness case it is for ("ord=3" of norm); "": the op's own


@dataclass(frozen=True)
class Into:
    """A forward that writes into a buffer the planner gives it (the static
    memory plan, engine/memory.py): `call(out, *arrays, **attrs)` fills `out`
    (the node's shape and dtype) with exactly the bits `forward` returns.
    `scratch` buffers of the same shape and dtype are passed as the keyword
    `scratch` (a tuple) for kernels that need temporaries.  `inplace`: `out`
    may be one of the operands (a single ufunc call; numpy then reads each
    element before writing it).  A row with an Into promises that its
    allocating `forward` returns a fresh array, never (a view of) an operand:
    the memory plan lets such a result outlive its operands' buffers."""

    call: Callable[..., None]
    scratch: int = 0
    inplace: bool = False


@dataclass(frozen=True)
class Primitive:
    """Forward, derivative, batching and symbolic rules of one primitive op.

    `vjp`/`jvp` of None mean the op is piecewise constant (comparisons, sign,
    stop_gradient): its derivative is zero everywhere it exists.
    """

    name: str
    infer: InferRule
    forward: Callable[..., np.ndarray]
    vjp: VjpRule | None
    jvp: JvpRule | None
    batch: BatchRule
    sympy: SympyRule
    doc: str = ""
    kink: str = ""
    accuracy: tuple[Accuracy, ...] = ()  # documented exceptions to the accuracy bar
    # The in-place forward, for rows that are not a numpy ufunc (ufunc rows get
    # theirs from `into_form`); None: the planner lets the forward allocate.
    into: Into | None = None


def _ufunc_into(ufunc: np.ufunc) -> Into:
    def call(out: np.ndarray, *arrays: np.ndarray) -> None:
        ufunc(*arrays, out=out)

    return Into(call, inplace=True)


def into_form(row: Primitive) -> Into | None:
    """The row's in-place forward: its own, or the ufunc's `out=` when the
    forward is a plain numpy ufunc (the same loop, so the same bits)."""
    if row.into is not None:
        return row.into
    forward = row.forward
    if isinstance(forward, np.ufunc) and forward.nout == 1:
        return _ufunc_into(forward)
    return None
