"""ONNX operators lowered to gradcli nodes: arithmetic, activations,
matrix products and the layout operators (onnx_nn.py has convolutions,
pools and normalisation).

A value is a graph node or, when everything it depends on is known while
the model is built (initializers of integer type, Constant nodes, the
static shapes Shape reads), a numpy array: shape computations (Shape ->
Gather -> Unsqueeze -> Concat -> Reshape, as PyTorch exports `x.view(x.size(0),
-1)`) are folded to constants here, so Reshape, Slice, Squeeze and friends
get the static arguments the graph needs.  Every function takes a `Step`
(the node being lowered and the tools) and the values of its inputs (None for
an optional input left out), and returns the value of its first output or a
list of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.errors import ShapeError, SpecError
from gradcli.language.importers.base import GraphCall
from gradcli.language.importers.onnx_file import OnnxNode

Value = Node | np.ndarray
Op = Callable[["Step", list[Any]], Any]


@dataclass
class Step:
    """One ONNX node being lowered: its attributes and the problem's tools."""

    call: GraphCall
    node: OnnxNode
    opset: int

    @property
    def N(self) -> Any:
        return self.call.nodes

    def fn(self, name: str, *args: Any, **kwargs: Any) -> Node:
        return self.call.function(name, *args, **kwargs)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.node.attrs.get(name, default)

    def fail(self, message: str) -> SpecError:
        return SpecError(message)

    def node_of(self, value: Value) -> Node:
        """A node for a value: constants become constant nodes, floats in the
        problem's dtype (a float32 model runs in float64 unless --dtype float32)."""
        if isinstance(value, Node):
            return value
        array = np.asarray(value)
        if array.dtype.kind == "f":
            return const(array.astype(self.call.ctx.dtype), self.call.ctx.dtype)
        if array.dtype.kind == "b":
            return const(array, "bool")
        return const(array.astype("int64"), "int64")

    def float_node(self, value: Value) -> Node:
        node = self.node_of(value)
        if not node.is_float:
            return self.N.cast(node, self.call.ctx.dtype)
        return node

    def constant(self, value: Value | None, what: str) -> np.ndarray:
        """A value that must be known while the model is built (a shape, axes)."""
        if value is None:
            raise self.fail(f"needs its {what}")
        if isinstance(value, Node):
            raise self.fail(f"its {what} must be a constant (from initializers, Constant "
                            "nodes and Shape), but it is computed from the model's inputs; "
                            "gradcli builds graphs of static shapes")
        return np.asarray(value)

    def ints(self, value: Value | None, what: str) -> tuple[int, ...]:
        array = self.constant(value, what)
        if array.dtype.kind not in "iu":
            raise self.fail(f"its {what} must be integers, got {array.dtype}")
        return tuple(int(v) for v in array.reshape(-1))

    def axis(self, axis: int, rank: int, what: str = "axis") -> int:
        if not -rank <= axis < max(rank, 1):
            raise self.fail(f"{what} {axis} is out of range for {rank} axes")
        return axis % rank if rank else 0


def is_const(*values: Any) -> bool:
    return all(not isinstance(v, Node) for v in values if v is not None)


def need(step: Step, args: list[Any], count: int) -> list[Any]:
    if len(args) < count or any(a is None for a in args[:count]):
        raise step.fail(f"needs {count} inputs, got {sum(a is not None for a in args)}")
    return args


def shape_of(value: Value) -> tuple[int, ...]:
    return tuple(value.shape)


# ---- arithmetic --------------------------------------------------------------------

def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # ONNX truncates, numpy floors
        q = np.abs(a) // np.abs(b)
        return (np.sign(a) * np.sign(b) * q).astype(np.result_type(a, b))
    return a / b


FOLDS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _int_div,
    "Pow": np.power}


def _binary(step: Step, args: list[Any]) -> Value:
    a, b = need(step, args, 2)[:2]
    op = step.node.op
    if is_const(a, b):
        return np.asarray(FOLDS[op](np.asarray(a), np.asarray(b)))
    N = step.N
    if op == "Pow":  # the exponent may be an integer tensor (Pow's T1)
        x, y = step.float_node(a), step.float_node(b)
        if not is_const(b) or np.asarray(b).size != 1:
            return N.power(x, y)
        p = float(np.asarray(b).reshape(-1)[0])
        if p == 2.0:   # torch exports x**2 so: a square has a cheaper, exact derivative
            return N.square(x)
        return N.power(x, y)
    x, y = step.node_of(a), step.node_of(b)
    if not (x.is_float and y.is_float):
        raise step.fail("integer arithmetic on values computed from the model's inputs is not "
                        "differentiable; gradcli folds it only on constants")
    build = {"Add": N.add, "Sub": N.sub, "Mul": N.mul, "Div": N.div}[op]
    return build(x, y)


UNARY = {"Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Erf": "erf", "Relu": "relu",
         "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus", "Neg": "negative",
         "Abs": "abs", "Reciprocal": "reciprocal", "Sin": "sin", "Cos": "cos"}


def _unary(step: Step, args: list[Any]) -> Value:
    (x,) = need(step, args, 1)[:1]
    if step.node.op == "Neg" and is_const(x):
        return -np.asarray(x)
    return step.fn(UNARY[step.node.op], step.float_node(x))


def _gemm(step: Step, args: list[Any]) -> Value:
    a, b = (step.float_node(v) for v in need(step, args, 2)[:2])
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"takes matrices, got shapes {a.shape} and {b.shape}")
    N = step.N
    if step.attr("transA", 0):
        a = N.transpose(a, (1, 0))
    if step.attr("transB", 0):
        b = N.transpose(b, (1, 0))
    y = step.fn("matmul", a, b)
    alpha, beta = float(step.attr("alpha", 1.0)), float(step.attr("beta", 1.0))
    if alpha != 1.0:
        y = N.mul(y, N.scalar(alpha, y))
    c = args[2] if len(args) > 2 else None
    if c is not None:
        c = step.float_node(c)
        y = N.add(y, c if beta == 1.0 else N.mul(c, N.scalar(beta, c)))
    return y


def _matmul(step: Step, args: list[Any]) -> Value:
    a, b = need(step, args, 2)[:2]
    return step.fn("matmul", step.float_node(a), step.float_node(b))


OPS: dict[str, Op] = {**{name: _binary for name in FOLDS}, **{name: _unary for name in UNARY},
                      "Gemm": _gemm, "MatMul": _matmul}


def outputs_of(result: Value | Sequence[Value]) -> list[Value]:
    return list(result) if isinstance(result, list) else [result]
