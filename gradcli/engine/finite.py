"""--check-finite: where did the first NaN/inf come from?

Every step's result is tested (one isfinite per step).  Only when an
*output* ends non-finite is the cause looked for: the earliest non-finite
step among the output's non-finite ancestors, i.e. the node that turned
finite operands into NaN/inf.  A NaN that is later masked (the untaken
branch of `where`) is therefore never reported: the result is fine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.graph import Node, Origin, const, toposort
from gradcli.errors import NumericFault

if TYPE_CHECKING:
    from gradcli.engine.evaluate import Program

SEED_LEAVES = ("cotangent", "tangent", "basis:")


@dataclass(frozen=True)
class Bad:
    """The first non-finite element of one value."""

    kind: str                   # "nan", "inf" or "-inf"
    index: tuple[int, ...]
    operands: tuple[str, ...]   # operand values at that element, when they line up


def nonfinite(value: Any, args: Sequence[Any]) -> Bad | None:
    array = np.asarray(value) if value is not None else None
    if array is None or array.dtype.kind not in "fc":
        return None
    finite = np.isfinite(array)
    if finite.all():
        return None
    index = tuple(int(i) for i in np.unravel_index(int(np.argmin(finite)), array.shape))
    item = array[index]
    kind = "nan" if np.isnan(item) else ("inf" if item > 0 else "-inf")
    operands = []
    for arg in args:
        a = np.asarray(arg)
        if a.shape == array.shape:
            operands.append(repr(a[index].item()))
        elif a.ndim == 0:
            operands.append(repr(a.item()))
        else:
            operands.append(f"<{a.shape} array>")
    return Bad(kind, index, tuple(operands))


@dataclass
class Watch:
    """Collects, across the runs of one request, the first place a
    non-finite value arose that reaches an output; `verify` turns it into
    the NumericFault (exit 3) `--check-finite` promises."""

    # The forward graph (outputs and lets): a derivative node is traced back
    # to the forward op whose rule made it even when the derivative program
    # does not contain that op (d log(x) = 1/x never evaluates log).
    forward: Sequence[Node] = ()
    message: str | None = None
    location: str | None = None

    def inspect(self, program: Program, bad: Mapping[int, Bad]) -> None:
        if self.message is not None:
            return
        parents = {step.out: step.args for step in program.steps}
        position = {step.out: k for k, step in enumerate(program.steps)}
        nodes = {step.out: step.node for step in program.steps}
        nodes.update({slot: node for _, slot, node in program.leaves})
        nodes.update({slot: const(value) for slot, value in program.constants})
        reached: set[int] = set()
        stack = [slot for slot in program.outputs if slot in bad]
        while stack:
            slot = stack.pop()
            if slot in reached:
                continue
            reached.add(slot)
            stack.extend(i for i in parents.get(slot, ()) if i in bad)
        if not reached:
            return
        steps = [slot for slot in reached if slot in position]
        if not steps:  # an output is a non-finite input itself
            slot = next(s for s in reached if s in nodes)
            name = nodes[slot].attrs.get("name", "?")
            element = f" at element {list(bad[slot].index)}" if bad[slot].index else ""
            self.message = (f"input '{name}' holds {bad[slot].kind}{element} (a given value, "
                            "not computed)")
            return
        first = min(steps, key=position.__getitem__)
        context = [step.node for step in program.steps] + list(self.forward)
        self.message, self.location = describe(nodes[first], bad[first], context,
                                               [bad.get(i) for i in parents[first]],
                                               [nodes.get(i) for i in parents[first]])

    def verify(self, results: Mapping[str, Any], prefix: str) -> None:
        """Raise NumericFault if any result array (nested dicts allowed) holds NaN/inf."""
        names = [name for name, value in _flat(results, prefix)
                 if value is not None and nonfinite(value, ()) is not None]
        if not names:
            return
        cause = f": {self.message}" if self.message else ""
        raise NumericFault(f"non-finite values (NaN or inf) in {', '.join(names)}{cause}",
                           self.location)


def _flat(results: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in results.items():
        name = f"{prefix}.{key}"
        out.extend(_flat(value, name) if isinstance(value, Mapping) else [(name, value)])
    return out


def describe(node: Node, bad: Bad, context: Sequence[Node], operands_bad: Sequence[Bad | None],
             operand_nodes: Sequence[Node | None]) -> tuple[str, str | None]:
    """(message, location) for the node where a non-finite value arose."""
    derivative = _is_derivative(node)
    site = _forward_site(node, context) if derivative else node
    forward = site is not None and _is_site(site.origin)
    where = str(site.origin.where) if forward else None
    text = f" in `{site.origin.text}`" if forward else ""
    if derivative:
        made = f"node {node.origin.rule}, op '{node.op}'" if node.origin.rule else \
            f"op '{node.op}' of a batched pass"
        near = "" if node.origin.rule else "near "
        role = f"the derivative program ({made}" + (
            f", {near}the derivative of '{site.op}'{text})" if forward else ")")
    else:
        role = f"the forward program (op '{node.op}'{text})"
    inherited = [_operand_name(n) for n, b in zip(operand_nodes, operands_bad)
                 if b is not None and n is not None and n.op in ("input", "const")]
    operands = f" from operands {', '.join(bad.operands)}" if bad.operands else ""
    note = f"; {inherited[0]} is non-finite there already" if inherited else ""
    element = f" at element {list(bad.index)}" if bad.index else ""
    return f"the first {bad.kind} arose in {role}{element}{operands}{note}", where


def _operand_name(node: Node) -> str:
    return f"input '{node.attrs['name']}'" if node.op == "input" else "a constant"


def _is_derivative(node: Node) -> bool:
    """Derivative nodes are labelled grad/... or jvp/... by autodiff; nodes
    built later without a label (batched passes, nested orders) are
    derivative ones when a derivative node or seed is among their inputs."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.origin.rule or (
                n.op == "input" and str(n.attrs.get("name", "")).startswith(SEED_LEAVES)):
            return True
        if _is_site(n.origin):
            continue  # a forward node: everything above it is forward too
        stack.extend(n.inputs)
    return False


def _is_site(origin: Origin) -> bool:
    """A forward node located in the spec (not a derivative rule's node)."""
    return origin.where is not None and not origin.rule


def _forward_site(node: Node, context: Sequence[Node]) -> Node | None:
    """The forward node whose derivative rule made `node`: for a node
    labelled grad/OP, the nearest (through inputs) forward node of op OP that
    uses one of `node`'s ancestors; for an unlabelled one, the first labelled
    ancestor's site.  A heuristic, only for the message."""
    users: dict[int, list[Node]] = {}
    for user in toposort(context):
        if _is_site(user.origin):
            for x in user.inputs:
                users.setdefault(id(x), []).append(user)
    frontier, seen = [node], {id(node)}
    while frontier:
        nxt = []
        for n in frontier:
            rule = n.origin.rule.split("/", 1)
            op = rule[1] if len(rule) == 2 else None
            for x in n.inputs:
                if op and x.op == op and _is_site(x.origin):
                    return x  # the rule reuses the forward result (exp, sqrt, tanh)
                for user in users.get(id(x), []) if op else []:
                    if user.op == op:
                        return user
                if id(x) not in seen:
                    seen.add(id(x))
                    nxt.append(x)
        frontier = nxt
    return None
