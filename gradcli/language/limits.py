"""How large an array a spec may ask for, checked before anything is
allocated.  Kept apart (and free of numpy) so that the command line can
name the default of --max-elements without loading the language."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Large enough for every workload this tool is for (a 5000 x 5000 float64
# Hessian block is 25e6), small enough that a typo cannot exhaust memory.
# `--max-elements` changes it; docs/limits.md lists every limit.
MAX_ELEMENTS = 50_000_000
# numpy 1.x arrays have at most 32 axes (2.x: 64); the smaller keeps specs portable.
MAX_NDIM = 32


def size_error(shape: Sequence[int], limit: int, what: str = "") -> str | None:
    """Why an array of `shape` may not be built, or None if it may.

    Sizes are multiplied as Python ints: numpy's int64 product wraps around
    for shapes like (2**40, 2**40) and would let them through as size 0.
    A single axis above the limit is refused even when another axis is 0
    (it is a typo, and numpy cannot represent it anyway)."""
    prefix = f"{what} " if what else ""
    dims = [int(d) for d in shape]
    if len(dims) > MAX_NDIM:
        return f"{prefix}shape has {len(dims)} axes, more than the {MAX_NDIM} numpy supports"
    if any(d < 0 for d in dims):
        return f"{prefix}shape {tuple(dims)} has a negative size"
    size = math.prod(dims)
    if size > limit or any(d > limit for d in dims):
        count = f"{size} elements" if size > limit else f"an axis of {max(dims)}"
        return (f"{prefix}shape {_shape_text(dims)} has {count}, more than the limit of "
                f"{limit} elements (raise it with --max-elements)")
    return None


def _shape_text(dims: Sequence[int]) -> str:
    text = str(tuple(dims))
    return text if len(text) <= 80 else text[:77] + "..."
