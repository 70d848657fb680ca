"""The ops the sympy lowering does not take from their op row's `sympy`
rule (see symbolic.py): stop_gradient and integer casts (whose row rules give
the right value but let sympy differentiate through them) and pow (exact
integer exponents, for speed)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from gradcli.engine.ops import TABLE


@cache
def _frozen_class() -> type:
    """`stop_gradient(x)` for sympy: the value of x with derivative 0.

    The op row's rule is the identity, which gives the right value but lets
    sympy differentiate through it; a check must see the engine's semantics.
    Built once, on first use, because the class needs sympy.
    """
    import sympy

    class stop_gradient(sympy.Function):  # noqa: N801 - printed as the catalogue name
        @classmethod
        def eval(cls, arg: Any) -> Any:
            return arg if arg.is_number else None

        def fdiff(self, argindex: int = 1) -> Any:
            return sympy.S.Zero

        def _eval_evalf(self, prec: int) -> Any:
            return self.args[0]._eval_evalf(prec)

    return stop_gradient


def _lower_stop_gradient(x: np.ndarray, **attrs: Any) -> np.ndarray:
    frozen = _frozen_class()
    return np.vectorize(frozen, otypes=[object])(np.asarray(x, dtype=object))


def _lower_cast(x: np.ndarray, *, dtype: str) -> np.ndarray:
    """Float casts keep the expression; integer and bool casts are piecewise
    constant (derivative 0), so they truncate inside stop_gradient."""
    import sympy

    x = np.asarray(x, dtype=object)
    if dtype.startswith("float"):
        return x
    frozen = _frozen_class()
    if dtype == "bool":
        return np.vectorize(lambda a: sympy.Ne(a, 0), otypes=[object])(x)
    return np.vectorize(lambda a: frozen(sympy.sign(a) * sympy.floor(sympy.Abs(a))),
                        otypes=[object])(x)


def _lower_pow(a: np.ndarray, b: np.ndarray, **attrs: Any) -> np.ndarray:
    """a ** b with an integer-valued number exponent made an exact Integer:
    x**2 differentiates to 2*x, x**2.0 to the general power rule (with its
    assumption queries, many times slower on a network's loss)."""
    import sympy

    def exponent(e: Any) -> Any:
        if isinstance(e, sympy.Float) and e == int(e) and abs(e) < 2**53:
            return sympy.Integer(int(e))
        return e

    b = np.vectorize(exponent, otypes=[object])(np.asarray(b, dtype=object))
    return TABLE["pow"].sympy(a, b, **attrs)


OVERRIDES = {"stop_gradient": _lower_stop_gradient, "cast": _lower_cast, "pow": _lower_pow}
