"""The one rewrite engine: applies a table of rules (`rules.py`) in named
passes.

- `build`: run by the transformations on the nodes a derivative rule has
  just built (never on forward nodes), so derivative programs stay as short
  as a hand-written gradient (`settle`);
- `print`: the whole program, before `gradcli graph`/`symbolic` show it;
- `evaluate`: the whole program, before it is planned; only rules that keep
  IEEE values (up to rounding) take part.

Rules match concrete ops, and a node the user named is a `named` node that
no rule matches; common-subexpression merging compares inputs by identity,
so no rewrite can make a path bypass a named node.  `named` nodes are
dropped (rule `drop-name`) by the print and evaluate passes only, after
every derivative program has been built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Origin, toposort
from gradcli.engine.rules import RuleTable

MAX_PASSES = 8     # whole-graph passes until nothing changes
MAX_STEPS = 32     # rules applied at one node before giving up (a rule cycle)
SMALL_CONSTANT = 64  # constants up to this size are compared by value when merging


@dataclass(frozen=True)
class Stats:
    before: int                                   # nodes reachable from the outputs, before
    after: int                                    # and after
    fired: Mapping[str, int] = field(default_factory=dict)   # rule name -> times applied
    merged: int = 0                               # duplicates merged

    @property
    def folded(self) -> int:
        return self.fired.get("fold-constants", 0)

    @property
    def rewritten(self) -> int:
        """Identities applied (folding and dropped names not counted)."""
        return sum(n for rule, n in self.fired.items()
                   if rule not in ("fold-constants", "drop-name"))


@dataclass(frozen=True)
class Rewritten:
    outputs: list[Node | None]
    mapping: dict[int, Node]    # id(old node) -> its replacement (to carry names over)
    stats: Stats


class Rewriter:
    """Applies one pass of a table at single nodes; what rules see of the graph."""

    def __init__(self, table: RuleTable, pass_name: str,
                 frozen: Mapping[int, Node] | None = None) -> None:
        self.table = table
        # Nodes never rewritten (the forward program under a build pass): a
        # rule may return one of them, and then rewriting stops there.
        self.frozen: Mapping[int, Node] = frozen if frozen is not None else {}
        self.pass_name = pass_name
        self.by_op = table.for_pass(pass_name)
        self.fired: dict[str, int] = {}
        # readers of each node of the current graph (by id); only whole-graph
        # passes know them, so rules that need them (reassociation) only run there.
        self.readers: dict[int, int] = {}

    def reader_count(self, node: Node) -> int | None:
        return self.readers.get(id(node))

    def at(self, node: Node) -> Node:
        """`node` with the pass's rules applied at its root until none matches."""
        for _ in range(MAX_STEPS):
            for rule in self.by_op.get(node.op, ()) + self.by_op.get("*", ()):
                result = rule.rewrite(node, self)
                if result is None or result is node:
                    continue
                if result.shape != node.shape or result.dtype != node.dtype:
                    raise AssertionError(f"rule {rule.name} changed {node.shape} {node.dtype} "
                                         f"to {result.shape} {result.dtype}")
                _label_new(result, node.origin)
                self.fired[rule.name] = self.fired.get(rule.name, 0) + 1
                node = result
                if id(node) in self.frozen:
                    return node
                break
            else:
                return node
        return node


def _label_new(node: Node, origin: Origin) -> None:
    """Give nodes a rule just built (no origin yet) the origin of the node
    they replace.  They are new objects nobody else holds, so the label is
    set in place (origin takes no part in equality or hashing)."""
    if not origin:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        if n.origin or n.op in ("input", "const", "named"):
            continue
        object.__setattr__(n, "origin", origin)
        stack.extend(n.inputs)


# ---- whole-graph passes (print, evaluate) ---------------------------------------------------

def rewrite(outputs: Sequence[Node | None], table: RuleTable, pass_name: str) -> Rewritten:
    """The program of `outputs` rewritten by `table`'s rules of `pass_name`,
    with duplicates merged when the table merges, repeated until nothing
    changes."""
    present = [o for o in outputs if o is not None]
    order = toposort(present)
    mapping: dict[int, Node] = {id(n): n for n in order}
    current = list(outputs)
    fired: dict[str, int] = {}
    merged = 0
    for _ in range(MAX_PASSES):
        step = _Pass(table, pass_name)
        new = step.run([o for o in current if o is not None])
        mapping = {k: new.get(id(v), v) for k, v in mapping.items()}
        current = [None if o is None else new[id(o)] for o in current]
        for name, count in step.rewriter.fired.items():
            fired[name] = fired.get(name, 0) + count
        merged += step.merged
        if not step.rewriter.fired and not step.merged:
            break
    after = _computations(toposort([o for o in current if o is not None]))
    return Rewritten(current, mapping, Stats(_computations(order), after, fired, merged))


def _computations(order: Sequence[Node]) -> int:
    """Nodes that compute something: a name is not one."""
    return sum(1 for n in order if n.op != "named")


class _Pass:
    """One bottom-up walk: rebuild on rewritten inputs, apply rules, merge."""

    def __init__(self, table: RuleTable, pass_name: str) -> None:
        self.rewriter = Rewriter(table, pass_name)
        self.merge = table.merge
        self.canon: dict[Any, Node] = {}
        self.merged = 0

    def run(self, outputs: list[Node]) -> dict[int, Node]:
        order = toposort(outputs)
        counts: dict[int, int] = {}
        for node in order:
            for x in node.inputs:
                counts[id(x)] = counts.get(id(x), 0) + 1
        for o in outputs:
            counts[id(o)] = counts.get(id(o), 0) + 1
        readers = self.rewriter.readers
        new: dict[int, Node] = {}
        for original in order:
            node = original
            inputs = tuple(new[id(i)] for i in node.inputs)
            if any(a is not b for a, b in zip(inputs, node.inputs)):
                node = Node(node.op, inputs, node.attrs, node.shape, node.dtype, node.origin)
            result = self.rewriter.at(node)
            if self.merge:
                canonical = self.canon.setdefault(_key(result), result)
                if canonical is not result:
                    self.merged += 1
                result = canonical
            readers[id(result)] = readers.get(id(result), 0) + counts.get(id(original), 0)
            new[id(original)] = result
        return new


def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.size > SMALL_CONSTANT:  # large constants merge only with themselves
            return ("array-id", id(value))
        return ("array", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, (tuple, list)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if value is Ellipsis:
        return ("...",)
    return value


def _key(node: Node) -> Any:
    """Equal keys: the same op with the same attrs on the same input nodes,
    so equal values (every forward is a deterministic function)."""
    if node.op == "input":
        return ("input", id(node))
    return (node.op, tuple(id(i) for i in node.inputs), _freeze(node.attrs), node.dtype,
            node.shape)


# ---- the build pass: fresh derivative nodes ---------------------------------------------

def settle(results: Sequence[Node | None], known: dict[int, Node], table: RuleTable,
           origin: Origin) -> list[Node | None]:
    """The nodes a derivative rule just built (those not in `known`), rebuilt
    bottom-up with the build pass applied and labelled with `origin` (like
    `grad/sin`, so printers can name them as TensorFlow does).  Nodes in
    `known` (the forward program, earlier adjoints) are never rewritten.
    `known` grows by the results, which keeps their ids unique while they
    are referenced by id."""
    rewriter = Rewriter(table, "build", known)
    fresh: list[Node] = []
    seen: set[int] = set()
    stack = [r for r in results if r is not None]
    while stack:
        node = stack[-1]
        if id(node) in known or id(node) in seen:
            stack.pop()
            continue
        pending = [i for i in node.inputs if id(i) not in known and id(i) not in seen]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        seen.add(id(node))
        fresh.append(node)
    copies: dict[int, Node] = {}
    for node in fresh:
        inputs = tuple(copies.get(id(i), i) for i in node.inputs)
        copy = Node(node.op, inputs, node.attrs, node.shape, node.dtype, node.origin or origin)
        result = rewriter.at(copy)
        copies[id(node)] = result
        _remember(result, known)
    return [None if r is None else copies.get(id(r), r) for r in results]


def _remember(node: Node, known: dict[int, Node]) -> None:
    """Add `node` and the new nodes under it (down to known ones) to `known`."""
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in known:
            continue
        known[id(n)] = n
        stack.extend(n.inputs)
