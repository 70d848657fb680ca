"""What a user may differentiate with respect to: an input, a `let`
intermediate, or a component of either (`inp[0,0]`, `X[:,1]`), and the
plain-words reason when the outputs do not depend on it, and the words
for what a gradient result is (`d(sum of y)/d(a)`).

A Source is built from nodes; reading one from the user's text is the
language's job (`language/wrt.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gradcli.engine.graph import Node, toposort
from gradcli.engine.ops import TABLE

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Source:
    key: str                        # exactly as the user wrote it: the JSON key
    name: str                       # the input or let name
    node: Node                      # the node differentiated against
    index: tuple[Any, ...] | None   # the component, or None for the whole array


def explain_unconnected(source: Source, outputs: Sequence[tuple[str, Node]]) -> str:
    """Why d(outputs)/d(source) has no path: in words, naming what blocks it."""
    names = " + ".join(name for name, _ in outputs)
    order = toposort([node for _, node in outputs])
    ids = {id(n) for n in order}
    if id(source.node) not in ids:
        return (f"{names} does not depend on {source.key}: no expression on the way to "
                f"{names} uses {source.name}")
    reached = {id(source.node)}
    blockers: list[str] = []
    for node in order:
        if not any(id(i) in reached for i in node.inputs):
            continue
        reached.add(id(node))
        if TABLE[node.op].vjp is None or not node.is_float:
            label = {"stop_gradient": "stop_gradient", "sign": "sign"}.get(
                node.op, f"a comparison ({node.op})" if not node.is_float else node.op)
            if node.op == "cast":
                label = f"a conversion to {node.dtype}"
            if label not in blockers:
                blockers.append(label)
    if blockers:
        return (f"{names} depends on {source.key} only through {', '.join(blockers)}; "
                f"no derivative passes through {'it' if len(blockers) == 1 else 'them'}")
    return f"{names} does not depend on {source.key} through any differentiable path"


def target_text(chosen: Sequence[tuple[str, Node]]) -> str:
    """`y` for one scalar output, else `sum of y + z`: what grad differentiates."""
    names = " + ".join(name for name, _ in chosen)
    return names if len(chosen) == 1 and chosen[0][1].size == 1 else f"sum of {names}"


def grad_title(target: str, source: str, order: int, cotangent: bool) -> str:
    """`d(sum of y)/d(a)`: the words for what a gradient result is."""
    if cotangent:
        base = f"cotangent · d({target})/d({source})"
        return base if order == 1 else f"order {order} nested: {base}"
    if order == 1:
        return f"d({target})/d({source})"
    power = str(order).translate(SUPERSCRIPTS)
    return f"d{power}({target})/d({source}){power} (nested)"
