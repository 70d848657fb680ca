"""A validated Spec built into graph nodes: inputs as leaves, every `let`
and output a `named` node, models lowered to parameter leaves; and the
selections users make on it by name (outputs, sources).

Constant-expression inputs (`t: "ones((4, 1)) * 2"`) are evaluated here,
with the evaluator the Context's transformations carry: the language
builds nodes and never imports the evaluator itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Origin, leaf, named
from gradcli.engine.sources import Source, explain_unconnected
from gradcli.errors import SpecError, suggest
from gradcli.language.expr import compile_expr, compile_let
from gradcli.language.functions.context import Context
from gradcli.language.network import ModelSet
from gradcli.language.specfile import ConstExpr, Spec
from gradcli.language.wrt import expand_models, no_sources, parse_source


def constant_value(value: ConstExpr, ctx: Context) -> np.ndarray:
    """The array of a constant expression (inputs like "ones((4, 1)) * 2")."""
    node = compile_expr(value.text, {}, ctx, value.where)
    if ctx.transforms is None:
        raise TypeError("constant expressions need Context.transforms to be evaluated")
    (array,) = ctx.transforms.plan([node]).run({})
    return np.asarray(array, dtype=ctx.dtype if node.is_float else node.dtype)


@dataclass
class SpecGraph:
    """The nodes of a spec, by the names users give them."""

    spec: Spec
    models: ModelSet                              # parameters appear as models are called
    values: dict[str, np.ndarray] = field(default_factory=dict)
    leaves: dict[str, Node] = field(default_factory=dict)
    named: dict[str, Node] = field(default_factory=dict)
    outputs: dict[str, Node] = field(default_factory=dict)

    def select_outputs(self, names: Sequence[str] | None) -> list[tuple[str, Node]]:
        """Outputs, let names and model parameters by name; a model's name
        selects all its parameters (`eval --output net.1.kernel`, `--output net`)."""
        if not names:
            return list(self.outputs.items())
        chosen = []
        params = self.models.parameters
        for name in names:
            if name in self.outputs:
                chosen.append((name, self.outputs[name]))
            elif name in self.named and name not in self.leaves:  # a let name
                chosen.append((name, self.named[name]))
            elif name in params:
                chosen.append((name, params[name]))
            elif name in self.models.models and self.models.all_parameters(name):
                chosen += [(p, params[p]) for p in self.models.all_parameters(name)]
            else:
                raise SpecError(self._not_an_output(name), "--output")
        return chosen

    def _not_an_output(self, name: str) -> str:
        params = self.models.parameters
        if name in self.leaves:
            what = f"'{name}' is an input, not an output"
        elif name in self.models.models:
            what = f"model '{name}' is never called in an expression, so it has no parameters"
        else:
            lets = [e.name for e in self.spec.lets]
            known = [*self.outputs, *lets, *params, *self.models.models]
            what = f"unknown output '{name}'{suggest(name, known)}"
        more = f" (also let names and model parameters, like {next(iter(params))})" \
            if params else ""
        return f"{what}; outputs: {', '.join(self.outputs)}{more}"

    def default_wrt(self) -> list[str]:
        if self.spec.wrt is not None:  # a model's name stands for its parameters
            return [text for text, _ in expand_models(self.spec.wrt, self.models.groups())]
        return [name for name, node in self.leaves.items()
                if node.is_float and name not in self.models.parameters]

    def sources(self, wrt: Sequence[str] | None) -> tuple[Source, ...]:
        if wrt is None and self.spec.wrt is not None:
            items = list(self.spec.wrt)
        else:
            items = [(text, "--wrt") for text in (self.default_wrt() if wrt is None else wrt)]
        groups = self.models.groups()
        found = tuple(parse_source(text, self.named, where, tuple(groups))
                      for text, where in expand_models(items, groups))
        if not found and wrt is None:  # nothing asked for, and no default either: exit 2
            raise no_sources(self)
        return found

    def explain(self, source_key: str, outputs: Sequence[str] | None = None) -> str:
        """Why the outputs do not depend on a source, in words."""
        (source,) = self.sources([source_key])
        return explain_unconnected(source, self.select_outputs(outputs))


# str(dtype) is Python code in numpy and costs microseconds: a spec of
# 200,000 scalar inputs pays it for every one.
DTYPE_NAMES = {np.dtype(name): name for name in ("float64", "float32", "int64", "int32", "bool")}


def build_graph(spec: Spec, sets: Mapping[str, Any] | None, ctx: Context) -> SpecGraph:
    """Leaves for the inputs (and `--set` values), then every `let` and output
    in order, each a `named` node: the fixed point at which derivatives with
    respect to it are taken (see graph.named)."""
    values: dict[str, np.ndarray] = {}
    leaves: dict[str, Node] = {}
    for name, value in {**spec.inputs, **(sets or {})}.items():
        array = constant_value(value, ctx) if isinstance(value, ConstExpr) else value
        values[name] = array
        leaves[name] = leaf(name, array.shape, DTYPE_NAMES.get(array.dtype) or str(array.dtype))
    graph = SpecGraph(spec, ModelSet(spec.models, ctx), values, leaves, dict(leaves))
    calls = graph.models.callables
    parts: list[Node] = []  # the arrays of a let binding several names
    for expr in spec.lets:
        node, parts = compile_let(expr, graph.named, ctx, calls, parts)
        graph.named[expr.name] = named(node, expr.name, Origin(expr.where, expr.text))
    for expr in spec.outputs:
        node = named(compile_expr(expr.text, graph.named, ctx, expr.where, calls),
                     expr.name, Origin(expr.where, expr.text))
        graph.outputs[expr.name] = node
        # Only -e can name its output like an input (`-e 'x * y' --set y=2`);
        # `named` (sources, --wrt) keeps the input, `outputs` the output.
        graph.named.setdefault(expr.name, node)
    for table in (graph.leaves, graph.named):
        table.update(graph.models.parameters)
    graph.values.update(graph.models.values)
    return graph
