"""Constant arrays of the problem's float dtype.  zeros/ones/full/eye are
fill-based nodes, so a large one costs nothing until it is evaluated;
linspace and arange are materialized constants (bounded in size)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import bool_arg, int_arg, number_arg, shape_arg, static
from gradcli.language.functions.arrays import broadcast_to
from gradcli.language.functions.context import Context, check_size, promote, to_float
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


def linspace(ctx: Context, start: Any, stop: Any, num: Any = 50, endpoint: Any = True,
             axis: Any = 0) -> Node:
    """Numbers give a constant (numpy's values exactly); array endpoints, or
    endpoints computed from inputs, give start + k * (stop - start) / div,
    differentiable in both, with the samples along `axis` (numpy's layout)."""
    count = int_arg("num", num, minimum=0)
    closed = bool_arg("endpoint", endpoint)
    _count(ctx, count, f"num={count}")
    if not isinstance(static(start), Node) and not isinstance(static(stop), Node) \
            and not isinstance(start, (list, tuple)) and not isinstance(stop, (list, tuple)):
        lo, hi = number_arg("start", start), number_arg("stop", stop)
        with np.errstate(all="ignore"):  # linspace(0, inf) is nan, not a RuntimeWarning
            values = np.linspace(lo, hi, count, endpoint=closed)
        if axis not in (0, -1):
            raise SpecError(f"axis={axis!r} is out of range for the 1-D result")
        return _checked(values, ctx.dtype)
    return traced_linspace(ctx, start, stop, count, closed, axis)


def traced_linspace(ctx: Context, start: Any, stop: Any, count: int, closed: bool,
                    axis: Any) -> Node:
    """numpy.linspace of array endpoints: shape (num,) + broadcast shape,
    the samples moved to `axis`; with endpoint, the last sample is stop
    itself (as numpy sets it), so d/dstop there is exactly 1."""
    lo, hi = promote(ctx, to_float(ctx, start), to_float(ctx, stop))
    try:
        tail = tuple(np.broadcast_shapes(lo.shape, hi.shape))
    except ValueError:
        raise ShapeError(f"start {lo.shape} and stop {hi.shape} do not broadcast together") \
            from None
    check_size(ctx, (count,) + tail)
    div = count - 1 if closed else count
    steps = np.arange(count, dtype=ctx.dtype).reshape((count,) + (1,) * len(tail))
    if div > 0:
        delta = N.mul(N.sub(hi, lo), N.scalar(1.0 / div, lo))
        out = N.add(N.mul(const(steps), delta), lo)
    else:  # num == 1 (with endpoint): just start, as numpy
        out = N.add(N.mul(const(steps), N.sub(hi, lo)), lo)
    out = N.broadcast_to(out, (count,) + tail)
    if closed and count > 1:
        out = apply("setitem", (out, N.broadcast_to(hi, tail)), {"index": (count - 1,)})
    ax = int_arg("axis", axis)
    if not -(len(tail) + 1) <= ax <= len(tail):
        raise ShapeError(f"axis={ax} is out of range for a result of {len(tail) + 1} axes")
    ax %= len(tail) + 1
    perm = list(range(1, ax + 1)) + [0] + list(range(ax + 1, len(tail) + 1))
    return N.transpose(out, perm)


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
