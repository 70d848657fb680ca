"""More of numpy's elementwise functions: exp2, sinc, reciprocal, hypot,
logaddexp(2), angle conversions, the NaN-ignoring fmax/fmin, and select."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import broadcast
from gradcli.errors import SpecError
from gradcli.language.functions.args import node_list
from gradcli.language.functions.context import Context, condition, elementwise, to_float
from gradcli.language.functions.registry import Function, define


def _float_unary(name: str) -> Function:
    def impl(ctx: Context, x: Any) -> Node:
        return N.unary(name, to_float(ctx, x))

    return define(name, impl, TABLE[name].doc, TABLE[name].kink)


def _binary(name: str, floats: bool = False) -> Function:
    def impl(ctx: Context, a: Any, b: Any) -> Node:
        a, b = elementwise(ctx, to_float(ctx, a) if floats else a, b)
        return apply(name, (a, b))

    return define(name, impl, TABLE[name].doc, TABLE[name].kink)


def sinc(ctx: Context, x: Any) -> Node:
    return N.unary("sinc", to_float(ctx, x))


def reciprocal(ctx: Context, x: Any) -> Node:
    return N.reciprocal(to_float(ctx, x))


def _scale(factor: float) -> Callable[[Context, Any], Node]:
    def impl(ctx: Context, x: Any) -> Node:
        x = to_float(ctx, x)
        return N.mul(x, N.scalar(factor, x))

    return impl


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def select(ctx: Context, condlist: Any, choicelist: Any, default: Any = 0.0) -> Node:
    conds = [condition(ctx, c) for c in node_list("condlist", condlist)]
    choices = node_list("choicelist", choicelist)
    if len(conds) != len(choices):
        raise SpecError(f"condlist has {_count(len(conds), 'condition')} but choicelist has "
                        f"{_count(len(choices), 'choice')}: they must pair up")
    *values, out = elementwise(ctx, *choices, default)
    broadcast((*conds, *values, out))
    # the first true condition wins: the first pair is the outermost where
    for cond, value in reversed(list(zip(conds, values))):
        out = N.where(cond, value, out)
    return out


TO_RADIANS = "degrees to radians, x * pi / 180"
TO_DEGREES = "radians to degrees, x * 180 / pi"

FUNCTIONS = [
    _float_unary("exp2"),
    define("sinc", sinc,
           "sin(pi x)/(pi x), numpy's normalised sinc, sinc(0) = 1; exact zeros at the "
           "integers; derivatives of any order without cancellation near 0"),
    define("reciprocal", reciprocal, "1 / x (always a float, unlike numpy's for integers)",
           "derivative -1/x**2, infinite at 0"),
    _binary("hypot", floats=True),
    _binary("logaddexp", floats=True),
    _binary("logaddexp2", floats=True),
    define("deg2rad", _scale(math.pi / 180), TO_RADIANS),
    define("radians", _scale(math.pi / 180), TO_RADIANS),
    define("rad2deg", _scale(180 / math.pi), TO_DEGREES),
    define("degrees", _scale(180 / math.pi), TO_DEGREES),
    _binary("fmax"),
    _binary("fmin"),
    define("select", select, "numpy.select: where the first true condition of condlist holds, "
           "its choice; elsewhere default",
           "no derivative through the conditions; each choice gets the derivative only where "
           "it is selected (exactly 0 elsewhere)"),
]
