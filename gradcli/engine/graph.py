"""The IR: immutable nodes whose shape and dtype are inferred when built.

A node is identified by object identity (hashable, cheap); structural
sharing is the job of the rewrite passes, not of node equality.  Nodes know
no numbers except constants: evaluation lives in `evaluate.py`.

A node the user named (a `let`, an output) is wrapped in a `named` node: an
identity that no rewrite matches, folds or merges, so "the gradient at h"
always means the adjoint of exactly that node (DESIGN: a zero perturbation
added at h).  The evaluate pass drops the wrappers once every derivative
program is built.

The IR knows no op: nodes of primitives are built by `ops.apply`, which
reads the op table; this module imports nothing else of gradcli.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

Shape = tuple[int, ...]
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Constant folding is for small literals (`ones((4, 1)) * 2`); large constants
# stay as graph nodes so that building a graph never allocates much.
FOLD_LIMIT = 4096


@dataclass(frozen=True)
class Origin:
    """Where a node came from, for printers and error messages only.

    A forward node has the spec location and source text of the
    (sub)expression that built it; a derivative node has the rule that made
    it (`grad/sin`, `jvp/exp`, `grad` for an accumulated adjoint, `grad/seed`).
    """

    where: Any = None   # a Location (or a command-line option name); None if unknown
    text: str = ""      # the source text of the sub-expression
    rule: str = ""      # the derivative rule that built the node, "" for forward nodes

    def __bool__(self) -> bool:
        return self.where is not None or bool(self.rule)

    @property
    def derivative(self) -> bool:
        return bool(self.rule)

    def __str__(self) -> str:
        if self.rule:
            return self.rule
        if self.where is None:
            return ""
        return f"{self.where}: {self.text}" if self.text else str(self.where)


NO_ORIGIN = Origin()


def rule_origin(rule: str) -> Origin:
    return Origin(rule=rule)


@dataclass(frozen=True, eq=False)
class Node:
    """One value of a program: `op` applied to `inputs` with static `attrs`."""

    op: str
    inputs: tuple[Node, ...]
    attrs: Mapping[str, Any]
    shape: Shape
    dtype: str
    # Where the node came from (a spec location and expression, or the
    # derivative rule that made it); used by printers and error messages only.
    origin: Origin = field(default=NO_ORIGIN, compare=False)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith("float")

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def __repr__(self) -> str:
        name = self.attrs.get("name", "")
        return f"Node({self.op}{' ' + name if name else ''}, shape={self.shape}, {self.dtype})"


def leaf(name: str, shape: Shape, dtype: str) -> Node:
    """An input of the program: its value is given at evaluation time."""
    return Node("input", (), MappingProxyType({"name": name}), tuple(shape), dtype)


def const(value: Any, dtype: str | None = None) -> Node:
    """A constant baked into the graph."""
    array = np.asarray(value, dtype=dtype)
    array.setflags(write=False)
    return Node("const", (), MappingProxyType({"value": array}), array.shape, str(array.dtype))


def const_value(node: Node) -> np.ndarray | None:
    return node.attrs["value"] if node.op == "const" else None


def is_const_scalar(node: Node, number: float) -> bool:
    """True when `node` is a constant whose every element equals `number`."""
    value = const_value(node)
    return value is not None and value.size > 0 and bool(np.all(value == number))


# Ops whose nodes are never folded into constants: a named node stays itself.
NEVER_FOLDED = ("named",)

Index = tuple[Any, ...]  # ints, slices, None, Ellipsis: numpy basic indexing only


def format_index(index: Index) -> str:
    """`[0,:,None]`: an index attribute as the user would write it."""
    def one(item: Any) -> str:
        if item is None:
            return "None"
        if item is Ellipsis:
            return "..."
        if isinstance(item, slice):
            parts = ["" if v is None else str(v) for v in (item.start, item.stop, item.step)]
            return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
        return str(item)

    return "[" + ",".join(one(i) for i in index) + "]"


def constant_node(value: np.ndarray) -> Node:
    """A computed constant: a `fill` when every float element is the same
    (printed as one number, never materialised), else a `const`."""
    if value.ndim and value.size and value.dtype.kind == "f" and np.all(value == value.flat[0]):
        return Node("fill", (), MappingProxyType({"value": float(value.flat[0]),
                                                  "shape": value.shape,
                                                  "dtype": str(value.dtype)}),
                    value.shape, str(value.dtype))
    return const(value)


def constant_array(node: Node) -> np.ndarray:
    """The value of a `const` or `fill` node as an array."""
    if node.op == "const":
        return node.attrs["value"]
    return np.full(node.attrs["shape"], node.attrs["value"], dtype=node.attrs["dtype"])


def toposort(outputs: Iterable[Node]) -> list[Node]:
    """Every node the outputs depend on, inputs before users (iterative DFS)."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in outputs:
        if id(root) in seen:
            continue
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0 and id(node) in seen:
                continue
            if i < len(node.inputs):
                stack.append((node, i + 1))
                child = node.inputs[i]
                if id(child) not in seen:
                    stack.append((child, 0))
            else:
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
    return order


def depends_on(outputs: Iterable[Node], sources: Iterable[Node]) -> set[int]:
    """Ids of the nodes (among the outputs' ancestors) reachable from a source."""
    source_ids = {id(s) for s in sources}
    reached: set[int] = set()
    for node in toposort(outputs):
        if id(node) in source_ids or any(id(i) in reached for i in node.inputs):
            reached.add(id(node))
    return reached


def named(node: Node, name: str, origin: Origin = NO_ORIGIN) -> Node:
    """The user's name for `node`: a distinct identity node (see the module doc)."""
    return Node("named", (node,), MappingProxyType({"name": name}), node.shape, node.dtype,
                origin or node.origin)


def substitute(outputs: Sequence[Node | None], replacements: Mapping[int, Node]
               ) -> list[Node | None]:
    """The outputs with some nodes (by id) replaced, every node above them
    rebuilt as it was (same op and attrs, no rewriting); nodes that do not
    depend on a replaced one are shared."""
    new: dict[int, Node] = dict(replacements)
    for node in toposort([o for o in outputs if o is not None]):
        if id(node) in new or not node.inputs:
            continue
        inputs = tuple(new.get(id(i), i) for i in node.inputs)
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            new[id(node)] = Node(node.op, inputs, node.attrs, node.shape, node.dtype,
                                 node.origin)
    return [None if o is None else new.get(id(o), o) for o in outputs]
