"""Python operators of the expression language, keyed by `ast` class name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.errors import GradcliError, SpecError
from gradcli.language.functions.context import (
    Context,
    as_node,
    elementwise,
    promote,
    times,
    to_float,
)
from gradcli.language.functions.linalg import matmul


def add(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return N.add(a, b)


def sub(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return N.add(a, N.neg(b))


def mul(ctx: Context, a: Any, b: Any) -> Node:
    a, b = elementwise(ctx, a, b)
    return times(a, b)


def div(ctx: Context, a: Any, b: Any) -> Node:
    """a * b**-1; true division, so integers give floats (as in Python 3)."""
    a, b = elementwise(ctx, to_float(ctx, a), b)
    return times(a, N.reciprocal(b))


def power(ctx: Context, a: Any, b: Any) -> Node:
    # Float always: numpy refuses integers to negative integer powers.
    a, b = elementwise(ctx, to_float(ctx, a), b)
    return N.power(a, b)


def mod(ctx: Context, a: Any, b: Any) -> Node:
    """a % b: numpy's mod, the sign of b (as Python's %)."""
    a, b = elementwise(ctx, a, b)
    return apply("mod", (a, b))


def floor_divide(ctx: Context, a: Any, b: Any) -> Node:
    """a // b: floor(a / b), the quotient that goes with a % b."""
    a, b = elementwise(ctx, a, b)
    return apply("floor_divide", (a, b))


def neg(ctx: Context, x: Any) -> Node:
    (x,) = promote(ctx, x)
    return N.neg(x)


def pos(ctx: Context, x: Any) -> Node:
    return as_node(ctx, x)


def _compare(op: str) -> Callable[[Context, Any, Any], Node]:
    def impl(ctx: Context, a: Any, b: Any) -> Node:
        a, b = elementwise(ctx, a, b)
        return apply(op, (a, b))

    return impl


def _named(symbol: str, fn: Callable[..., Node]) -> Callable[..., Node]:
    """Prefix errors with the operator, e.g. "operator '+': shapes ... do not
    broadcast together"."""

    def wrapped(ctx: Context, *operands: Any) -> Node:
        try:
            return fn(ctx, *operands)
        except GradcliError as exc:
            raise type(exc)(f"operator '{symbol}': {exc.message}", exc.location) from None
        except OverflowError:
            raise SpecError(f"operator '{symbol}': a number is too large to represent") \
                from None

    return wrapped


OPERATORS: Mapping[str, Callable[..., Node]] = MappingProxyType({
    "Add": _named("+", add),
    "Sub": _named("-", sub),
    "Mult": _named("*", mul),
    "Div": _named("/", div),
    "Pow": _named("**", power),
    "Mod": _named("%", mod),
    "FloorDiv": _named("//", floor_divide),
    "MatMult": _named("@", matmul),
    "USub": _named("-", neg),
    "UAdd": _named("+", pos),
    "Lt": _named("<", _compare("lt")),
    "LtE": _named("<=", _compare("le")),
    "Gt": _named(">", _compare("gt")),
    "GtE": _named(">=", _compare("ge")),
    "Eq": _named("==", _compare("eq")),
    "NotEq": _named("!=", _compare("ne")),
})
