"""Pooling, channels last as in Keras: max and average pools over sliding
windows (the `patches` primitive, then a max or a sum over the taps), and
global pools over every spatial axis.

Max pools split the derivative evenly between tied maxima, as `max` does;
'same' padding pads a max pool with -inf (a padded cell never wins) and an
average pool divides by the number of real cells in each window (TF's
avg_pool excludes the padding), not by the window size."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gradcli.language.layers.base import Call, LayerKind
from gradcli.language.layers.conv import SPATIAL, SPATIAL_OUT, padding_for, spatial_input
from gradcli.language.layers.core import feature_axis
from gradcli.language.layers.options import Choice, Flag, Option, Options, Sizes

if TYPE_CHECKING:
    from gradcli.engine.graph import Node


def _counts(c: Call, sizes: tuple[int, ...], padding: tuple[tuple[int, int], ...],
            x: Node) -> Node:
    """1 / how many real (unpadded) cells each window holds: (1, *O, 1), a
    product of one count per axis, as a constant of x's dtype."""
    import numpy as np  # lowering only (completion imports this module)

    from gradcli.engine.graph import const
    from gradcli.engine.ops.windows import out_sizes

    window, strides = c["pool_size"], c["strides"] or c["pool_size"]
    if not any(lo or hi for lo, hi in padding):
        return c.nodes.scalar(1.0 / math.prod(window), x)
    out = out_sizes(sizes, window, strides, (1,) * len(sizes), padding)
    total = np.ones((), dtype=np.float64)
    for n, k, s, (lo, _), o in zip(sizes, window, strides, padding, out):
        start = np.arange(o) * s - lo
        axis = np.minimum(start + k, n) - np.maximum(start, 0)
        total = np.multiply.outer(total, axis)
    return const((1.0 / total).reshape((1, *out, 1)), x.dtype)


def _pool_kind(reduce: str, rank: int) -> LayerKind:
    name = f"{reduce}_pool{rank}d"

    def lower(c: Call, x: Node) -> Node:
        sizes = spatial_input(c, x, rank)
        window = c["pool_size"]
        strides, ones = c["strides"] or window, (1,) * rank
        padding = padding_for(c, sizes, window, strides, ones)
        value = -math.inf if reduce == "max" else 0.0
        attrs = {"axes": tuple(range(1, rank + 1)), "window": window, "strides": strides,
                 "dilation": ones, "padding": padding, "value": value}
        windows = c.apply("patches", (x,), attrs)
        taps = tuple(range(x.ndim, x.ndim + rank))
        if reduce == "max":
            return c.apply("max", (windows,), {"axes": taps})
        return c.nodes.mul(c.nodes.reduce_sum(windows, taps), _counts(c, sizes, padding, x))

    what = "largest value" if reduce == "max" else "mean"
    return LayerKind(
        name, f"the {what} of each window, per channel: (B, {SPATIAL[rank]}, C) -> "
              f"(B, {SPATIAL_OUT[rank]}, C)", lower,
        Options((Option("pool_size", Sizes(rank), (2,) * rank, "the window, per spatial axis"),
                 Option("strides", Sizes(rank), None, "step of the window (null: pool_size)"),
                 Option("padding", Choice(("valid", "same")), "valid",
                        "valid: no padding; same: ceil(size / strides) outputs, padded as "
                        "TensorFlow does (the odd cell at the end)")),
                shorthand="pool_size"),
        example=f"{{{name}: {2 if rank == 1 else '[2, 2]'}}}",
        keras=f"{'MaxPooling' if reduce == 'max' else 'AveragePooling'}{rank}D",
        details=("Ties in a window split the derivative evenly; with 'same' padding a padded "
                 "cell never wins." if reduce == "max" else
                 "With 'same' padding each mean divides by the number of real cells in its "
                 "window (TensorFlow's avg_pool excludes the padding)."))


def _global_kind(reduce: str) -> LayerKind:
    name = f"global_{reduce}_pool"

    def lower(c: Call, x: Node) -> Node:
        from gradcli.errors import ShapeError

        feature_axis(c, x)
        if x.ndim < 3:
            raise ShapeError(f"{c.what} takes (batch, *spatial, channels), at least 3 axes; "
                             f"got shape {x.shape}")
        axes = tuple(range(1, x.ndim - 1))
        return c.function("mean" if reduce == "avg" else "max", x, axis=axes,
                          keepdims=c["keepdims"])

    what = "mean" if reduce == "avg" else "largest value"
    return LayerKind(
        name, f"the {what} over every spatial axis, per channel: (B, ..., C) -> (B, C)", lower,
        Options((Option("keepdims", Flag(), False, "keep the spatial axes with size 1"),)),
        example=name, keras=f"Global{'Average' if reduce == 'avg' else 'Max'}Pooling2D",
        details="Any number of spatial axes (Keras's 1D, 2D and 3D layers)."
                + (" Ties split the derivative evenly." if reduce == "max" else ""))


KINDS = (_pool_kind("max", 1), _pool_kind("max", 2), _pool_kind("avg", 1),
         _pool_kind("avg", 2), _global_kind("avg"), _global_kind("max"))
