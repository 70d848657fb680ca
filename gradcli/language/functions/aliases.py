"""numpy's other names for catalogue functions, so numpy code pastes in
unchanged.  Each alias is the same builder as the function it names."""

from __future__ import annotations

from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import TABLE
from gradcli.engine.ops import nodes as N
from gradcli.language.functions.arrays import flatten
from gradcli.language.functions.context import Context, promote, to_float
from gradcli.language.functions.elementwise import abs_
from gradcli.language.functions.registry import define


def negative(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)
    return N.neg(x)


def fabs(ctx: Context, x: Any) -> Node:
    return N.unary("abs", to_float(ctx, x))


ABS_KINK = TABLE["abs"].kink

FUNCTIONS = [
    define("absolute", abs_, "numpy's other name for abs: absolute value", ABS_KINK),
    define("fabs", fabs, "absolute value as a float (numpy.fabs)", ABS_KINK),
    define("negative", negative, "-x (numpy.negative)"),
    define("ravel", flatten, "numpy's other name for flatten: the elements as a 1-D array "
           "(row-major)"),
]
