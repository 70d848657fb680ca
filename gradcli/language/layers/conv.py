"""Convolutions, channels last as in Keras: conv1d and conv2d, lowered to
the `conv` primitive (engine/ops/conv.py) plus a bias and an activation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gradcli.errors import ShapeError
from gradcli.language.layers.base import Call, Features, LayerKind, ParamSpec
from gradcli.language.layers.core import activation_option, bias_and_activation, use_bias_option
from gradcli.language.layers.options import Choice, Count, Option, Options, Sizes

if TYPE_CHECKING:
    from gradcli.engine.graph import Node

SPATIAL = {1: "steps", 2: "height, width"}
SPATIAL_OUT = {1: "steps'", 2: "height', width'"}
KERNEL = {1: "(kernel_size, in, filters)", 2: "(kh, kw, in, filters)"}
PADDING_DOC = ("valid: no padding; same: ceil(size / strides) outputs, zero padding split as "
               "TensorFlow does (the odd cell at the end: bottom/right)")


def padding_for(c: Call, sizes: tuple[int, ...], window: tuple[int, ...],
                strides: tuple[int, ...], dilation: tuple[int, ...]
                ) -> tuple[tuple[int, int], ...]:
    """(lo, hi) zero padding per spatial axis for the layer's `padding`."""
    from gradcli.engine.ops.windows import same_padding, span  # the engine: at lowering only

    mode = c["padding"]
    if mode == "same":
        return tuple(same_padding(n, k, s, d)
                     for n, k, s, d in zip(sizes, window, strides, dilation))
    if mode == "causal":  # Keras Conv1D: every output sees only the present and the past
        return tuple((span(k, d) - 1, 0) for k, d in zip(window, dilation))
    return ((0, 0),) * len(sizes)


def spatial_input(c: Call, x: Node, rank: int) -> tuple[int, ...]:
    """The spatial sizes of a (batch, *spatial, channels) input, or an error."""
    if x.ndim != rank + 2:
        raise ShapeError(f"{c.what} takes (batch, {SPATIAL[rank]}, channels), an array of "
                         f"{rank + 2} axes; got shape {x.shape}")
    return x.shape[1:-1]


def _conv_kind(rank: int) -> LayerKind:
    name = f"conv{rank}d"

    def params(o: Mapping[str, Any], features: Features) -> tuple[ParamSpec, ...]:
        kernel = ParamSpec("kernel", (*o["kernel_size"], features, o["filters"]), "kernel")
        if not o["use_bias"]:
            return (kernel,)
        return kernel, ParamSpec("bias", (o["filters"],), "bias")

    def lower(c: Call, x: Node) -> Node:
        from gradcli.engine.ops.conv import conv_attrs  # the engine: at lowering only

        sizes = spatial_input(c, x, rank)
        window, strides, dilation = c["kernel_size"], c["strides"], c["dilation_rate"]
        padding = padding_for(c, sizes, window, strides, dilation)
        attrs = conv_attrs(strides, dilation, padding)
        return bias_and_activation(c, c.apply("conv", (x, c.param("kernel")), attrs))

    modes = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
    ones = (1,) * rank
    example = f"{{{name}: {{filters: 8, kernel_size: {3 if rank == 1 else '[3, 3]'}}}}}"
    return LayerKind(
        name, f"{rank}-D convolution, channels last: (B, {SPATIAL[rank]}, Cin) -> "
              f"(B, {SPATIAL_OUT[rank]}, filters)", lower,
        Options((
            Option("filters", Count(), doc="output channels",
                   need=f"a positive number of filters, like {example}"),
            Option("kernel_size", Sizes(rank), doc="the window, per spatial axis"),
            Option("strides", Sizes(rank), ones, "step of the window"),
            Option("padding", Choice(modes), "valid", PADDING_DOC
                   + ("; causal: (kernel_size - 1) * dilation_rate zeros before the start"
                      if rank == 1 else "")),
            Option("dilation_rate", Sizes(rank), ones, "spacing of the window's taps"),
            activation_option(), use_bias_option())),
        params, lambda o, f: o["filters"], example=example, keras=f"Conv{rank}D",
        details=f"The kernel is `{KERNEL[rank]}`, Keras's layout. "
                "Strides and dilation together are allowed (Keras refuses them).")


KINDS = (_conv_kind(1), _conv_kind(2))
