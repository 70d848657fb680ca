"""Keras's activation names with Keras's defaults (leaky_relu's slope is
Keras 3's 0.2, elu's alpha 1, gelu the exact erf form), plus sin, common
in PINNs; each lowered through the function catalogue, whose rows carry
the stable forms and the kink conventions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcli.engine.graph import Node
    from gradcli.language.functions.context import Context

Activation = Callable[["Context", "Node"], "Node"]
# keras.activations.selu
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _fn(ctx: Context, name: str, *args: Any, **kwargs: Any) -> Node:
    # the catalogue imports the engine: only when a network is built, never
    # when completion or the schema reads the activation names
    from gradcli.language.functions import CATALOGUE

    return CATALOGUE[name].build(ctx, *args, **kwargs)


def _catalogue(name: str, **kwargs: Any) -> Activation:
    return lambda ctx, x: _fn(ctx, name, x, **kwargs)


def _nodes() -> Any:
    from gradcli.engine.ops import nodes  # only when a network is built (see _fn)

    return nodes


def _selu(ctx: Context, x: Node) -> Node:
    N = _nodes()
    return N.mul(N.scalar(SELU_SCALE, x), _fn(ctx, "elu", x, alpha=SELU_ALPHA))


def _softsign(ctx: Context, x: Node) -> Node:
    N = _nodes()
    return N.div(x, N.add(N.scalar(1.0, x), _fn(ctx, "abs", x)))


def _mish(ctx: Context, x: Node) -> Node:
    return _nodes().mul(x, _fn(ctx, "tanh", _fn(ctx, "softplus", x)))


ACTIVATIONS: Mapping[str, Activation] = {
    "linear": lambda ctx, x: x,
    "relu": _catalogue("relu"),
    "sigmoid": _catalogue("sigmoid"),
    "tanh": _catalogue("tanh"),
    "softmax": _catalogue("softmax"),
    "log_softmax": _catalogue("log_softmax"),
    "softplus": _catalogue("softplus"),
    "softsign": _softsign,
    "elu": _catalogue("elu"),
    "selu": _selu,
    "gelu": _catalogue("gelu"),
    "silu": _catalogue("silu"),
    "swish": _catalogue("silu"),
    "mish": _mish,
    "leaky_relu": _catalogue("leaky_relu", alpha=0.2),
    "exponential": _catalogue("exp"),
    "sin": _catalogue("sin"),
}
NAMES = tuple(ACTIVATIONS)


def activate(ctx: Context, name: str, x: Node) -> Node:
    return ACTIVATIONS[name](ctx, x)
