"""Network functions with TensorFlow's conventions (the seeds are TF
questions): softmax over the last axis, one cross-entropy loss per example.
Everything goes through log_softmax, which is finite for any finite logits."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Accuracy
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.args import axis_arg, int_arg, one_axis
from gradcli.language.functions.context import (
    Context,
    check_size,
    elementwise,
    promote,
    times,
    to_float,
)
from gradcli.language.functions.reduce import over_last
from gradcli.language.functions.registry import define


def _log_softmax(x: Node, axes: tuple[int, ...]) -> Node:
    """The log_softmax row over axes (x - x = 0 over no axes at all)."""
    if not axes:
        return N.sub(x, x)
    return over_last(x, axes, "log_softmax")


def _neg_log_softmax(x: Node, axes: tuple[int, ...]) -> Node:
    return N.neg(_log_softmax(x, axes))


def log_softmax(ctx: Context, x: Any, axis: Any = -1) -> Node:
    x = to_float(ctx, x)
    return _log_softmax(x, axis_arg("axis", axis, x.ndim))


def softmax(ctx: Context, x: Any, axis: Any = -1) -> Node:
    x = to_float(ctx, x)
    axes = axis_arg("axis", axis, x.ndim)
    if not axes:
        return N.unary("exp", N.sub(x, x))
    return over_last(x, axes, "softmax")


def _logits(ctx: Context, logits: Any) -> Node:
    x = to_float(ctx, logits)
    if x.ndim == 0:
        raise ShapeError("logits need a class axis (at least 1 dimension), got a scalar")
    return x


def cross_entropy(ctx: Context, labels: Any, logits: Any, axis: Any = -1) -> Node:
    """-sum(labels * log_softmax(logits)) over the class axis: one loss per
    example (tf.nn.softmax_cross_entropy_with_logits)."""
    x = _logits(ctx, logits)
    ax = one_axis("axis", axis, x.ndim)
    y, x = promote(ctx, to_float(ctx, labels), x)
    if y.shape != x.shape:
        raise ShapeError(f"labels of shape {y.shape} must have the shape of logits {x.shape} "
                         "(one probability per class)")
    return N.reduce_sum(N.mul(y, _neg_log_softmax(x, (ax,))), (ax,))


def _int_labels(ctx: Context, labels: Any, what: str) -> Node:
    """Integer class indices: an int node, or Python ints (nested lists)."""
    if isinstance(labels, Node):
        if labels.is_float or labels.dtype == "bool":
            raise SpecError(f"'{what}' must be integers (an input with dtype int64 or int32), "
                            f"got {labels.dtype}")
        return labels
    array = np.asarray(labels) if not isinstance(labels, str) else None
    if array is None or array.dtype.kind not in "iu":
        raise SpecError(f"'{what}' must be integers, got {labels!r}")
    return const(array.astype(np.int64))


def one_hot_mask(labels: Node, depth: int) -> Node:
    """Boolean (..., depth) array: True where the last index equals the label."""
    classes = const(np.arange(depth, dtype=labels.dtype))
    return N.compare("eq", N.reshape(labels, labels.shape + (1,)), classes)


def one_hot(ctx: Context, indices: Any, depth: Any) -> Node:
    """tf.one_hot: a float 1.0 at each index along a new last axis; indices
    outside [0, depth) give a row of zeros."""
    labels = _int_labels(ctx, indices, "indices")
    classes = int_arg("depth", depth, minimum=0)
    check_size(ctx, labels.shape + (classes,))  # before the arange of the classes
    return N.cast(one_hot_mask(labels, classes), ctx.dtype)


def sparse_cross_entropy(ctx: Context, labels: Any, logits: Any) -> Node:
    """-log_softmax(logits)[label] per example
    (tf.nn.sparse_softmax_cross_entropy_with_logits)."""
    x = _logits(ctx, logits)
    y = _int_labels(ctx, labels, "labels")
    if y.shape != x.shape[:-1]:
        raise ShapeError(f"labels of shape {y.shape} must have the shape of logits without "
                         f"the class axis, {x.shape[:-1]} (logits {x.shape})")
    classes = x.shape[-1]
    last = (x.ndim - 1,)
    hit = one_hot_mask(y, classes)
    # where, not a product with a 0/1 mask: a -inf log-probability of another
    # class must not turn into 0 * -inf = nan.
    picked = N.reduce_sum(N.where(hit, _neg_log_softmax(x, last), N.scalar(0.0, x)), last)
    zero = const(np.zeros((), y.dtype))
    valid = N.where(N.compare("ge", y, zero),
                    N.compare("lt", y, const(np.asarray(classes, y.dtype))), const(False))
    return N.where(valid, picked, N.scalar(math.nan, x))


def mse(ctx: Context, a: Any, b: Any) -> Node:
    """mean((a - b)**2) over all elements of the broadcast difference: a scalar."""
    a, b = elementwise(ctx, to_float(ctx, a), b)
    d = N.sub(a, b)
    count = d.size
    scale = 1.0 / count if count else math.nan
    return times(N.reduce_sum(N.mul(d, d), tuple(range(d.ndim))), N.scalar(scale, d))


SOFTMAX_TIES = ("where the two largest logits are within 1e-2 of each other: "
                "d2 s_i/dx_i2 = s_i (1 - s_i)(1 - 2 s_i) passes through 0 at a tie, and "
                "1 - 2 s_i is the difference of two rounded probabilities, with no digits "
                "left right at the tie (elsewhere below 2e-15)")
SOFTMAX_ACCURACY = (Accuracy(2, 1.0, SOFTMAX_TIES),
                    Accuracy(2, 1.0, SOFTMAX_TIES, "float32"))

FUNCTIONS = [
    define("softmax", softmax, "exp(x) / sum(exp(x)) over axis (default the last), "
           "exp(x - m) / (1 + S) by the softmax row", accuracy=SOFTMAX_ACCURACY),
    define("log_softmax", log_softmax, "x - logsumexp(x) over axis (default the last)"),
    define("cross_entropy", cross_entropy, "TensorFlow's softmax cross-entropy: "
           "-sum(labels * log_softmax(logits)) over the last axis, one loss per example; "
           "labels has the shape of logits"),
    define("sparse_cross_entropy", sparse_cross_entropy, "TensorFlow's sparse softmax "
           "cross-entropy: -log_softmax(logits)[label] per example; integer labels of shape "
           "logits.shape[:-1] (a label outside [0, classes) gives nan)"),
    define("mse", mse, "mean squared error: mean((a - b)**2) over ALL elements, a scalar "
           "(not one value per example)"),
    define("one_hot", one_hot, "integer indices -> float one-hot rows along a new last axis "
           "(out-of-range indices give zeros)", "no derivative (integer input)"),
]
