"""Constant arrays of the problem's float dtype.  zeros/ones/full/eye are
fill-based nodes, so a large one costs nothing until it is evaluated;
linspace and arange are materialized constants (bounded in size)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import nodes as N
from gradcli.errors import SpecError
from gradcli.language.functions.args import bool_arg, int_arg, number_arg, shape_arg
from gradcli.language.functions.arrays import broadcast_to
from gradcli.language.functions.context import Context, check_size, to_float
from gradcli.language.functions.linalg import diagonal_slice, place_diagonal
from gradcli.language.functions.registry import define

# A materialized constant beyond this many elements is almost surely a typo
# (arange(1e9)); refuse it rather than allocate gigabytes while building.
# linspace/arange are the only functions that allocate while the graph is
# built, so they have this cap on top of --max-elements.
MAX_CONSTANT = 10_000_000


def zeros(ctx: Context, shape: Any) -> Node:
    return N.fill(0.0, check_size(ctx, shape_arg("shape", shape)), ctx.dtype)


def ones(ctx: Context, shape: Any) -> Node:
    return N.fill(1.0, check_size(ctx, shape_arg("shape", shape)), ctx.dtype)


def full(ctx: Context, shape: Any, value: Any) -> Node:
    """A number fills lazily; an array value is broadcast (numpy.full), and
    stays differentiable."""
    target = check_size(ctx, shape_arg("shape", shape))
    if isinstance(value, (bool, int, float, np.number)):
        return N.fill(float(value), target, ctx.dtype)
    return broadcast_to(ctx, to_float(ctx, value), target)


def eye(ctx: Context, n: Any, m: Any = None, k: Any = 0) -> Node:
    rows = int_arg("n", n, minimum=0)
    cols = rows if m is None else int_arg("m", m, minimum=0)
    offset = int_arg("k", k)
    check_size(ctx, (rows, cols))
    _, count = diagonal_slice(rows, cols, offset)
    return place_diagonal(N.fill(1.0, (count,), ctx.dtype),
                          N.fill(0.0, (rows, cols), ctx.dtype), offset)


def _checked(values: np.ndarray, dtype: str) -> Node:
    return const(values.astype(dtype))


def _count(ctx: Context, count: int, what: str) -> int:
    """The length of a materialized constant, refused above both caps."""
    cap = min(MAX_CONSTANT, ctx.max_elements)
    if count > cap:
        option = "" if cap == MAX_CONSTANT else " (raise it with --max-elements)"
        shown = count if count < 10**15 else f"about {float(count):.3g}"
        raise SpecError(f"{what} would have {shown} elements, more than the limit of {cap} "
                        f"for linspace/arange{option}")
    return count


def linspace(ctx: Context, start: Any, stop: Any, num: Any = 50, endpoint: Any = True) -> Node:
    lo, hi = number_arg("start", start), number_arg("stop", stop)
    count = int_arg("num", num, minimum=0)
    _count(ctx, count, f"num={count}")
    with np.errstate(all="ignore"):  # linspace(0, inf) is nan, not a RuntimeWarning
        values = np.linspace(lo, hi, count, endpoint=bool_arg("endpoint", endpoint))
    return _checked(values, ctx.dtype)


def arange(ctx: Context, start: Any, stop: Any = None, step: Any = 1) -> Node:
    lo = number_arg("start", start)
    hi = None if stop is None else number_arg("stop", stop)
    delta = number_arg("step", step)
    if delta == 0:
        raise SpecError("argument 'step' cannot be 0")
    if hi is None:
        lo, hi = 0.0, lo
    what = f"arange({lo:g}, {hi:g}, {delta:g})"
    span = (hi - lo) / delta  # Python floats: overflow gives inf, never an exception
    if not np.isfinite(span):
        raise SpecError(f"{what} has no finite length")
    # ceil of a float span beyond 2**63 still is an exact Python int
    if _count(ctx, max(0, math.ceil(span)), what) == 0:
        # numpy refuses some empty ranges far from zero (arange(0, -1e308))
        return _checked(np.zeros((0,)), ctx.dtype)
    return _checked(np.arange(lo, hi, delta), ctx.dtype)


FUNCTIONS = [
    define("zeros", zeros, "an array of zeros of the given shape"),
    define("ones", ones, "an array of ones of the given shape"),
    define("full", full, "an array of the given shape filled with value"),
    define("eye", eye, "n x m identity matrix (ones on diagonal k)"),
    define("linspace", linspace, "num evenly spaced numbers from start to stop (inclusive "
           "unless endpoint=False)"),
    define("arange", arange, "numbers from start (default 0) up to stop, excluding it, by step"),
]
