"""Elementwise functions: the primitives themselves, and the activations
built from them in forms that are exact where a naive formula is not."""

from __future__ import annotations

import math
from typing import Any

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import broadcast
from gradcli.engine.ops.row import Accuracy
from gradcli.errors import SpecError
from gradcli.language.functions.args import bool_arg, number_arg
from gradcli.language.functions.context import Context, condition, elementwise, promote, to_float
from gradcli.language.functions.registry import Function, define

TIES = "ties split the derivative evenly (1/2 to each operand)"


def c(value: float, like: Node) -> Node:
    return N.scalar(value, like)


def _direct(name: str) -> Function:
    """A catalogue entry that is one unary float primitive."""

    def impl(ctx: Context, x: Any) -> Node:
        return N.unary(name, to_float(ctx, x))

    row = TABLE[name]
    return define(name, impl, row.doc, row.kink, row.accuracy)


def abs_(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)  # abs of integers stays integer, as in numpy
    return N.unary("abs", x)


def sign(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)
    return N.unary("sign", x)


def square(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)
    return N.mul(x, x)


def _param(ctx: Context, arg: str, value: Any) -> Node:
    """A parameter like alpha: a number, or an array (then differentiable too)."""
    if isinstance(value, Node):
        return value
    return const(number_arg(arg, value), ctx.dtype)


def relu(ctx: Context, x: Any) -> Node:
    x = to_float(ctx, x)
    return N.where(N.compare("gt", x, c(0.0, x)), x, c(0.0, x))


def leaky_relu(ctx: Context, x: Any, alpha: Any = 0.01) -> Node:
    x, a = elementwise(ctx, to_float(ctx, x), _param(ctx, "alpha", alpha))
    return N.where(N.compare("gt", x, c(0.0, x)), x, N.mul(a, x))


def elu(ctx: Context, x: Any, alpha: Any = 1.0) -> Node:
    x, a = elementwise(ctx, to_float(ctx, x), _param(ctx, "alpha", alpha))
    positive = N.compare("gt", x, c(0.0, x))
    # The negative branch sees min(x, 0) only (the double-where trick): for a
    # huge positive x, expm1(x) = inf would otherwise turn the zero cotangent
    # of the branch not taken into 0 * inf = nan.
    clamped = N.where(positive, c(0.0, x), x)
    return N.where(positive, x, N.mul(a, N.unary("expm1", clamped)))


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(ctx: Context, x: Any, approximate: Any = False) -> Node:
    x = to_float(ctx, x)
    if bool_arg("approximate", approximate):
        # 0.5 x (1 + tanh(z)) = x sigmoid(2z): the same function without the
        # cancellation of 1 + tanh(z) for negative x.
        cube = N.mul(N.mul(x, x), x)
        two_z = N.mul(c(2 * SQRT_2_OVER_PI, x), N.add(x, N.mul(c(0.044715, x), cube)))
        return N.mul(x, N.unary("sigmoid", two_z))
    # 0.5 x erfc(-x / sqrt 2) = 0.5 x (1 + erf(x / sqrt 2)), exact in the left tail.
    return N.mul(N.mul(c(0.5, x), x), N.unary("erfc", N.mul(c(-1 / math.sqrt(2.0), x), x)))


GELU_TAIL = ("Phi(x) = erfc(-x/sqrt 2)/2 takes the rounded argument -x/sqrt 2 (half an "
             "ulp off), and erfc's relative sensitivity to its argument is 2z**2: the left "
             "tail loses up to x**2 * eps digits")
GELU_ACCURACY = (
    Accuracy(0, 2e-13, f"{GELU_TAIL}; 1.7e-13 at x = -35.5"),
    Accuracy(1, 2e-13, f"{GELU_TAIL}; 1.7e-13 at x = -30.5"),
    Accuracy(0, 2e-5, f"{GELU_TAIL}; 1.1e-5 at x = -13", "float32"),
)


def silu(ctx: Context, x: Any) -> Node:
    x = to_float(ctx, x)
    return N.mul(x, N.unary("sigmoid", x))


def arctan2(ctx: Context, y: Any, x: Any) -> Node:
    y, x = elementwise(ctx, to_float(ctx, y), x)
    return apply("arctan2", (y, x))


def maximum(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return apply("maximum", (a, b))


def minimum(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return N.neg(apply("maximum", (N.neg(a), N.neg(b))))


def clip(ctx: Context, x: Any, lo: Any, hi: Any) -> Node:
    if lo is None and hi is None:
        raise SpecError("at most one of 'lo' and 'hi' can be None")
    out = _promoted(ctx, x, lo, hi)
    if lo is not None:
        out = maximum(ctx, out, lo)
    if hi is not None:
        out = minimum(ctx, out, hi)
    return out


def _promoted(ctx: Context, x: Any, *others: Any) -> Node:
    """x promoted with the others present (a float bound makes an int x float)."""
    present = [o for o in others if o is not None]
    return elementwise(ctx, x, *present)[0]


def where(ctx: Context, cond: Any, a: Any, b: Any) -> Node:
    cond = condition(ctx, cond)
    a, b = elementwise(ctx, a, b)
    broadcast((cond, a, b))
    return N.where(cond, a, b)


_UNARY_PRIMITIVES = ["sqrt", "cbrt", "exp", "expm1", "log", "log1p", "sin", "cos", "tan",
                     "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
                     "arctanh", "erf", "erfc", "sigmoid", "softplus", "sech2", "log2", "log10"]

FUNCTIONS = [define("abs", abs_, TABLE["abs"].doc, TABLE["abs"].kink),
             define("sign", sign, TABLE["sign"].doc, TABLE["sign"].kink)]
FUNCTIONS += [_direct(name) for name in _UNARY_PRIMITIVES]
FUNCTIONS += [
    define("square", square, "x * x"),
    define("arctan2", arctan2, "angle of the point (x, y): arctan2(y, x), numpy's order",
           "undefined at (0, 0); derivatives there are nan"),
    define("relu", relu, "max(x, 0), as where(x > 0, x, 0)", "relu'(0) = 0"),
    define("leaky_relu", leaky_relu, "x for x > 0, alpha * x otherwise",
           "leaky_relu'(0) = alpha"),
    define("elu", elu, "x for x > 0, alpha * (e**x - 1) otherwise", "elu'(0) = alpha"),
    define("gelu", gelu, "x * Phi(x) (exact erf form); approximate=True: the tanh form",
           accuracy=GELU_ACCURACY),
    define("silu", silu, "x * sigmoid(x) (swish)"),
    define("maximum", maximum, "elementwise larger value (broadcasting)", TIES),
    define("minimum", minimum, "elementwise smaller value, -maximum(-a, -b)", TIES),
    define("clip", clip, "minimum(maximum(x, lo), hi); lo or hi may be None",
           "at x == lo or x == hi the derivative splits evenly: 1/2 to x, 1/2 to the bound"),
    define("where", where, "a where cond is true, else b (cond: a comparison like x > 0)",
           "no derivative through cond; the branch not taken gets exactly 0"),
]
