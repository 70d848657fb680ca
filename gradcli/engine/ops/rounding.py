"""Piecewise primitives: rounding (floor, ceil, trunc, round, floor_divide),
the remainders (mod with the divisor's sign, fmod with the dividend's) and
the NaN test isnan (for nan_to_num, fmax and fmin).

The rounding family is piecewise constant: no derivative rule (None), so
its derivative is 0 wherever it exists and a source reached only through it
is unconnected, as for `sign`.  The remainders are a - b * q with q an
integer that is constant between jumps, so d/da = 1 and d/db = -q; the
derivative rules use the quotient that the forward itself used (numpy's
floor_divide for mod; the exact quotient of fmod for fmod), so the -q is
never off by one next to a jump.

Sympy has floor and ceiling, but differentiating them gives an unevaluated
Derivative that cannot be evaluated; the lowering uses subclasses whose
derivative is 0 (the engine's convention), and trunc and half-to-even round
(sympy has neither) as functions of the same kind.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import (
    batch_elementwise,
    infer_elementwise,
    infer_predicate,
    sym_elementwise,
)
from gradcli.engine.ops.elementwise import _binary
from gradcli.engine.ops.row import Primitive
from gradcli.engine.ops.table import apply

STEP = ("derivative 0 almost everywhere, taken as 0 at the jumps too; no derivative passes "
        "through, so a source reached only through it is unconnected (null; "
        "--unconnected zero gives 0)")


@cache
def sym() -> Any:
    """Sympy functions for the rounding family, with derivative 0 (made once,
    on first use, because the classes need sympy)."""
    import sympy
    from sympy.core.function import Function

    zero = sympy.S.Zero

    class floor(sympy.floor):  # noqa: N801 - printed as the catalogue name
        def fdiff(self, argindex: int = 1) -> Any:
            return zero

    class ceil(sympy.ceiling):  # noqa: N801
        def fdiff(self, argindex: int = 1) -> Any:
            return zero

    class trunc(Function):  # noqa: N801
        @classmethod
        def eval(cls, arg: Any) -> Any:
            if arg.is_number and arg.is_finite:
                return sympy.sign(arg) * sympy.floor(sympy.Abs(arg))
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            return zero

    class round(Function):  # noqa: N801 - half to even, as numpy and IEEE
        @classmethod
        def eval(cls, arg: Any, scale: Any) -> Any:
            if not (arg.is_number and arg.is_finite):
                return None
            if scale != 1 and arg.is_Float:
                # numpy rounds x * 10**d to a float before rounding it to an
                # integer (round(0.35, 1) = 0.4 although 0.35 is below 0.35):
                # the same float steps, so the reference is numpy's function
                decimals = int(sympy.log(scale, 10))
                return sympy.Float(float(np.round(float(arg), decimals)), 30)
            y = sympy.Rational(arg) * scale if arg.is_Float else arg * scale
            low = sympy.floor(y)
            rest = y - low
            up = rest > sympy.Rational(1, 2) or (rest == sympy.Rational(1, 2) and low % 2 == 1)
            return (low + 1 if up else low) / scale

        def fdiff(self, argindex: int = 1) -> Any:
            return zero

    return {"floor": floor, "ceil": ceil, "trunc": trunc, "round": round}


def _step(name: str, forward: Callable[..., np.ndarray],
          build: Callable[..., Any], doc: str, kink: str = STEP) -> Primitive:
    return Primitive(name, infer_elementwise, forward, None, None, batch_elementwise(name),
                     build, doc, kink)


def _sym_unary(name: str) -> Callable[..., np.ndarray]:
    return sym_elementwise(lambda sp, a: sym()[name](a))


def _round(x: np.ndarray, decimals: int = 0) -> np.ndarray:
    return np.round(x, decimals)


def _sym_round(x: np.ndarray, decimals: int = 0) -> np.ndarray:
    import sympy

    scale = sympy.Integer(10) ** decimals
    return sym_elementwise(lambda sp, a: sym()["round"](a, scale))(x)


def _sym_floor_divide(sp: Any, a: Any, b: Any) -> Any:
    return sym()["floor"](a / b)


def _mod_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    # a - b * floor_divide(a, b), with numpy's quotient (the forward's own)
    return N.scalar(1.0, y), N.neg(apply("floor_divide", (a, b)))


def _fmod_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    # fmod(a, b) = a - b * q exactly, q = trunc(a / b) of the exact quotient;
    # (a - y) / b is within rounding of the integer q, so round() recovers it
    # (trunc(a / b) of the rounded quotient can be off by one next to a jump)
    return N.scalar(1.0, y), N.neg(N.unary("round", N.div(N.sub(a, y), b)))


def _sym_isnan(sp: Any, a: Any) -> Any:
    """NaN in the engine is anything sympy cannot make a real number of: nan,
    zoo, or a complex value (log(-1), sqrt(-2)); for expressions in real
    symbols, a non-zero imaginary part, decided when the point is substituted."""
    if a is sp.nan or a is sp.zoo:
        return sp.true
    if a.is_number:
        return sp.true if a.is_extended_real is False else sp.false
    return sp.Ne(sp.im(a), 0)


MOD_KINK = ("d/da = 1 and d/db = -floor(a / b) = -(a // b), the same formulas at the jumps "
            "(a / b an integer); b = 0 gives nan")
FMOD_KINK = ("d/da = 1 and d/db = -trunc(a / b), the same formulas at the jumps (a / b an "
             "integer); b = 0 gives nan")

ROWS = [
    Primitive("isnan", infer_predicate, np.isnan, None, None, batch_elementwise("isnan"),
              sym_elementwise(_sym_isnan), "true where x is NaN",
              "not differentiable: 0"),
    _step("floor", np.floor, _sym_unary("floor"), "largest integer <= x"),
    _step("ceil", np.ceil, _sym_unary("ceil"), "smallest integer >= x"),
    _step("trunc", np.trunc, _sym_unary("trunc"), "integer part, towards 0"),
    _step("round", _round, _sym_round,
          "nearest integer (decimals: to that many decimal places), ties to even as numpy: "
          "round(0.5) = 0, round(1.5) = 2, round(2.5) = 2",
          STEP),
    _step("floor_divide", np.floor_divide, sym_elementwise(_sym_floor_divide),
          "a // b: floor(a / b), numpy's quotient (consistent with mod)"),
    _binary("mod", _mod_partials, np.mod,
            lambda sp, a, b: a - b * sym()["floor"](a / b),
            "a % b: remainder with the sign of b (numpy and Python): a - b * floor(a / b)",
            MOD_KINK),
    _binary("fmod", _fmod_partials, np.fmod,
            lambda sp, a, b: a - b * sym()["trunc"](a / b),
            "remainder with the sign of a (C fmod): a - b * trunc(a / b)", FMOD_KINK),
]
