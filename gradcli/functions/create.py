"""Constant arrays of the problem's float dtype.  zeros/ones/full/eye are
fill-based nodes, so a large one costs nothing until it is evaluated;
linspace and arange are materialized constants (bounded in size)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.errors import SpecError
from gradcli.functions.args import bool_arg, int_arg, number_arg, shape_arg
from gradcli.functions.arrays import broadcast_to
from gradcli.functions.context import Context, to_float
from gradcli.functions.linalg import diagonal_slice, place_diagonal
from gradcli.functions.registry import define
from gradcli.graph import Node, const
from gradcli.ops import nodes as N

# A materialized constant beyond this many elements is almost surely a typo
# (arange(1e9)); refuse it rather than allocate gigabytes while building.
MAX_CONSTANT = 10_000_000


def zeros(ctx: Context, shape: Any) -> Node:
    return N.fill(0.0, shape_arg("shape", shape), ctx.dtype)


def ones(ctx: Context, shape: Any) -> Node:
    return N.fill(1.0, shape_arg("shape", shape), ctx.dtype)


def full(ctx: Context, shape: Any, value: Any) -> Node:
    """A number fills lazily; an array value is broadcast (numpy.full), and
    stays differentiable."""
    target = shape_arg("shape", shape)
    if isinstance(value, (bool, int, float, np.number)):
        return N.fill(float(value), target, ctx.dtype)
    return broadcast_to(ctx, to_float(ctx, value), target)


def eye(ctx: Context, n: Any, m: Any = None, k: Any = 0) -> Node:
    rows = int_arg("n", n, minimum=0)
    cols = rows if m is None else int_arg("m", m, minimum=0)
    offset = int_arg("k", k)
    _, count = diagonal_slice(rows, cols, offset)
    return place_diagonal(N.fill(1.0, (count,), ctx.dtype),
                          N.fill(0.0, (rows, cols), ctx.dtype), offset)


def _checked(values: np.ndarray, dtype: str) -> Node:
    return const(values.astype(dtype))


def linspace(ctx: Context, start: Any, stop: Any, num: Any = 50, endpoint: Any = True) -> Node:
    lo, hi = number_arg("start", start), number_arg("stop", stop)
    count = int_arg("num", num, minimum=0)
    if count > MAX_CONSTANT:
        raise SpecError(f"num={count} is more than {MAX_CONSTANT} elements")
    return _checked(np.linspace(lo, hi, count, endpoint=bool_arg("endpoint", endpoint)),
                    ctx.dtype)


def arange(ctx: Context, start: Any, stop: Any = None, step: Any = 1) -> Node:
    lo = number_arg("start", start)
    hi = None if stop is None else number_arg("stop", stop)
    delta = number_arg("step", step)
    if delta == 0:
        raise SpecError("argument 'step' cannot be 0")
    if hi is None:
        lo, hi = 0.0, lo
    span = (hi - lo) / delta
    if not np.isfinite(span):
        raise SpecError(f"arange({start}, {stop}, {step}) has no finite length")
    count = max(0, int(np.ceil(span)))
    if count > MAX_CONSTANT:
        raise SpecError(f"arange({start}, {stop}, {step}) would have {count} elements, more "
                        f"than {MAX_CONSTANT}")
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
