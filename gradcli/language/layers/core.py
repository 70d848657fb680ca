"""The core layers: dense, activation, flatten, concat, reshape, dropout."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gradcli.errors import ShapeError
from gradcli.language.layers.activations import NAMES as ACTIVATION_NAMES
from gradcli.language.layers.activations import activate
from gradcli.language.layers.base import (
    Call,
    Features,
    LayerKind,
    ParamSpec,
    unknown_features,
)
from gradcli.language.layers.options import (
    Count,
    Flag,
    Names,
    Option,
    Options,
    Real,
    TargetShape,
)

if TYPE_CHECKING:
    from gradcli.engine.graph import Node


def activation_option(doc: str = "applied to the result (Keras names; linear: none)") -> Option:
    return Option("activation", Names(ACTIVATION_NAMES, "linear"), "linear", doc)


def use_bias_option() -> Option:
    return Option("use_bias", Flag(), True, "add a bias vector")


def feature_axis(c: Call, x: Node) -> None:
    if x.ndim == 0:
        raise ShapeError(f"{c.what} needs an array with a feature axis, got a scalar")


def bias_and_activation(c: Call, y: Node) -> Node:
    """y + bias (when the layer has one), then its activation."""
    if c["use_bias"]:
        y = c.nodes.add(y, c.param("bias"))
    return activate(c.ctx, c["activation"], y)


# ---- dense ---------------------------------------------------------------------

def _dense_params(o: Mapping[str, Any], features: Features) -> tuple[ParamSpec, ...]:
    kernel = ParamSpec("kernel", (features, o["units"]), "kernel")
    return (kernel, ParamSpec("bias", (o["units"],), "bias")) if o["use_bias"] else (kernel,)


def _dense(c: Call, x: Node) -> Node:
    feature_axis(c, x)
    return bias_and_activation(c, c.function("matmul", x, c.param("kernel")))


DENSE = LayerKind(
    "dense", "units linear in the last axis: y = activation(x @ kernel + bias)", _dense,
    Options((Option("units", Count(), doc="output width",
                    need="a positive number of units, like {dense: 8}"),
             activation_option(), use_bias_option()), shorthand="units"),
    _dense_params, lambda o, f: o["units"],
    example="{dense: {units: 8, activation: tanh}}", keras="Dense",
    details="`{dense: 8}` is the short form. The kernel is `(in, units)`, as Keras stores "
            "it; on an input of more axes the layer acts on the last one.")


# ---- activation, dropout ---------------------------------------------------------

ACTIVATION = LayerKind(
    "activation", "an activation on its own", lambda c, x: activate(c.ctx, c["activation"], x),
    Options((Option("activation", Names(ACTIVATION_NAMES, "linear"),
                    doc="the activation's Keras name"),), shorthand="activation"),
    example="{activation: relu}", keras="Activation")

DROPOUT = LayerKind(
    "dropout", "the identity: dropout is only active while training", lambda c, x: x,
    Options((Option("rate", Real(0.0, 1.0, open_high=True),
                    doc="fraction dropped while training (unused: gradcli evaluates the "
                        "trained network, as Keras's inference does)"),), shorthand="rate"),
    example="{dropout: 0.5}", keras="Dropout")


# ---- flatten, reshape, concat -------------------------------------------------------

def _flatten(c: Call, x: Node) -> Node:
    feature_axis(c, x)
    # keras Flatten keeps the batch axis: (B, ...) -> (B, prod); (B,) -> (B, 1)
    return c.nodes.reshape(x, (x.shape[0], math.prod(x.shape[1:])))


FLATTEN = LayerKind(
    "flatten", "(B, ...) -> (B, prod(...)), keeping the batch axis like Keras ((B,) -> (B, 1))",
    _flatten, features=unknown_features, example="flatten", keras="Flatten")


def _reshape(c: Call, x: Node) -> Node:
    feature_axis(c, x)
    target, size = list(c["target_shape"]), math.prod(x.shape[1:])
    known = math.prod(d for d in target if d != -1)
    if -1 in target and known and size % known == 0:
        target[target.index(-1)] = size // known
    if math.prod(target) != size:
        raise ShapeError(f"{c.what} cannot reshape {x.shape[1:]} (the axes after the batch "
                         f"axis, {size} elements) into {tuple(c['target_shape'])}")
    return c.nodes.reshape(x, (x.shape[0], *target))


RESHAPE = LayerKind(
    "reshape", "(B, ...) -> (B, *target_shape); one size may be -1 (inferred)", _reshape,
    Options((Option("target_shape", TargetShape(), doc="the new shape without the batch axis"),),
            shorthand="target_shape"),
    features=lambda o, f: None if o["target_shape"][-1] == -1 else o["target_shape"][-1],
    example="{reshape: [7, 7, 1]}", keras="Reshape")


def _concat(model: str, xs: list[Node], apply: Callable[..., Node]) -> Node:
    """The concat layer: the inputs joined along their last (feature) axis."""
    first = xs[0]
    for x in xs:
        if x.ndim == 0 or x.ndim != first.ndim or x.shape[:-1] != first.shape[:-1]:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ShapeError(f"{model}(...) joins its inputs along their last axis, so they "
                             f"need the same shape apart from it; got {shapes} (points as "
                             "columns of shape (N, 1) work)")
    return first if len(xs) == 1 else apply("concat", xs, {"axis": first.ndim - 1})


CONCAT = LayerKind(
    "concat", "first layer only: the model takes several inputs, net(x, t), joined along their "
              "last axis", lambda c, x: x,
    features=unknown_features, example="concat", keras="Concatenate", first_only=True,
    join=_concat,
    details="`x` and `t` of shape `(N, 1)` give `(N, 2)`: the usual input of a PINN.")

KINDS = (DENSE, ACTIVATION, FLATTEN, CONCAT, RESHAPE, DROPOUT)
