"""Models lowered to ordinary graph nodes: `net(x)` in an expression
becomes the nodes each layer's kind builds (matmuls, convolutions, pools,
activations) over parameter leaves, so every command (grad, jacobian,
hessian, check, graph, symbolic) works on a network without knowing it is one.

A parameter leaf is created the first time its model is called, when the
width of the input is known (Keras builds layers at their first call for the
same reason); later calls share it.  Values come from the model's weights
file or from its `init:` (see initializers.py).  Nothing here knows a layer
kind: the registry (`layers/`) says what each one needs and builds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions import CATALOGUE
from gradcli.language.functions.context import Context, as_node, to_float
from gradcli.language.layers import ACTIVATIONS, REGISTRY, Call, ParamSpec

if TYPE_CHECKING:
    from gradcli.language.layers import Layer
    from gradcli.language.models import ModelSpec

__all__ = ["ACTIVATIONS", "ModelSet", "Parameter"]


@dataclass(frozen=True, eq=False)
class Parameter:
    """One parameter as `gradcli params` lists it (plain data)."""

    name: str
    model: str
    shape: tuple[int | None, ...]   # None: the model is never called, its input width unknown
    dtype: str
    trainable: bool
    source: str                     # init, npz (importers: onnx, keras, safetensors)
    origin: str                     # the initializer and seed, or the file
    value: np.ndarray | None        # None when the shape is not known


class ModelSet:
    """The models of one Problem: callables for the expression compiler, and
    the parameter leaves and values their calls created."""

    def __init__(self, models: Mapping[str, ModelSpec], ctx: Context) -> None:
        self.models = dict(models)
        self.ctx = ctx
        self.parameters: dict[str, Node] = {}
        self.values: dict[str, np.ndarray] = {}
        self.specs: dict[str, ParamSpec] = {}
        self.callables: dict[str, Callable[..., Node]] = {
            name: self._caller(name) for name in self.models}

    def _caller(self, name: str) -> Callable[..., Node]:
        def call(*args: Any, **kwargs: Any) -> Node:
            return self.call(name, *args, **kwargs)

        return call

    def groups(self) -> dict[str, list[str]]:
        """Model name -> its trainable parameters that exist (layer order): what
        `wrt: [net]` differentiates (moving statistics are named one by one)."""
        return {name: [p for p in model.parameter_names()
                       if p in self.parameters and self.specs[p].trainable]
                for name, model in self.models.items()}

    def all_parameters(self, model: str) -> list[str]:
        """Every parameter of `model` that exists, trainable or not."""
        return [p for p in self.models[model].parameter_names() if p in self.parameters]

    def call(self, name: str, *args: Any, **kwargs: Any) -> Node:
        model = self.models[name]
        if kwargs:
            raise SpecError(f"{name}(...) takes its inputs as positional arguments, not "
                            f"'{next(iter(kwargs))}='")
        if not args:
            raise SpecError(f"{name}() needs an input, like {name}(x)")
        if model.graph is not None:  # an imported graph (importers/base.py)
            return self._ordered(model.graph.lower(self._graph_call(model),
                                                   [as_node(self.ctx, a) for a in args]))
        first = REGISTRY[model.layers[0].kind]
        xs = [as_node(self.ctx, a) if first.integer_input else to_float(self.ctx, a)
              for a in args]
        if first.join is not None:
            x = first.join(name, xs, apply)
        elif len(xs) == 1:
            x = xs[0]
        else:
            raise SpecError(f"model '{name}' takes one input, got {len(xs)}; to call it with "
                            f"several, make its first layer concat")
        for layer in model.layers:
            x = self._layer(model, layer, x)
        return self._ordered(x)

    def _ordered(self, result: Any) -> Any:
        """`result`, after putting the parameters in the models' and layers'
        order (a kind creates them as it needs them)."""
        order = [p for m in self.models.values() for p in m.parameter_names()]
        self.parameters = {p: self.parameters[p] for p in order if p in self.parameters}
        self.values = {p: self.values[p] for p in self.parameters}
        return result

    def _graph_call(self, model: ModelSpec) -> Any:
        from gradcli.language.importers.base import GraphCall

        specs = dict(model.parameters())

        def param(key: str) -> Node:
            node = self.parameters.get(key)
            if node is None:
                node = self._store(key, specs[key], np.asarray(model.weights[key],
                                                               dtype=self.ctx.dtype))
            return node

        def function(fn: str, *args: Any, **kwargs: Any) -> Node:
            return CATALOGUE[fn].build(self.ctx, *args, **kwargs)

        return GraphCall(self.ctx, model.name, param,
                         lambda layer, x: self._layer(model, layer, x), N, apply, function)

    def _layer(self, model: ModelSpec, layer: Layer, x: Node) -> Node:
        kind = REGISTRY[layer.kind]
        features = x.shape[-1] if x.ndim else None
        specs = {p.part: p for p in kind.params(layer.options, features)}

        def param(part: str) -> Node:
            return self._parameter(model, layer, specs[part], x)

        def function(fn: str, *args: Any, **kwargs: Any) -> Node:
            return CATALOGUE[fn].build(self.ctx, *args, **kwargs)

        return kind.lower(Call(self.ctx, layer, model.name, param, N, apply, function), x)

    def _parameter(self, model: ModelSpec, layer: Layer, spec: ParamSpec, x: Node) -> Node:
        key = f"{model.name}.{layer.index}.{spec.part}"
        shape = tuple(int(d) for d in spec.shape if d is not None)
        if len(shape) != len(spec.shape):  # a kind asked for a parameter of a scalar input
            raise ShapeError(f"{model.name} layer {layer.index} ({layer.kind}) needs an array "
                             f"with a feature axis, got shape {x.shape}")
        node = self.parameters.get(key)
        found = node.shape if node is not None else None
        if model.weights is not None and node is None:
            found = tuple(model.weights[key].shape)
        if found is not None and found != shape:
            raise ShapeError(f"{model.name} layer {layer.index} ({layer.kind}) gets "
                             f"{x.shape[-1]} features (input shape {x.shape}) but {key} has "
                             f"shape {found}, expected {shape}")
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

            rng = inits.generator(model.init.seed, layer.index, spec.part)
            value = inits.sample(_initializer(model, spec), shape, rng, self.ctx.dtype)
        return self._store(key, spec, value)

    def _store(self, key: str, spec: ParamSpec, value: np.ndarray) -> Node:
        """The leaf of a new parameter, its value and spec kept."""
        value.setflags(write=False)
        node = leaf(key, value.shape, self.ctx.dtype)
        self.parameters[key] = node
        self.values[key] = value
        self.specs[key] = spec
        return node

    def describe(self) -> list[Parameter]:
        """Every parameter of every model, created or not (`gradcli params`)."""
        listed = []
        for model in self.models.values():
            for name, spec in model.parameters():
                node = self.parameters.get(name)
                shape = node.shape if node is not None else spec.shape
                source, origin = _origin(model, spec)
                listed.append(Parameter(name, model.name, shape, self.ctx.dtype, spec.trainable,
                                        source, origin, self.values.get(name)))
        return listed


def _initializer(model: ModelSpec, spec: ParamSpec) -> Any:
    from gradcli.language import initializers as inits  # lazy-for-speed: models

    if spec.init == "kernel":
        return model.init.kernel
    if spec.init == "bias":
        return model.init.bias
    return inits.make(spec.init)


def _origin(model: ModelSpec, spec: ParamSpec) -> tuple[str, str]:
    """(source, where from) of a parameter: the file, or the initializer and seed."""
    if model.weights is not None:
        return model.weights_format, model.weights_file
    init = _initializer(model, spec)
    params = ", ".join(f"{k}={v:g}" for k, v in init.params.items())
    text = f"{init.name}({params})" if params else init.name
    random = init.name not in ("zeros", "ones", "constant")
    return "init", f"{text}, seed {model.init.seed}" if random else text
