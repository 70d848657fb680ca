"""Transformations from graphs to graphs: reverse mode (vjp) and forward
mode (jvp).  They read the op table's rules and know no op by name, and they
return nodes, never numbers, so their results can be transformed again."""

from __future__ import annotations

from collections.abc import Sequence

from gradcli.engine.graph import Node, depends_on, rule_origin, toposort
from gradcli.engine.ops import TABLE
from gradcli.engine.ops import nodes as N
from gradcli.engine.rewrite import settle
from gradcli.engine.rules import STANDARD, RuleTable

GRAD = rule_origin("grad")  # an accumulated adjoint


def vjp(outputs: Sequence[Node], cotangents: Sequence[Node | None],
        sources: Sequence[Node], rules: RuleTable = STANDARD) -> list[Node | None]:
    """Cotangent of every source: sum over outputs of cotangent · d output / d source.

    A source may be any node of the graph (an input or an intermediate, whose
    result is then its adjoint).  None means the outputs do not depend on it.
    Adjoints are only formed for nodes that depend on a source, so gradients
    nobody asked for are never built.  What each derivative rule builds goes
    through the `build` pass of `rules` (never the forward nodes).
    """
    live = depends_on(outputs, sources)
    order = toposort(outputs)
    known = {id(n): n for n in toposort([c for c in cotangents if c is not None] + order)}
    adjoint: dict[int, Node] = {}
    for out, cot in zip(outputs, cotangents):
        if cot is not None and id(out) in live:
            _accumulate(adjoint, out, cot, known, rules)
    wanted = {id(s) for s in sources}
    for node in reversed(order):
        g = adjoint.get(id(node))
        if g is None or not node.inputs:
            continue
        rule = TABLE[node.op].vjp
        if rule is None:
            continue
        needs = tuple(id(i) in live and i.is_float for i in node.inputs)
        if not any(needs):
            continue
        # An intermediate source keeps its adjoint but still passes it on, so
        # that inputs asked for beside it get their total derivative.
        grads = settle(rule(g, node, needs), known, rules, rule_origin(f"grad/{node.op}"))
        for x, gx in zip(node.inputs, grads):
            if gx is not None and id(x) in live and x.is_float:
                _accumulate(adjoint, x, gx, known, rules)
    return [adjoint.get(id(s)) if id(s) in wanted else None for s in sources]


def _accumulate(adjoint: dict[int, Node], node: Node, g: Node, known: dict[int, Node],
                rules: RuleTable) -> None:
    if g.dtype != node.dtype:
        g = N.cast(g, node.dtype)
    if g.shape != node.shape:
        g = N.broadcast_to(g, node.shape)
    previous = adjoint.get(id(node))
    (adjoint[id(node)],) = settle([g if previous is None else N.add(previous, g)], known, rules,
                                  GRAD)


def jvp(outputs: Sequence[Node], tangents: dict[int, Node],
        rules: RuleTable = STANDARD) -> list[Node | None]:
    """Tangent of every output given tangents of some nodes (keyed by id).

    Nodes not on a path from a tangent get none (a zero), so the program only
    contains the work that can be non-zero.
    """
    tangent: dict[int, Node] = dict(tangents)
    order = toposort(outputs)
    known = {id(n): n for n in toposort(list(tangents.values()) + order)}
    for node in order:
        if id(node) in tangents or not node.inputs:
            continue
        ins = tuple(tangent.get(id(i)) for i in node.inputs)
        if all(t is None for t in ins):
            continue
        rule = TABLE[node.op].jvp
        if rule is None:
            continue
        result = rule(ins, node)
        if result is not None:
            if result.shape != node.shape:
                result = N.broadcast_to(result, node.shape)
            (tangent[id(node)],) = settle([result], known, rules, rule_origin(f"jvp/{node.op}"))
    return [tangent.get(id(o)) for o in outputs]


def sum_all(node: Node) -> Node:
    """The scalar whose gradient `grad` reports: the sum of every element."""
    return N.reduce_sum(node, tuple(range(node.ndim)))


def grad(outputs: Sequence[Node], sources: Sequence[Node],
         cotangents: Sequence[Node | None] | None = None,
         rules: RuleTable = STANDARD) -> list[Node | None]:
    """d(sum of outputs)/d(source), or the vjp with the given output cotangents."""
    if cotangents is None:
        cotangents = [N.ones_like(o) for o in outputs]
    return vjp(outputs, cotangents, sources, rules)
