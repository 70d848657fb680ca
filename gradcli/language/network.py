"""Models lowered to ordinary graph nodes: `net(x)` in an expression
becomes matmuls, adds and activations over parameter leaves, so every
command (grad, jacobian, hessian, check, graph, symbolic) works on a network
without knowing it is one.

A parameter leaf is created the first time its model is called, when the
width of the input is known (Keras builds layers at their first call for the
same reason); later calls share it.  Values come from the model's weights
file or from its `init:` (see initializers.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions import CATALOGUE
from gradcli.language.functions.context import Context, to_float

if TYPE_CHECKING:
    from gradcli.language.models import Layer, ModelSpec

Activation = Callable[[Context, Node], Node]
# keras.activations.selu
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _catalogue(name: str, **kwargs: Any) -> Activation:
    return lambda ctx, x: CATALOGUE[name].build(ctx, x, **kwargs)


def _selu(ctx: Context, x: Node) -> Node:
    return N.mul(N.scalar(SELU_SCALE, x), CATALOGUE["elu"].build(ctx, x, alpha=SELU_ALPHA))


def _softsign(ctx: Context, x: Node) -> Node:
    return N.div(x, N.add(N.scalar(1.0, x), CATALOGUE["abs"].build(ctx, x)))


def _mish(ctx: Context, x: Node) -> Node:
    return apply("mul", (x, CATALOGUE["tanh"].build(ctx, CATALOGUE["softplus"].build(ctx, x))))


# Keras's activation names with Keras's defaults (leaky_relu's slope is
# Keras 3's 0.2, elu's alpha 1, gelu exact), plus sin, common in PINNs.
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


class ModelSet:
    """The models of one Problem: callables for the expression compiler, and
    the parameter leaves and values their calls created."""

    def __init__(self, models: Mapping[str, ModelSpec], ctx: Context) -> None:
        self.models = dict(models)
        self.ctx = ctx
        self.parameters: dict[str, Node] = {}
        self.values: dict[str, np.ndarray] = {}
        self.callables: dict[str, Callable[..., Node]] = {
            name: self._caller(name) for name in self.models}

    def _caller(self, name: str) -> Callable[..., Node]:
        def call(*args: Any, **kwargs: Any) -> Node:
            return self.call(name, *args, **kwargs)

        return call

    def groups(self) -> dict[str, list[str]]:
        """Model name -> the names of its parameters that exist (layer order)."""
        return {name: [p for p in model.parameter_names() if p in self.parameters]
                for name, model in self.models.items()}

    def call(self, name: str, *args: Any, **kwargs: Any) -> Node:
        model = self.models[name]
        if kwargs:
            raise SpecError(f"{name}(...) takes its inputs as positional arguments, not "
                            f"'{next(iter(kwargs))}='")
        if not args:
            raise SpecError(f"{name}() needs an input, like {name}(x)")
        xs = [to_float(self.ctx, a) for a in args]
        if model.layers[0].kind == "concat":
            x = _concat(name, xs)
        elif len(xs) == 1:
            x = xs[0]
        else:
            raise SpecError(f"model '{name}' takes one input, got {len(xs)}; to call it with "
                            f"several, make its first layer concat")
        for layer in model.layers:
            x = self._layer(model, layer, x)
        return x

    def _layer(self, model: ModelSpec, layer: Layer, x: Node) -> Node:
        what = f"{model.name} layer {layer.index} ({layer.kind})"
        if layer.kind == "concat":
            return x
        if layer.kind == "activation":
            return ACTIVATIONS[layer.activation](self.ctx, x)
        if x.ndim == 0:
            raise ShapeError(f"{what} needs an array with a feature axis, got a scalar")
        if layer.kind == "flatten":
            # keras Flatten keeps the batch axis: (B, ...) -> (B, prod); (B,) -> (B, 1)
            return N.reshape(x, (x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64))))
        kernel = self._parameter(model, layer, "kernel", (x.shape[-1], layer.units))
        if kernel.shape[0] != x.shape[-1]:
            raise ShapeError(f"{what} gets {x.shape[-1]} features (input shape {x.shape}) but "
                             f"{model.name}.{layer.index}.kernel has shape {kernel.shape}: "
                             f"{kernel.shape[0]} rows")
        y = CATALOGUE["matmul"].build(self.ctx, x, kernel)
        if layer.use_bias:
            y = N.add(y, self._parameter(model, layer, "bias", (layer.units,)))
        return ACTIVATIONS[layer.activation](self.ctx, y)

    def _parameter(self, model: ModelSpec, layer: Layer, part: str,
                   shape: tuple[int, ...]) -> Node:
        key = f"{model.name}.{layer.index}.{part}"
        node = self.parameters.get(key)
        if node is not None:
            return node
        size = math.prod(shape)  # Python ints: units: 10**20 must not wrap around
        limit = self.ctx.max_elements
        if model.weights is None and size > limit:
            raise SpecError(f"{key} would have shape {shape}: {size} elements, more than the "
                            f"limit of {limit} (raise it with --max-elements)")
        if model.weights is not None:
            value = np.asarray(model.weights[key], dtype=self.ctx.dtype)
        else:
            from gradcli.language import initializers as inits  # lazy-for-speed: models

            init = model.init.kernel if part == "kernel" else model.init.bias
            rng = inits.generator(model.init.seed, layer.index, part)
            value = inits.sample(init, shape, rng, self.ctx.dtype)
        value.setflags(write=False)
        node = leaf(key, value.shape, self.ctx.dtype)
        self.parameters[key] = node
        self.values[key] = value
        return node


def _concat(name: str, xs: list[Node]) -> Node:
    """The concat layer: the inputs joined along their last (feature) axis."""
    first = xs[0]
    for x in xs:
        if x.ndim == 0 or x.ndim != first.ndim or x.shape[:-1] != first.shape[:-1]:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ShapeError(f"{name}(...) joins its inputs along their last axis, so they "
                             f"need the same shape apart from it; got {shapes} (points as "
                             "columns of shape (N, 1) work)")
    if len(xs) == 1:
        return first
    return apply("concat", xs, {"axis": first.ndim - 1})
