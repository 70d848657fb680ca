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
