"""Piecewise functions: rounding, remainders and nan_to_num, numpy's
semantics.  Integer arrays stay integer (numpy 2 rounds ints to ints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.errors import SpecError
from gradcli.language.functions.args import bool_arg, int_arg, number_arg
from gradcli.language.functions.context import Context, elementwise, promote
from gradcli.language.functions.registry import Function, define


def _step(name: str) -> Function:
    def impl(ctx: Context, x: Any) -> Node:
        (x,) = promote(ctx, x)
        return N.unary(name, x)

    return define(name, impl, TABLE[name].doc, TABLE[name].kink)


def round_(ctx: Context, x: Any, decimals: Any = 0) -> Node:
    (x,) = promote(ctx, x)
    places = int_arg("decimals", decimals)
    if abs(places) > 400:  # 10.0**places overflows; every float is unchanged (or 0)
        raise SpecError(f"argument 'decimals' must be between -400 and 400, got {places}")
    return apply("round", (x,), {"decimals": places} if places else None)


def mod(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return apply("mod", (a, b))


def fmod(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return apply("fmod", (a, b))


def floor_divide(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return apply("floor_divide", (a, b))


def nan_to_num(ctx: Context, x: Any, copy: Any = True, nan: Any = 0.0, posinf: Any = None,
               neginf: Any = None) -> Node:
    bool_arg("copy", copy)  # numpy's second argument; every result here is a new array
    (x,) = promote(ctx, x)
    if not x.is_float:
        return x  # integers are finite already, as numpy leaves them
    big = float(np.finfo(x.dtype).max)
    values = [number_arg("nan", nan),
              big if posinf is None else number_arg("posinf", posinf),
              -big if neginf is None else number_arg("neginf", neginf)]
    nan_v, pos_v, neg_v = (N.scalar(v, x) for v in values)
    out = N.where(N.compare("eq", x, N.scalar(-np.inf, x)), neg_v, x)
    out = N.where(N.compare("eq", x, N.scalar(np.inf, x)), pos_v, out)
    return N.where(apply("isnan", (x,)), nan_v, out)


def isnan(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)
    return apply("isnan", (x,))


STEP_KINK = TABLE["floor"].kink
MOD_DOC = TABLE["mod"].doc.replace("a % b: ", "") + "; also the operator a % b"

FUNCTIONS = [
    _step("floor"), _step("ceil"), _step("trunc"),
    define("round", round_, TABLE["round"].doc + "; x * 10**decimals rounded, / 10**decimals",
           TABLE["round"].kink),
    define("mod", mod, MOD_DOC, TABLE["mod"].kink),
    define("remainder", mod, "numpy's other name for mod: " + MOD_DOC, TABLE["mod"].kink),
    define("fmod", fmod, TABLE["fmod"].doc, TABLE["fmod"].kink),
    define("floor_divide", floor_divide,
           "floor(a / b), also the operator a // b; numpy's quotient, consistent with mod",
           STEP_KINK),
    define("isnan", isnan, "true where x is NaN (a condition for where)",
           TABLE["isnan"].kink),
    define("nan_to_num", nan_to_num,
           "x with NaN replaced by the number nan= and +-inf by posinf=/neginf= (default: "
           "+-the largest finite float); copy is accepted and ignored",
           "derivative 1 at finite x, 0 at the replaced elements"),
]
