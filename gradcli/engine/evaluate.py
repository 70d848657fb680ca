"""The numpy interpreter: a graph is planned once into a flat schedule of
calls on numbered slots, and a slot is dropped as soon as its last reader
has run, so peak memory follows the live values, not the graph size."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Origin, const, toposort
from gradcli.engine.ops import TABLE
from gradcli.engine.rewrite import rewrite
from gradcli.engine.rules import STANDARD, RuleTable
from gradcli.errors import NumericFault, SpecError


@dataclass(frozen=True)
class Step:
    call: Callable[..., np.ndarray]
    args: tuple[int, ...]
    out: int
    free: tuple[int, ...]
    node: Node


@dataclass(frozen=True)
class Program:
    """A planned graph: `run(values)` returns the outputs' arrays."""

    leaves: tuple[tuple[str, int, Node], ...]
    constants: tuple[tuple[int, np.ndarray], ...]
    steps: tuple[Step, ...]
    outputs: tuple[int, ...]
    slot_count: int
    # The same schedule as one flat Python function of numpy calls (built by
    # `compile_program`): no per-step interpretation on the hot path.
    compiled: Callable[[Mapping[str, np.ndarray]], list[np.ndarray]] | None = None
    # A Watch every run reports to (`replace(program, watch=w)` hands a
    # checked program to code that only calls `run(values)`, like chunked
    # Jacobian passes).
    watch: Watch | None = None

    def run(self, values: Mapping[str, np.ndarray],
            watch: Watch | None = None) -> list[np.ndarray]:
        """The outputs' arrays.  With a `watch` (--check-finite) every step's
        result is tested for NaN/inf on the interpreted path, and if an
        output ends non-finite the watch learns where that first arose."""
        watch = watch or self.watch
        if watch is None and self.compiled is not None:
            try:
                with np.errstate(all="ignore"):
                    return self.compiled(values)
            except KeyError as exc:
                raise SpecError(f"no value for input {exc}") from None
        env: list[np.ndarray | None] = [None] * self.slot_count
        for slot, value in self.constants:
            env[slot] = value
        for name, slot, _node in self.leaves:
            try:
                env[slot] = values[name]
            except KeyError:
                raise SpecError(f"no value for input '{name}'") from None
        bad: dict[int, Bad] = {}
        if watch is not None:
            for slot in [s for s, _ in self.constants] + [s for _, s, _ in self.leaves]:
                found = nonfinite(env[slot], ())
                if found:
                    bad[slot] = found
        with np.errstate(all="ignore"):
            for step in self.steps:
                args = [env[i] for i in step.args]
                result = step.call(*args)
                env[step.out] = result
                if watch is not None:
                    found = nonfinite(result, args)
                    if found:
                        bad[step.out] = found
                for i in step.free:
                    env[i] = None
        outputs = [env[i] for i in self.outputs]
        if watch is not None and bad:
            watch.inspect(self, bad)
        return outputs


def plan(outputs: Sequence[Node], rules: RuleTable = STANDARD) -> Program:
    """Schedule the program of `outputs` after the `evaluate` pass of `rules`
    (folding, merging, identities exact in IEEE up to rounding, names dropped)."""
    outputs = rewrite(outputs, rules, "evaluate").outputs
    order = toposort(outputs)
    slot = {id(node): i for i, node in enumerate(order)}
    last_use: dict[int, int] = {}
    for position, node in enumerate(order):
        for x in node.inputs:
            last_use[id(x)] = position
    keep = {id(o) for o in outputs}
    frees: dict[int, list[int]] = {}
    for node_id, position in last_use.items():
        if node_id not in keep:
            frees.setdefault(position, []).append(slot[node_id])
    leaves, constants, steps = [], [], []
    for position, node in enumerate(order):
        if node.op == "input":
            leaves.append((node.attrs["name"], slot[id(node)], node))
        elif node.op == "const":
            constants.append((slot[id(node)], node.attrs["value"]))
        else:
            forward = TABLE[node.op].forward
            call = partial(forward, **node.attrs) if node.attrs else forward
            steps.append(Step(call, tuple(slot[id(x)] for x in node.inputs), slot[id(node)],
                              tuple(frees.get(position, ())), node))
    program = Program(tuple(leaves), tuple(constants), tuple(steps),
                      tuple(slot[id(o)] for o in outputs), len(order))
    return replace(program, compiled=compile_program(program))


def compile_program(program: Program) -> Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]:
    """Generate `def run(values): v3 = f0(v1, v2); del v1; ...; return [...]`.

    Only slot numbers and input names (as repr'd string keys) enter the
    source; functions and constants are bound through the namespace, so no
    user text is ever executed.
    """
    namespace: dict[str, object] = {}
    names: dict[int, str] = {}
    for slot, value in program.constants:
        names[slot] = f"c{slot}"
        namespace[f"c{slot}"] = value
    lines = ["def run(values):"]
    for name, slot, _node in program.leaves:
        names[slot] = f"v{slot}"
        lines.append(f"    v{slot} = values[{name!r}]")
    for k, step in enumerate(program.steps):
        namespace[f"f{k}"] = step.call
        names[step.out] = f"v{step.out}"
        args = ", ".join(names[i] for i in step.args)
        lines.append(f"    v{step.out} = f{k}({args})")
        dead = [names[i] for i in step.free if names[i].startswith("v")]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    lines.append(f"    return [{', '.join(names[i] for i in program.outputs)}]")
    exec(compile("\n".join(lines), "<gradcli program>", "exec"), namespace)  # noqa: S102
    return namespace["run"]  # type: ignore[return-value]


def evaluate(outputs: Sequence[Node], values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Plan and run once (tests and one-off uses; a Problem keeps its plans)."""
    return plan(outputs).run(values)


# ---- --check-finite: where did the first NaN/inf come from? --------------------------------
#
# Every step's result is tested (one isfinite per step).  Only when an
# *output* ends non-finite is the cause looked for: the earliest non-finite
# step among the output's non-finite ancestors, i.e. the node that turned
# finite operands into NaN/inf.  A NaN that is later masked (the untaken
# branch of `where`) is therefore never reported: the result is fine.

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
