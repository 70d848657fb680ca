"""numpy.pad.  "constant" is the pad primitive; "edge", "reflect",
"symmetric" and "wrap" copy existing elements, so along each axis they are
a concatenation of slices of x (a gather when that would take more than
MAX_RUNS slices).  Which element lands where is taken from numpy itself
(np.pad of an index range), so the layout matches numpy exactly, including
pads wider than the array."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import getitem
from gradcli.errors import SpecError
from gradcli.language.functions.args import number_arg, static, str_arg
from gradcli.language.functions.context import Context, as_node, check_size
from gradcli.language.functions.indexing import select
from gradcli.language.functions.registry import define

MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
# Up to this many slices (and a concat) per padded axis: readable programs
# and sympy forms.  Beyond (a reflect of 3 elements by 10**6 is 10**6 runs), a
# single gather of numpy's own index layout, which costs what numpy's pad does.
MAX_RUNS = 32


def pad_widths(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """numpy's pad_width forms: n, (n,), (before, after), ((before, after),),
    or one (before, after) pair per axis."""
    try:
        array = np.asarray(_statics(pad_width))
    except (ValueError, OverflowError):
        array = None
    if array is None or array.dtype.kind not in "iu" or array.ndim > 2:
        raise SpecError(f"argument 'pad_width' must be an integer, a (before, after) pair or "
                        f"one pair per axis, got {pad_width!r}")
    try:
        pairs = np.broadcast_to(array, (ndim, 2))
    except ValueError:
        raise SpecError(f"pad_width {pad_width!r} does not fit an array of {ndim} "
                        "dimensions") from None
    if (pairs < 0).any():
        raise SpecError(f"pad_width {pad_width!r} cannot be negative")
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


def _statics(value: Any) -> Any:
    """Numbers computed in the expression (`10 ** 3` is a float constant
    node) as plain numbers, through nested tuples and lists."""
    if isinstance(value, (list, tuple)):
        return [_statics(v) for v in value]
    return static(value)


def _runs(indices: np.ndarray, limit: int) -> list[tuple[int, int, int]] | None:
    """Split a list of source indices into (start, length, step) runs with
    step -1, 0 or +1, each of which is one slice (or one broadcast element);
    None when there are more than `limit` (each run's end is found by numpy,
    so this costs `limit` passes over the indices at most)."""
    steps = np.diff(indices)
    runs: list[tuple[int, int, int]] = []
    i, n = 0, len(indices)
    while i < n:
        if len(runs) == limit:
            return None
        step = int(steps[i]) if i + 1 < n and abs(int(steps[i])) <= 1 else 0
        breaks = np.flatnonzero(steps[i:] != step)
        j = i + 1 + (int(breaks[0]) if breaks.size else n - 1 - i)
        runs.append((int(indices[i]), j - i, step))
        i = j
    return runs


def _take_run(x: Node, axis: int, start: int, length: int, step: int) -> Node:
    lead = (slice(None),) * axis
    if step == 0:
        one = getitem(x, lead + (slice(start, start + 1),))
        return N.broadcast_to(one, one.shape[:axis] + (length,) + one.shape[axis + 1:])
    if step == 1:
        return getitem(x, lead + (slice(start, start + length),))
    stop = start - length
    return getitem(x, lead + (slice(start, None if stop < 0 else stop, -1),))


def _pad_axis(ctx: Context, x: Node, axis: int, before: int, after: int, mode: str) -> Node:
    if before == after == 0:
        return x
    n = x.shape[axis]
    if n == 0:
        raise SpecError(f"mode {mode!r} cannot pad axis {axis}: it has no elements to copy")
    source = np.pad(np.arange(n), (before, after), mode=mode)
    runs = _runs(source, MAX_RUNS)
    if runs is None:  # one gather of the whole layout instead of thousands of slices
        return select(ctx, x, [slice(None)] * axis + [const(source)])
    parts = [_take_run(x, axis, *run) for run in runs]
    return parts[0] if len(parts) == 1 else apply("concat", parts, {"axis": axis})


def pad(ctx: Context, x: Any, pad_width: Any, mode: Any = "constant",
        constant_values: Any = 0) -> Node:
    x = as_node(ctx, x)
    mode = str_arg("mode", mode, MODES)
    widths = pad_widths(pad_width, x.ndim)
    # before numpy builds the index layout (np.pad of an arange), which is as
    # long as the padded axis
    check_size(ctx, tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths)))
    if mode == "constant":
        if isinstance(constant_values, (list, tuple)):
            raise SpecError("argument 'constant_values' must be one number (per-axis values "
                            "are not supported)")
        value = number_arg("constant_values", constant_values)
        if all(w == (0, 0) for w in widths):
            return x
        return apply("pad", (x,), {"widths": widths, "value": value})
    for axis, (before, after) in enumerate(widths):
        x = _pad_axis(ctx, x, axis, before, after, mode)
    return x


FUNCTIONS = [
    define("pad", pad, "numpy.pad with mode 'constant' (constant_values), 'edge', "
           "'reflect', 'symmetric' or 'wrap'"),
]
