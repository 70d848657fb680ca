"""The IR: immutable nodes whose shape and dtype are inferred when built.

A node is identified by object identity (hashable, cheap); structural
sharing is the job of `simplify` passes, not of node equality.  Nodes know no
numbers except constants: evaluation lives in `evaluate.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

Shape = tuple[int, ...]
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Constant folding is for small literals (`ones((4, 1)) * 2`); large constants
# stay as graph nodes so that building a graph never allocates much.
FOLD_LIMIT = 4096


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
    origin: str = field(default="", compare=False)

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


def apply(op: str, inputs: Iterable[Node], attrs: Mapping[str, Any] | None = None,
          origin: str = "") -> Node:
    """Build a node of primitive `op`, inferring shape and dtype by its row's rule."""
    from gradcli.ops import TABLE  # the table imports graph ops; bind at call time

    row = TABLE[op]
    ins = tuple(inputs)
    frozen = MappingProxyType(dict(attrs)) if attrs else EMPTY
    shape, dtype = row.infer(ins, frozen)
    node = Node(op, ins, frozen, tuple(int(d) for d in shape), dtype, origin)
    if ins and all(i.op in ("const", "fill") for i in ins) and node.size <= FOLD_LIMIT \
            and all(i.size <= FOLD_LIMIT for i in ins):
        with np.errstate(all="ignore"):
            value = row.forward(*(_constant_array(i) for i in ins), **frozen)
        return const(np.asarray(value, dtype=dtype))
    return node


def _constant_array(node: Node) -> np.ndarray:
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
