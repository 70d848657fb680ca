"""A Keras model file as a gradcli model: `models: {net: {keras: model.keras}}`.

A Sequential model becomes a plain chain of registry layers, exactly the
`layers:` list one would write; a functional model becomes the same layers
plus its wiring (`KerasGraph`): which tensors each layer is called on, the
merges (Add, Concatenate, ...), the inputs and outputs.  Either way the
parameters are named MODEL.INDEX.PART, INDEX being the layer's position in
Keras's `model.layers` (a functional model counts its InputLayers there,
a Sequential model does not) and PART Keras's weight name (kernel, bias,
gamma, beta, moving_mean, moving_variance, embeddings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.errors import Location, ShapeError, SpecError
from gradcli.language.importers.base import GraphCall, Port, identifier
from gradcli.language.importers.keras_file import KerasFile, saving_name
from gradcli.language.importers.keras_layers import Input, Merge, convert, refuse_code
from gradcli.language.layers import REGISTRY, Layer, ParamSpec

Where = Location | str
Ref = tuple[str, int, int]   # (layer name, call index, tensor index): a Keras tensor


@dataclass(frozen=True)
class KerasModel:
    """What the importer hands the model builder."""

    layers: tuple[Layer, ...]
    weights: dict[str, np.ndarray]       # PART names: "0.kernel" (the model name goes first)
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    graph: KerasGraph | None


def read_model(file: KerasFile, where: Where) -> KerasModel:
    refuse_code(file.config, file.shown, where)
    kind, config = file.config["class_name"], file.config["config"]
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"Keras file {file.shown}: the model has no layers", where)
    if kind == "Sequential":
        return _sequential(file, entries, config, where)
    if kind in ("Functional", "Model"):
        return _functional(file, entries, config, where)
    raise SpecError(f"Keras file {file.shown} holds a {kind} model: a subclassed model whose "
                    "call() is Python code. gradcli reads Sequential and functional models "
                    "(keras.Model(inputs, outputs)); rebuild it as one of those", where)


def _weights(file: KerasFile, items: Sequence[tuple[Any, str]], where: Where
             ) -> dict[str, np.ndarray]:
    """PART name -> array for the registry layers among `items` (converted
    layer, its layer name); the file's arrays are assigned in Keras's order."""
    counts: dict[str, int] = {}
    found: dict[str, np.ndarray] = {}
    used = set()
    for layer, (entry_kind, name) in items:
        key = name
        if file.fmt == "keras":  # the saving library's names: class snake_case + counter
            base = saving_name(entry_kind)
            key = base if base not in counts else f"{base}_{counts[base]}"
            counts[base] = counts.get(base, 0) + 1
        arrays = file.weights.get(key, [])
        used.add(key)
        if not isinstance(layer, Layer):
            if arrays:
                raise SpecError(f"Keras file {file.shown}: layer '{name}' ({entry_kind}) has "
                                f"{len(arrays)} weights, expected none", where)
            continue
        parts = REGISTRY[layer.kind].parameter_parts(layer.options)
        if len(arrays) != len(parts):
            raise SpecError(f"Keras file {file.shown}: layer {layer.index} '{name}' "
                            f"({entry_kind}) has {len(arrays)} weights in the file, expected "
                            f"{len(parts)} ({', '.join(parts) or 'none'})", where)
        found.update({f"{layer.index}.{part}": array for part, array in zip(parts, arrays)})
    extra = [k for k, v in file.weights.items() if v and k not in used]
    if extra:
        raise SpecError(f"Keras file {file.shown} has weights for layers the model does not "
                        f"list: {', '.join(sorted(extra))}", where)
    return found


def _kinds(entries: list[Any]) -> list[tuple[str, str]]:
    return [(str(e.get("class_name")), str((e.get("config") or {}).get("name", "")))
            if isinstance(e, dict) else ("?", "?") for e in entries]


def _sequential(file: KerasFile, entries: list[Any], config: dict[str, Any],
                where: Where) -> KerasModel:
    names = _kinds(entries)
    first = convert(entries[0], 0, file.shown, where) if names[0][0] == "InputLayer" else None
    dims = first.dims if isinstance(first, Input) else config.get("build_input_shape")
    kept = [(e, n) for e, n in zip(entries, names) if n[0] != "InputLayer"]
    layers = []
    for index, (entry, _) in enumerate(kept):
        converted = convert(entry, index, file.shown, where)
        if not isinstance(converted, Layer):
            raise SpecError(f"Keras file {file.shown}: layer {index} '{kept[index][1][1]}' "
                            f"({kept[index][1][0]}) cannot be in a Sequential model", where)
        layers.append(converted)
    weights = _weights(file, [(layer, n) for layer, (_, n) in zip(layers, kept)], where)
    taken: set[str] = set()
    name = names[0][1] if isinstance(first, Input) else "input"
    dtype = first.dtype if isinstance(first, Input) else "float32"
    inputs = (Port(name, identifier(name, taken),
                   tuple(dims) if isinstance(dims, (list, tuple)) else None, dtype),)
    outputs = (Port(kept[-1][1][1], identifier(kept[-1][1][1], taken), None),)
    # the chain as a graph, so that the input's shape is checked as in a functional model
    refs = [(name, 0, 0)] + [(n[1], 0, 0) for _, n in kept]
    calls = tuple((refs[i + 1], layer, [refs[i]]) for i, layer in enumerate(layers))
    graph = KerasGraph(file.shown, calls, (refs[0],), (refs[-1],), inputs, outputs, weights)
    return KerasModel(tuple(layers), weights, inputs, outputs, graph)


def _ref(value: Any, shown: str, where: Where) -> Ref:
    if isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str):
        return (value[0], int(value[1]), int(value[2]))
    raise SpecError(f"Keras file {shown}: cannot read the tensor reference {value!r:.80}",
                    where)


def _refs(value: Any, shown: str, where: Where) -> list[Ref]:
    """[name, node, tensor] or a list of them (input_layers, output_layers)."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [_ref(value, shown, where)]
    return [_ref(v, shown, where) for v in (value or [])]


def _call_inputs(node: Any, shown: str, where: Where) -> list[Ref]:
    """The tensors one call of a layer takes: Keras 3's {"args": [...],
    "kwargs": {...}} or Keras 2's [[name, node, tensor, kwargs], ...]."""
    if isinstance(node, dict):
        kwargs = node.get("kwargs") or {}
        if any(v not in (None, False) for v in kwargs.values()):
            raise SpecError(f"Keras file {shown}: a layer is called with arguments "
                            f"{sorted(kwargs)}, which gradcli does not read", where)
        args = node.get("args") or []
        flat = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        refs = []
        for item in flat:
            history = (item.get("config") or {}).get("keras_history") \
                if isinstance(item, dict) else None
            refs.append(_ref(history, shown, where))
        return refs
    if isinstance(node, list):
        return [_ref(item, shown, where) for item in node]
    raise SpecError(f"Keras file {shown}: cannot read a layer's inbound node {node!r:.80}",
                    where)


def _functional(file: KerasFile, entries: list[Any], config: dict[str, Any],
                where: Where) -> KerasModel:
    converted = [convert(e, i, file.shown, where) for i, e in enumerate(entries)]
    names = _kinds(entries)
    by_name = {n: c for (_, n), c in zip(names, converted)}
    if len(by_name) != len(converted):
        raise SpecError(f"Keras file {file.shown}: two layers have the same name", where)
    calls = []
    for entry, layer, (_, name) in zip(entries, converted, names):
        for k, node in enumerate(entry.get("inbound_nodes") or []):
            calls.append(((name, k, 0), layer, _call_inputs(node, file.shown, where)))
    inputs = _refs(config.get("input_layers"), file.shown, where)
    outputs = _refs(config.get("output_layers"), file.shown, where)
    for ref in [*inputs, *outputs, *(r for _, _, rs in calls for r in rs)]:
        if ref[0] not in by_name:
            raise SpecError(f"Keras file {file.shown}: a tensor comes from layer '{ref[0]}', "
                            "which the model does not list", where)
    for ref in inputs:
        if not isinstance(by_name[ref[0]], Input):
            raise SpecError(f"Keras file {file.shown}: model input '{ref[0]}' is not an "
                            "InputLayer", where)
    weights = _weights(file, list(zip(converted, names)), where)
    taken: set[str] = set()
    ports_in = tuple(Port(r[0], identifier(r[0], taken), by_name[r[0]].dims,  # type: ignore
                          by_name[r[0]].dtype) for r in inputs)  # type: ignore
    ports_out = tuple(Port(r[0], identifier(r[0], taken), None) for r in outputs)
    graph = KerasGraph(file.shown, tuple(calls), tuple(inputs), tuple(outputs), ports_in,
                       ports_out, weights)
    layers = tuple(c for c in converted if isinstance(c, Layer))
    return KerasModel(layers, weights, ports_in, ports_out, graph)


class KerasGraph:
    """The wiring of a functional model (importers/base.py ModelGraph)."""

    format = "keras"

    def __init__(self, shown: str, calls: tuple[tuple[Ref, Any, list[Ref]], ...],
                 input_refs: tuple[Ref, ...], output_refs: tuple[Ref, ...],
                 inputs: tuple[Port, ...], outputs: tuple[Port, ...],
                 weights: dict[str, np.ndarray]) -> None:
        self.shown, self.calls = shown, calls
        self.input_refs, self.output_refs = input_refs, output_refs
        self.inputs, self.outputs = inputs, outputs
        self.specs: list[tuple[str, ParamSpec]] = []
        seen = set()
        for _, layer, _ in calls:
            if not isinstance(layer, Layer) or layer.index in seen:
                continue
            seen.add(layer.index)
            for spec in REGISTRY[layer.kind].params(layer.options, None):
                shape = tuple(weights[f"{layer.index}.{spec.part}"].shape)
                self.specs.append((f"{layer.index}.{spec.part}",
                                   ParamSpec(spec.part, shape, spec.init, spec.trainable)))
        order = {key: i for i, key in enumerate(weights)}
        self.specs.sort(key=lambda item: order[item[0]])

    def parameters(self, model: str) -> list[tuple[str, ParamSpec]]:
        return [(f"{model}.{key}", spec) for key, spec in self.specs]

    def lower(self, call: GraphCall, xs: Sequence[Node]) -> Node | list[Node]:
        if len(xs) != len(self.inputs):
            raise SpecError(f"{call.model}(...) takes {len(self.inputs)} input"
                            f"{'s' if len(self.inputs) != 1 else ''} "
                            f"({', '.join(p.name for p in self.inputs)}), got {len(xs)}")
        env: dict[Ref, Node] = {}
        for ref, port, x in zip(self.input_refs, self.inputs, xs):
            if not port.fits(x.shape):
                raise ShapeError(f"{call.model}'s input '{port.name}' has shape "
                                 f"{port.shape_text()} in the Keras file; got {x.shape}")
            floats = port.dtype.startswith(("float", "bfloat"))
            env[ref] = call.nodes.cast(x, call.ctx.dtype) if floats and not x.is_float else x
        pending = [c for c in self.calls if not isinstance(c[1], Input)]
        while pending:  # Keras lists layers in order; a shared layer may wait for its inputs
            ready = [c for c in pending if all(r in env for r in c[2])]
            if not ready:
                raise SpecError(f"{call.model}: Keras file {self.shown}: the layers' inputs "
                                "form a cycle or come from nowhere")
            for out, layer, refs in ready:
                env[out] = self._apply(call, layer, [env[r] for r in refs])
            pending = [c for c in pending if c[0] not in env]
        outs = []
        for ref in self.output_refs:
            if ref not in env:
                raise SpecError(f"{call.model}: Keras file {self.shown}: output '{ref[0]}' is "
                                "never computed")
            outs.append(env[ref])
        return outs[0] if len(outs) == 1 else outs

    def _apply(self, call: GraphCall, layer: Any, xs: list[Node]) -> Node:
        if isinstance(layer, Layer):
            if len(xs) != 1:
                raise SpecError(f"{call.model}: layer {layer.index} ({layer.kind}) takes one "
                                f"input, got {len(xs)}")
            return call.layer(layer, xs[0])
        merge: Merge = layer
        if merge.how == "concatenate":
            return call.function("concat", xs, axis=merge.axis)
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ShapeError(f"{call.model}: layer {merge.index} '{merge.name}' ({merge.how}) "
                             f"needs inputs of one shape, got {sorted(shapes)}")
        N = call.nodes
        y = xs[0]
        for x in xs[1:]:
            if merge.how in ("add", "average"):
                y = N.add(y, x)
            elif merge.how == "subtract":
                y = N.sub(y, x)
            elif merge.how == "multiply":
                y = N.mul(y, x)
            else:
                y = call.function(merge.how, y, x)
        if merge.how == "average":
            y = N.mul(y, N.scalar(1.0 / len(xs), y))
        return y
