"""Normalisation: batch_norm at inference (the moving statistics) and
layer_norm, over the last axis as Keras's defaults (axis=-1), with Keras's
default epsilon 1e-3 (PyTorch uses 1e-5: set `epsilon` when importing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gradcli.errors import ShapeError
from gradcli.language.layers.base import Call, Features, LayerKind, ParamSpec
from gradcli.language.layers.options import Flag, Option, Options, Real

if TYPE_CHECKING:
    from gradcli.engine.graph import Node


def _options() -> Options:
    return Options((
        Option("epsilon", Real(0.0, open_low=True), 1e-3, "added to the variance (Keras: "
                                                          "1e-3, PyTorch: 1e-5)"),
        Option("center", Flag(), True, "add beta (a learned offset)"),
        Option("scale", Flag(), True, "multiply by gamma (a learned scale)")))


def _affine(o: Mapping[str, Any], features: Features) -> tuple[ParamSpec, ...]:
    return ((ParamSpec("gamma", (features,), "ones"),) if o["scale"] else ()) + \
        ((ParamSpec("beta", (features,), "zeros"),) if o["center"] else ())


def _scaled(c: Call, centred: Node, variance: Node) -> Node:
    """centred * gamma / sqrt(variance + epsilon) + beta."""
    N = c.nodes
    inv = N.power(N.add(variance, N.scalar(c["epsilon"], variance)),
                  N.scalar(-0.5, variance))
    if c["scale"]:
        inv = N.mul(inv, c.param("gamma"))
    y = N.mul(centred, inv)
    return N.add(y, c.param("beta")) if c["center"] else y


def _features(c: Call, x: Node) -> None:
    if x.ndim < 2:
        raise ShapeError(f"{c.what} normalises the last axis of (batch, ..., features); got "
                         f"shape {x.shape}")


def _batch_norm(c: Call, x: Node) -> Node:
    _features(c, x)
    return _scaled(c, c.nodes.sub(x, c.param("moving_mean")), c.param("moving_variance"))


def _layer_norm(c: Call, x: Node) -> Node:
    _features(c, x)
    N = c.nodes
    mean = c.function("mean", x, axis=-1, keepdims=True)
    centred = N.sub(x, mean)
    variance = c.function("mean", N.mul(centred, centred), axis=-1, keepdims=True)
    return _scaled(c, centred, variance)


BATCH_NORM = LayerKind(
    "batch_norm", "inference batch normalisation of the last axis: "
                  "gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta",
    _batch_norm, _options(),
    lambda o, f: _affine(o, f) + (ParamSpec("moving_mean", (f,), "zeros", trainable=False),
                                  ParamSpec("moving_variance", (f,), "ones", trainable=False)),
    example="{batch_norm: {epsilon: 0.001}}", keras="BatchNormalization",
    details="The statistics are the trained moving averages (Keras's `training=False`): "
            "parameters `moving_mean` and `moving_variance`, not trainable, so `wrt: [net]` "
            "leaves them out (name them to differentiate by them).")

LAYER_NORM = LayerKind(
    "layer_norm", "normalisation of each sample over its last axis: "
                  "gamma * (x - mean) / sqrt(var + epsilon) + beta",
    _layer_norm, _options(), _affine, example="{layer_norm: {epsilon: 1.0e-5}}",
    keras="LayerNormalization",
    details="The mean and the (biased) variance are over the last axis of each sample.")

KINDS = (BATCH_NORM, LAYER_NORM)
