"""The numpy interpreter: a graph is planned once into a flat schedule of
calls on numbered slots, and a slot is dropped as soon as its last reader
has run, so peak memory follows the live values, not the graph size."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from gradcli.cse import dedupe
from gradcli.errors import SpecError
from gradcli.graph import Node, toposort
from gradcli.ops import TABLE


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

    def run(self, values: Mapping[str, np.ndarray],
            check: Callable[[Step, np.ndarray], None] | None = None) -> list[np.ndarray]:
        env: list[np.ndarray | None] = [None] * self.slot_count
        for slot, value in self.constants:
            env[slot] = value
        for name, slot, _node in self.leaves:
            try:
                env[slot] = values[name]
            except KeyError:
                raise SpecError(f"no value for input '{name}'") from None
        with np.errstate(all="ignore"):
            for step in self.steps:
                result = step.call(*[env[i] for i in step.args])
                env[step.out] = result
                if check is not None:
                    check(step, result)
                for i in step.free:
                    env[i] = None
        return [env[i] for i in self.outputs]


def plan(outputs: Sequence[Node]) -> Program:
    outputs = dedupe(outputs)
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
    return Program(tuple(leaves), tuple(constants), tuple(steps),
                   tuple(slot[id(o)] for o in outputs), len(order))


def evaluate(outputs: Sequence[Node], values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Plan and run once (tests and one-off uses; a Problem keeps its plans)."""
    return plan(outputs).run(values)
