"""The reference problem of `gradcli check`: the spec as written, in float64,
with every source a leaf.

Both references (finite differences and sympy) work on this graph only:

- it is built with `rules.NO_RULES`, so it is the forward graph exactly as
  the spec writes it (no rewrite, fold or merge of the engine's tables);
- it never contains the engine's derivative graph of the checked quantity
  (the only derivative nodes in it are the ones the spec itself asks for
  with `grad(...)` inside an expression);
- a `let` source h is replaced by `h + EPS_h`, EPS_h a new float64 leaf of
  zeros of h's shape (DESIGN: the gradient at h is the gradient of a zero
  perturbation added at h).  So every source is a leaf: an input keeps its
  total derivative, a let source's derivative is its adjoint (upstream held
  fixed), and mixed blocks between a let and another source are ordinary
  second derivatives of one function of leaves;
- for finite differences only, every stop_gradient node is held at its
  value at the point (`Reference.frozen`): the engine defines its
  derivative as 0, which differences of its value would not see (sympy
  lowers it to a function with derivative 0 instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcli.engine.evaluate import plan
from gradcli.engine.graph import Node, leaf, substitute, toposort
from gradcli.engine.ops import apply
from gradcli.engine.ops.structure import selected_shape
from gradcli.engine.rules import NO_RULES
from gradcli.verify.symbolic import component_indices

EPS_PREFIX = "eps:"
FROZEN_PREFIX = "frozen:"


@dataclass(frozen=True)
class RefSource:
    """A source as a leaf of the reference graph, with the flat positions of
    its component elements in that leaf (numpy order of the component)."""

    key: str                      # as the user wrote it
    name: str                     # the input or let name
    leaf: Node                    # the input, or the let's EPS leaf
    index: tuple[Any, ...] | None
    positions: np.ndarray         # flat positions in the leaf, in component order
    shape: tuple[int, ...]        # the component's shape (the gradient's shape)

    @property
    def size(self) -> int:
        return len(self.positions)

    @property
    def is_let(self) -> bool:
        return self.leaf.attrs["name"].startswith(EPS_PREFIX)


def reference_problem(problem: Any) -> Any:
    """The engine problem's spec loaded again in float64 with no rewrite
    rules, at the engine's point (a float32 problem's inputs, cast)."""
    from gradcli.api import Problem

    spec = problem.spec
    inputs = {k: np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray)
              and v.dtype.kind == "f" else v for k, v in spec.inputs.items()}
    ref = Problem(replace(spec, dtype="float64", inputs=inputs),
                  max_elements=problem.max_elements, rules=NO_RULES)
    for name, value in problem.values.items():
        if name in ref.values:
            ref.values[name] = np.asarray(value, dtype=ref.values[name].dtype)
    return ref


class Reference:
    """The perturbed reference graph of one problem at one point.

    `nodes[name]` is every let and output of the spec (a let source as
    `h + EPS_h`), `outputs` the outputs, `point` the leaf values (EPS leaves
    zero), `sources[key]` each requested source as a leaf.
    """

    def __init__(self, problem: Any, keys: Iterable[str]) -> None:
        self.problem = problem
        parsed = {key: problem.sources([key])[0] for key in dict.fromkeys(keys)}
        names = [n for n in problem.named if n not in problem.leaves]
        lets = sorted({s.name for s in parsed.values() if s.node.op != "input"},
                      key=names.index)
        self.point: dict[str, np.ndarray] = {
            name: np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f"
            else np.asarray(v) for name, v in problem.values.items()}
        values = self._values([problem.named[n] for n in lets])
        current = {n: problem.named[n] for n in names}
        eps_leaves: dict[str, Node] = {}
        # One let at a time, in definition order: a later let's `h + EPS`
        # sits on a graph in which the earlier ones are already perturbed.
        for name in lets:
            node = current[name]
            eps = leaf(EPS_PREFIX + name, node.shape, "float64")
            eps_leaves[name] = eps
            bumped = apply("add", (node, eps))
            current = dict(zip(names, substitute([current[n] for n in names],
                                                 {id(node): bumped})))
            self.point[eps.attrs["name"]] = np.zeros(node.shape)
        self.nodes: dict[str, Node] = current
        self._frozen: tuple[dict[str, Node], list[Node], dict[str, np.ndarray]] | None = None
        self.outputs: list[Node] = [current[n] for n in problem.outputs]
        # the size of each leaf's values, for the finite-difference steps: an
        # EPS leaf moves on the scale of the let's own value
        self.magnitude: dict[str, np.ndarray] = {
            name: np.abs(v) for name, v in self.point.items() if v.dtype.kind == "f"}
        for name, value in zip(lets, values):
            self.magnitude[EPS_PREFIX + name] = np.abs(value)
        self.sources: dict[str, RefSource] = {}
        for key, source in parsed.items():
            node = eps_leaves.get(source.name, source.node)
            rows = component_indices(node.shape, source.index)
            flat = np.ravel_multi_index(rows.T, node.shape) if node.ndim \
                else np.zeros(1, dtype=np.int64)
            shape = selected_shape(node.shape, source.index) if source.index is not None \
                else node.shape
            self.sources[key] = RefSource(key, source.name, node, source.index,
                                          np.asarray(flat, dtype=np.int64), tuple(shape))

    def frozen(self) -> tuple[dict[str, Node], list[Node], dict[str, np.ndarray]]:
        """The graph finite differences run (nodes by name, outputs, extra
        leaf values): every stop_gradient node replaced by a leaf holding its
        value at the point, so it is a constant to every perturbation, as it
        is to every derivative the engine takes.  Differences of the plain
        graph would see through it."""
        if self._frozen is None:
            names = list(self.nodes)
            roots = [self.nodes[n] for n in names]
            held = [n for n in toposort(roots) if n.op == "stop_gradient"]
            values = [np.asarray(v) for v in plan(held, NO_RULES).run(self.point)] \
                if held else []
            stand_ins = {id(n): leaf(f"{FROZEN_PREFIX}{k}", n.shape, n.dtype)
                         for k, n in enumerate(held)}
            nodes = dict(zip(names, substitute(roots, stand_ins)))
            feed = {f"{FROZEN_PREFIX}{k}": v for k, v in enumerate(values)}
            self._frozen = (nodes, [nodes[n] for n in self.problem.outputs], feed)
        return self._frozen

    def _values(self, nodes: list[Node]) -> list[np.ndarray]:
        if not nodes:
            return []
        return [np.asarray(v, dtype=np.float64)
                for v in plan(nodes, NO_RULES).run(self.point)]

    def evaluate(self, nodes: list[Node]) -> list[np.ndarray]:
        """Values of reference nodes at the point (planned with no rules)."""
        return self._values(nodes)

    @property
    def leaves(self) -> Mapping[str, Node]:
        """Every leaf of the reference graph by name (inputs and EPS leaves)."""
        found = dict(self.problem.leaves)
        found.update({s.leaf.attrs["name"]: s.leaf for s in self.sources.values()})
        return found
