"""An ONNX model as a gradcli model: `models: {net: {onnx: model.onnx}}`.

Float initializers are the model's parameters, leaves named
MODEL.INITIALIZER (`net.0.weight`, `net.fc1.bias`: the ONNX name after the
model's), so `--wrt net.0.weight`, `--wrt net` (every trainable one) and
`check` work on them; integer initializers (shapes, axes, indices) are
constants.  The moving mean and variance of a BatchNormalization are
parameters that are not trainable, as in Keras.  A call `net(x)` lowers
every node in the file's (topological) order through the operator table
(onnx_ops.py, onnx_nn.py); an operator not in the table is refused when
the model is loaded, naming the operator and the node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.errors import Location, ShapeError, SpecError
from gradcli.language.importers import onnx_layout, onnx_nn, onnx_ops
from gradcli.language.importers.base import GraphCall, Port
from gradcli.language.importers.onnx_file import OnnxModel
from gradcli.language.layers import ParamSpec

OPS = {**onnx_ops.OPS, **onnx_layout.OPS, **onnx_nn.OPS}
SUPPORTED = tuple(sorted(OPS))
# A parameter's name keeps the ONNX name's letters, digits and these; any
# other character (a space, a bracket, a comma) would not survive --wrt.
NAME_PUNCTUATION = set("_.:/-")
NOT_TRAINABLE = {"BatchNormalization": (3, 4)}  # input positions: mean, var
# Inputs no derivative flows through (None: all of them): a float
# initializer used only there is a constant, not a parameter (torch's
# Softplus threshold, compared with the input).
CONSTANT_INPUTS: dict[str, tuple[int, ...] | None] = {
    "Equal": None, "Greater": None, "Less": None, "GreaterOrEqual": None,
    "LessOrEqual": None, "Where": (0,), "Shape": None, "Size": None}


def parameter_part(name: str) -> str:
    text = "".join(c if c.isascii() and (c.isalnum() or c in NAME_PUNCTUATION) else "_"
                   for c in name)
    return text or "_"


class OnnxGraph:
    """The wiring of an ONNX model (importers/base.py ModelGraph)."""

    format = "onnx"

    def __init__(self, model: OnnxModel, where: Location | str) -> None:
        self.model = model
        self.inputs: tuple[Port, ...] = model.inputs
        self.outputs: tuple[Port, ...] = model.outputs
        unsupported = [n for n in model.nodes
                       if n.domain not in ("", "ai.onnx") or n.op not in OPS]
        if unsupported:
            listed = ", ".join(f"{n.op} (node '{n.name}'"
                               + (f", domain {n.domain}" if n.domain else "") + ")"
                               for n in unsupported[:5])
            more = f" and {len(unsupported) - 5} more" if len(unsupported) > 5 else ""
            raise SpecError(f"ONNX file {model.file} uses operators gradcli does not support: "
                            f"{listed}{more}. Supported operators: {', '.join(SUPPORTED)}",
                            where)
        used = {name for n in model.nodes for i, name in enumerate(n.inputs)
                if n.op not in CONSTANT_INPUTS or (CONSTANT_INPUTS[n.op] is not None
                                                   and i not in CONSTANT_INPUTS[n.op])}
        used |= {p.name for p in model.outputs}
        frozen = {n.inputs[i] for n in model.nodes for i in NOT_TRAINABLE.get(n.op, ())
                  if i < len(n.inputs)}
        # float initializers the graph uses, in the file's order, with unique names
        self.parts: dict[str, str] = {}
        taken: set[str] = set()
        for name, array in model.initializers.items():
            if array.dtype.kind != "f" or name not in used:
                continue
            part, count = parameter_part(name), 1
            while part in taken:
                count += 1
                part = f"{parameter_part(name)}_{count}"
            taken.add(part)
            self.parts[name] = part
        self.specs = {name: ParamSpec(self.parts[name], tuple(model.initializers[name].shape),
                                      "zeros", trainable=name not in frozen)
                      for name in self.parts}

    def weights(self) -> dict[str, np.ndarray]:
        """The initializers by parameter name after the model's."""
        return {part: self.model.initializers[name] for name, part in self.parts.items()}

    def parameters(self, model: str) -> list[tuple[str, ParamSpec]]:
        return [(f"{model}.{self.parts[name]}", spec) for name, spec in self.specs.items()]

    def lower(self, call: GraphCall, xs: Sequence[Node]) -> Node | list[Node]:
        env: dict[str, Any] = {}
        if len(xs) != len(self.inputs):
            raise SpecError(f"{call.model}(...) takes {len(self.inputs)} input"
                            f"{'s' if len(self.inputs) != 1 else ''} "
                            f"({self._ports(self.inputs)}), got {len(xs)}")
        for port, x in zip(self.inputs, xs):
            env[port.name] = self._input(call, port, x)
        for node in self.model.nodes:
            args = [self._value(call, env, name, node.label) if name else None
                    for name in node.inputs]
            step = onnx_ops.Step(call, node, self.model.opset)
            try:
                result = OPS[node.op](step, args)
            except SpecError as exc:  # ShapeError too: say which node of the file
                raise type(exc)(f"{call.model}: ONNX {node.label}: {exc.message}") from None
            for name, value in zip(node.outputs, onnx_ops.outputs_of(result)):
                if name:
                    env[name] = value
        step = onnx_ops.Step(call, self.model.nodes[0], self.model.opset) \
            if self.model.nodes else None
        outs = []
        for port in self.outputs:
            value = self._value(call, env, port.name, "the graph's output")
            outs.append(value if isinstance(value, Node) or step is None
                        else step.node_of(value))
        return outs[0] if len(outs) == 1 else outs

    def _ports(self, ports: Sequence[Port]) -> str:
        return ", ".join(f"{p.name} {p.shape_text()}" for p in ports)

    def _input(self, call: GraphCall, port: Port, x: Node) -> Node:
        if not port.fits(x.shape):
            raise ShapeError(f"{call.model}'s input '{port.name}' has shape "
                             f"{port.shape_text()} in the ONNX file; got shape {x.shape}")
        if port.dtype.startswith("float"):
            if not x.is_float:
                return call.nodes.cast(x, call.ctx.dtype)
            return x
        if port.dtype.startswith(("int", "uint")) and x.is_float:
            raise ShapeError(f"{call.model}'s input '{port.name}' takes integers "
                             f"({port.dtype}); give an integer input (dtype: int64)")
        return x

    def _value(self, call: GraphCall, env: dict[str, Any], name: str, user: str) -> Any:
        if name in env:
            return env[name]
        initializers: Mapping[str, np.ndarray] = self.model.initializers
        if name in self.parts:
            env[name] = call.param(f"{call.model}.{self.parts[name]}")
        elif name in initializers:
            env[name] = initializers[name]
        else:
            raise SpecError(f"{call.model}: ONNX {user} reads '{name}', which nothing computes "
                            "(an optional output gradcli does not produce, like MaxPool's "
                            "Indices or a BatchNormalization's running statistics)")
        return env[name]
