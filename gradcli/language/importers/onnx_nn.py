"""ONNX's network operators: softmax and the parametrised activations,
convolutions, pools and normalisation.

ONNX is channels first, (N, C, *spatial); gradcli's `conv` primitive is
channels last (Keras's layout), so a Conv transposes its input and kernel
in the graph, convolves and transposes back (the derivatives go through the
transposes, so `--wrt` on a kernel is in ONNX's (M, C, *k) layout).  Pools
run the `patches` primitive on the spatial axes directly.  Padding follows
ONNX: explicit `pads` (begins, then ends), `auto_pad` SAME_UPPER/SAME_LOWER/
VALID, and `ceil_mode` (the last window must start inside the input or its
leading padding, as onnxruntime and PyTorch count)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.errors import ShapeError
from gradcli.language.importers.onnx_ops import Step, Value, need

Pads = tuple[tuple[int, int], ...]


def _softmax(step: Step, args: list[Any]) -> Value:
    x = step.float_node(need(step, args, 1)[0])
    name = "softmax" if step.node.op == "Softmax" else "log_softmax"
    return step.fn(name, x, axis=step.axis(int(step.attr("axis", -1)), x.ndim))


def _activation(step: Step, args: list[Any]) -> Value:
    x = step.float_node(need(step, args, 1)[0])
    op = step.node.op
    if op == "LeakyRelu":
        return step.fn("leaky_relu", x, alpha=float(step.attr("alpha", 0.01)))
    if op == "Elu":
        return step.fn("elu", x, alpha=float(step.attr("alpha", 1.0)))
    mode = step.attr("approximate", "none")  # Gelu
    if mode not in ("none", "tanh"):
        raise step.fail(f"has approximate={mode!r}; ONNX defines 'none' and 'tanh'")
    return step.fn("gelu", x, approximate=mode == "tanh")


# ---- geometry ------------------------------------------------------------------------

def _spatial(step: Step, x: Node, what: str) -> tuple[int, ...]:
    if x.ndim < 3:
        raise ShapeError(f"takes (batch, channels, *spatial) for its {what}, got shape "
                         f"{x.shape}")
    return x.shape[2:]


def _ints_attr(step: Step, name: str, rank: int, default: int) -> tuple[int, ...]:
    value = tuple(int(v) for v in step.attr(name, (default,) * rank))
    if len(value) != rank or any(v < 1 for v in value):
        raise step.fail(f"has {name}={value}; it needs {rank} positive integers")
    return value


def _pads(step: Step, sizes: tuple[int, ...], window: tuple[int, ...],
          strides: tuple[int, ...], dilation: tuple[int, ...]) -> Pads:
    """(lo, hi) per spatial axis from `auto_pad` or `pads`."""
    rank = len(sizes)
    auto = step.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        found = []
        for n, k, s, d in zip(sizes, window, strides, dilation):
            total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small, large = total // 2, total - total // 2
            found.append((small, large) if auto == "SAME_UPPER" else (large, small))
        return tuple(found)
    if auto == "VALID":
        return ((0, 0),) * rank
    if auto != "NOTSET":
        raise step.fail(f"has auto_pad={auto!r}; ONNX defines NOTSET, SAME_UPPER, "
                        "SAME_LOWER and VALID")
    pads = tuple(int(p) for p in step.attr("pads", (0,) * (2 * rank)))
    if len(pads) != 2 * rank or any(p < 0 for p in pads):
        raise step.fail(f"has pads={pads}; it needs {2 * rank} non-negative integers")
    return tuple(zip(pads[:rank], pads[rank:]))


def _ceil_pads(step: Step, sizes: tuple[int, ...], window: tuple[int, ...],
               strides: tuple[int, ...], dilation: tuple[int, ...], pads: Pads) -> Pads:
    """The padding with ceil_mode's extra cells at the end (none without it)."""
    if not step.attr("ceil_mode", 0):
        return pads
    found = []
    for n, k, s, d, (lo, hi) in zip(sizes, window, strides, dilation, pads):
        span = (k - 1) * d + 1
        out = math.ceil((n + lo + hi - span) / s) + 1
        if (out - 1) * s >= n + lo:  # the last window must start inside
            out -= 1
        found.append((lo, max(hi, (out - 1) * s + span - n - lo)))
    return tuple(found)


# ---- convolution ---------------------------------------------------------------------

def _conv(step: Step, args: list[Any]) -> Value:
    x, w = (step.float_node(v) for v in need(step, args, 2)[:2])
    sizes = _spatial(step, x, "input")
    rank = len(sizes)
    if w.ndim != rank + 2:
        raise ShapeError(f"has a kernel of shape {w.shape} for an input of shape {x.shape}")
    groups = int(step.attr("group", 1))
    channels, filters = x.shape[1], w.shape[0]
    if groups < 1 or channels % groups or filters % groups or w.shape[1] * groups != channels:
        raise ShapeError(f"group={groups} does not fit {channels} input channels and a kernel "
                         f"of shape {w.shape}")
    window = w.shape[2:]
    if "kernel_shape" in step.node.attrs and tuple(step.attr("kernel_shape")) != window:
        raise ShapeError(f"has kernel_shape {step.attr('kernel_shape')} but a kernel of shape "
                         f"{w.shape}")
    strides = _ints_attr(step, "strides", rank, 1)
    dilation = _ints_attr(step, "dilations", rank, 1)
    pads = _pads(step, sizes, window, strides, dilation)
    N = step.N
    last = (0, *range(2, rank + 2), 1)             # (N, C, *S) -> (N, *S, C)
    xt = N.transpose(x, last)
    wt = N.transpose(w, (*range(2, rank + 2), 1, 0))  # (M, C/g, *k) -> (*k, C/g, M)
    from gradcli.engine.ops.conv import conv_attrs

    attrs = conv_attrs(strides, dilation, pads)
    if groups == 1:
        y = step.call.apply("conv", (xt, wt), attrs)
    else:
        from gradcli.language.functions.indexing import select

        cin, cout = channels // groups, filters // groups
        parts = [step.call.apply("conv", (
            select(step.call.ctx, xt, (Ellipsis, slice(g * cin, (g + 1) * cin))),
            select(step.call.ctx, wt, (Ellipsis, slice(g * cout, (g + 1) * cout)))), attrs)
            for g in range(groups)]
        y = step.fn("concat", parts, axis=rank + 1)
    bias = args[2] if len(args) > 2 else None
    if bias is not None:
        y = N.add(y, step.float_node(bias))          # channels last: broadcasts
    return N.transpose(y, (0, rank + 1, *range(1, rank + 1)))


# ---- pools ---------------------------------------------------------------------------

def _pool(step: Step, args: list[Any]) -> Value:
    x = step.float_node(need(step, args, 1)[0])
    sizes = _spatial(step, x, "input")
    rank = len(sizes)
    if "kernel_shape" not in step.node.attrs:
        raise step.fail("needs its kernel_shape")
    window = _ints_attr(step, "kernel_shape", rank, 1)
    strides = _ints_attr(step, "strides", rank, 1)
    dilation = _ints_attr(step, "dilations", rank, 1)
    explicit = _pads(step, sizes, window, strides, dilation)
    pads = _ceil_pads(step, sizes, window, strides, dilation, explicit)
    is_max = step.node.op == "MaxPool"
    axes = tuple(range(2, rank + 2))
    attrs = {"axes": axes, "window": window, "strides": strides, "dilation": dilation,
             "padding": pads, "value": -math.inf if is_max else 0.0}
    windows = step.call.apply("patches", (x,), attrs)
    taps = tuple(range(x.ndim, x.ndim + rank))
    if is_max:
        return step.call.apply("max", (windows,), {"axes": taps})
    if any(d != 1 for d in dilation):
        raise step.fail("is an average pool with dilations, which gradcli does not lower")
    counted = explicit if step.attr("count_include_pad", 0) else ((0, 0),) * rank
    total = np.ones((), dtype=np.float64)
    out = windows.shape[2:2 + rank]
    for n, k, s, (lo, _), (clo, chi), o in zip(sizes, window, strides, pads, counted, out):
        start = np.arange(o) * s - lo
        cells = np.minimum(start + k, n + chi) - np.maximum(start, -clo)
        total = np.multiply.outer(total, cells)
    scale = const((1.0 / total).reshape((1, 1, *out)).astype(x.dtype), x.dtype)
    return step.N.mul(step.N.reduce_sum(windows, taps), scale)


def _global_pool(step: Step, args: list[Any]) -> Value:
    x = step.float_node(need(step, args, 1)[0])
    _spatial(step, x, "input")
    name = "mean" if step.node.op == "GlobalAveragePool" else "max"
    return step.fn(name, x, axis=tuple(range(2, x.ndim)), keepdims=True)


# ---- normalisation ---------------------------------------------------------------------

def _inverse_std(step: Step, variance: Node, epsilon: float) -> Node:
    N = step.N
    return N.power(N.add(variance, N.scalar(epsilon, variance)), N.scalar(-0.5, variance))


def _batch_norm(step: Step, args: list[Any]) -> Value:
    x, scale, bias, mean, var = (step.float_node(v) for v in need(step, args, 5)[:5])
    if step.attr("training_mode", 0):
        raise step.fail("is in training mode; gradcli evaluates the trained network with its "
                        "running statistics (export in eval mode)")
    if x.ndim < 2:
        raise ShapeError(f"takes (batch, channels, ...), got shape {x.shape}")
    channels = x.shape[1]
    shape = (channels,) + (1,) * (x.ndim - 2)
    for name, p in (("scale", scale), ("B", bias), ("mean", mean), ("var", var)):
        if p.shape != (channels,):
            raise ShapeError(f"has {name} of shape {p.shape}, expected ({channels},)")
    N = step.N
    factor = N.reshape(N.mul(scale, _inverse_std(step, var, float(step.attr("epsilon",
                                                                             1e-5)))), shape)
    centred = N.sub(x, N.reshape(mean, shape))
    return N.add(N.mul(centred, factor), N.reshape(bias, shape))


def _layer_norm(step: Step, args: list[Any]) -> Value:
    x, scale = (step.float_node(v) for v in need(step, args, 2)[:2])
    axis = step.axis(int(step.attr("axis", -1)), x.ndim)
    axes = tuple(range(axis, x.ndim))
    N = step.N
    mean = step.fn("mean", x, axis=axes, keepdims=True)
    centred = N.sub(x, mean)
    variance = step.fn("mean", N.mul(centred, centred), axis=axes, keepdims=True)
    y = N.mul(N.mul(centred, _inverse_std(step, variance, float(step.attr("epsilon", 1e-5)))),
              scale)
    bias = args[2] if len(args) > 2 else None
    return N.add(y, step.float_node(bias)) if bias is not None else y


OPS = {"Softmax": _softmax, "LogSoftmax": _softmax, "LeakyRelu": _activation,
       "Elu": _activation, "Gelu": _activation, "Conv": _conv, "MaxPool": _pool,
       "AveragePool": _pool, "GlobalAveragePool": _global_pool,
       "GlobalMaxPool": _global_pool, "BatchNormalization": _batch_norm,
       "LayerNormalization": _layer_norm}
