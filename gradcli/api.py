"""The public Python API: `load(spec)` gives a Problem that builds and plans
each requested graph once; every later call with `values=` only evaluates.

    p = gradcli.load("spec.yaml")
    p.evaluate()                         # {"y": array}
    p.grad(wrt=["a", "x[0,1]"], order=2)  # {"a": array | None, "x[0,1]": ...}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.evaluate import Program
from gradcli.engine.graph import Node, leaf
from gradcli.engine.lru import LRU
from gradcli.engine.ops import nodes as N
from gradcli.engine.rules import STANDARD, RuleTable
from gradcli.engine.sources import Source
from gradcli.engine.timings import Clock
from gradcli.engine.transforms import standard
from gradcli.errors import Location, SpecError, suggest
from gradcli.language.build import build_graph, constant_value
from gradcli.language.functions.context import Context
from gradcli.language.inputs import MAX_ELEMENTS
from gradcli.language.specfile import ConstExpr, Spec, load_dict, load_file
from gradcli.language.wrt import parse_source

if TYPE_CHECKING:  # the Jacobian machinery is imported when first used
    from gradcli.engine.blocks import BlockPlan, Progress
    from gradcli.engine.finite import Watch
    from gradcli.engine.sweep import Curves, Over
    from gradcli.language.network import Parameter

Values = Mapping[str, Any]
PLANS = 128  # planned requests a Problem remembers (least recently used go first)


def load(source: str | Path | dict[str, Any], dtype: str | None = None,
         max_elements: int = MAX_ELEMENTS, check_finite: bool = False,
         rules: RuleTable | None = None) -> Problem:
    """A Problem from a spec file path or a dict shaped like the YAML;
    `check_finite`: NaN/inf in a result raises NumericFault naming where it arose;
    `rules`: the rewrite rules (default `rules.STANDARD`; `rules.NO_RULES` runs
    every program exactly as built, as verification does)."""
    if isinstance(source, dict):
        spec = load_dict(source, dtype=dtype, limit=max_elements)
    else:
        spec = load_file(str(source), dtype=dtype, limit=max_elements)
    return Problem(spec, max_elements=max_elements, check_finite=check_finite, rules=rules)


@dataclass(frozen=True)
class GradPlan:
    program: Program
    sources: tuple[Source, ...]
    connected: tuple[bool, ...]
    cotangents: tuple[str, ...]


class Problem:
    """A spec's graph: inputs as leaves, `let` and outputs as nodes."""

    def __init__(self, spec: Spec, sets: Mapping[str, np.ndarray] | None = None,
                 max_elements: int = MAX_ELEMENTS, check_finite: bool = False,
                 rules: RuleTable | None = None, clock: Clock | None = None) -> None:
        self.spec = spec
        self.sets = dict(sets or {})  # --set values: a resized copy is built with them
        self.rules = STANDARD if rules is None else rules
        self.transforms = standard(self.rules)
        self.max_elements = max_elements
        self.check_finite = check_finite  # --check-finite: see engine/finite.py
        self.clock = clock or Clock()  # where the time goes (`--timings`)
        self.ctx = Context(spec.dtype, max_elements, self.transforms)
        self.graph = build_graph(spec, sets, self.ctx)
        # the graph's tables, by the names users give them
        self.values, self.leaves = self.graph.values, self.graph.leaves
        self.named, self.outputs = self.graph.named, self.graph.outputs
        self.models = self.graph.models
        self._plans = LRU(PLANS)  # planned requests, bounded (see engine/lru.py)

    def parameters(self) -> list[Parameter]:
        """Every model parameter (name, shape, dtype, trainable, source, value),
        in model and layer order; a model never called has shapes with None
        (its input width is unknown) and no values."""
        return self.models.describe()

    def constant_value(self, value: ConstExpr) -> np.ndarray:
        """The array of a constant expression (inputs like "ones((4, 1)) * 2")."""
        return constant_value(value, self.ctx)

    # ---- selection (language/build.py) ---------------------------------------------

    def select_outputs(self, names: Sequence[str] | None) -> list[tuple[str, Node]]:
        return self.graph.select_outputs(names)

    def output_node(self, name: str) -> Node:
        """The node of a selected output or let name (never an input of that name)."""
        return dict(self.select_outputs([name]))[name]

    def default_wrt(self) -> list[str]:
        return self.graph.default_wrt()

    def sources(self, wrt: Sequence[str] | None) -> tuple[Source, ...]:
        return self.graph.sources(wrt)

    def explain(self, source_key: str, outputs: Sequence[str] | None = None) -> str:
        """Why the outputs do not depend on a source, in words."""
        return self.graph.explain(source_key, outputs)

    def inputs_for(self, values: Values | None) -> dict[str, np.ndarray]:
        if not values:
            return self.values
        merged = dict(self.values)
        for name, value in values.items():
            if name not in self.leaves:
                raise SpecError(f"unknown input '{name}' in values", "values")
            leaf_node = self.leaves[name]
            array = np.asarray(value, dtype=leaf_node.dtype)
            if array.shape != leaf_node.shape:
                raise SpecError(f"input '{name}' has shape {leaf_node.shape}; the new value "
                                f"has shape {array.shape}", "values")
            merged[name] = array
        return merged

    # ---- commands ------------------------------------------------------------------

    def evaluate(self, values: Values | None = None,
                 outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        chosen = self.select_outputs(outputs)
        key = ("eval", tuple(name for name, _ in chosen))
        program = self._plans.get(key)
        if program is None:
            with self.clock.phase("plan"):
                program = self._plans[key] = self.transforms.plan([n for _, n in chosen])
        with self.clock.phase("evaluate"):
            arrays = program.run(self.inputs_for(values), watch := self._watch())
        return _verified(watch, "outputs",
                         {name: array for (name, _), array in zip(chosen, arrays)})

    def grad_plan(self, wrt: Sequence[str] | None = None, order: int = 1,
                  cotangent: Sequence[str] = (), outputs: Sequence[str] | None = None
                  ) -> GradPlan:
        if order < 1:
            raise SpecError(f"--order must be 1 or more, got {order}", "--order")
        # Repeated calls with the same request skip source parsing entirely.
        request = ("grad-request", None if wrt is None else tuple(wrt), order,
                   tuple(cotangent), None if outputs is None else tuple(outputs))
        cached = self._plans.get(request)
        if cached is not None:
            return cached
        chosen = self.select_outputs(outputs)
        sources = self.sources(wrt)
        key = ("grad", tuple(s.key for s in sources), order, tuple(cotangent),
               tuple(n for n, _ in chosen))
        cached = self._plans.get(key)
        if cached is not None:
            self._plans[request] = cached
            return cached
        for name in cotangent:
            if name not in dict(chosen):
                raise SpecError(f"--cotangent names '{name}', which is not a selected output"
                                f"{suggest(name, dict(chosen))}", "--cotangent")
        seeds = [leaf(f"cotangent:{name}", node.shape, node.dtype) if name in cotangent
                 else N.ones_like(node) for name, node in chosen]
        with self.clock.phase("differentiate (derivative graph)"):
            results = self.transforms.nested([node for _, node in chosen], seeds, sources,
                                             order)
        connected = tuple(r is not None for r in results)
        with self.clock.phase("plan"):
            program = self.transforms.plan([r for r in results if r is not None])
        built = GradPlan(program, sources, connected, tuple(cotangent))
        self._plans[key] = self._plans[request] = built
        return built

    def grad(self, wrt: Sequence[str] | None = None, order: int = 1,
             cotangent: Mapping[str, Any] | None = None, values: Values | None = None,
             outputs: Sequence[str] | None = None) -> dict[str, np.ndarray | None]:
        """d(sum of outputs)/d(source) for each source; `order` nests it; None = unconnected."""
        cotangent = dict(cotangent or {})
        built = self.grad_plan(wrt, order, tuple(cotangent), outputs)
        inputs = self.inputs_for(values)
        if cotangent:
            inputs = dict(inputs)
            chosen = dict(self.select_outputs(outputs))
        for name, value in cotangent.items():
            node = chosen[name]
            array = np.asarray(value, dtype=node.dtype)
            if array.shape != node.shape:
                raise SpecError(f"the cotangent of '{name}' must have its shape {node.shape}, "
                                f"got {array.shape}", "--cotangent")
            inputs[f"cotangent:{name}"] = array
        with self.clock.phase("evaluate"):
            arrays = iter(built.program.run(inputs, watch := self._watch()))
        return _verified(watch, "grad", {s.key: next(arrays) if ok else None
                                         for s, ok in zip(built.sources, built.connected)})

    def jacobian(self, mode: str = "auto", batch_axis: int | None = None,
                 values: Values | None = None, wrt: Sequence[str] | None = None,
                 outputs: Sequence[str] | None = None, chunk_size: int | None = None,
                 max_memory: int | None = None, progress: Progress | None = None
                 ) -> dict[str, dict[str, np.ndarray | None]]:
        """d(output)/d(source) for every pair, shape out.shape + source shape (never
        summed); with batch_axis=0, per-sample blocks (N,) + out[1:] + source[1:]."""
        from gradcli.engine.blocks import default_max_memory, plan_jacobian

        if mode not in ("auto", "rev", "fwd"):
            raise SpecError(f"--mode must be auto, rev or fwd, not {mode!r}", "--mode")
        chosen, sources = self._resolve(wrt, outputs)
        memory = max_memory or default_max_memory()
        key = ("jacobian", tuple(s.key for s in sources), tuple(n for n, _ in chosen), mode,
               batch_axis, chunk_size, memory)
        block_plan = self._plans.get(key)
        if block_plan is None:
            with self.clock.phase("differentiate + plan"):
                block_plan = self._plans[key] = plan_jacobian(
                    chosen, sources, mode, batch_axis, chunk_size, memory, self.max_elements,
                    self.transforms)
        return self._run_blocks(block_plan, chosen, sources, values, progress)

    def hessian(self, batch_axis: int | None = None, values: Values | None = None,
                wrt: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                chunk_size: int | None = None, max_memory: int | None = None,
                progress: Progress | None = None) -> dict[str, dict[str, np.ndarray | None]]:
        """Blocks d²(sum of outputs)/d(src_i)d(src_j), shape src_i + src_j,
        forward-over-reverse; with batch_axis=0, per-sample blocks."""
        from gradcli.engine.blocks import default_max_memory, plan_hessian

        chosen, sources = self._resolve(wrt, outputs)
        memory = max_memory or default_max_memory()
        key = ("hessian", tuple(s.key for s in sources), tuple(n for n, _ in chosen),
               batch_axis, chunk_size, memory)
        block_plan = self._plans.get(key)
        if block_plan is None:
            with self.clock.phase("differentiate + plan"):
                block_plan = self._plans[key] = plan_hessian(
                    chosen, sources, batch_axis, chunk_size, memory, self.max_elements,
                    self.transforms)
        return self._run_blocks(block_plan, chosen, sources, values, progress, "hessian")

    def _resolve(self, wrt: Sequence[str] | None, outputs: Sequence[str] | None
                 ) -> tuple[list[tuple[str, Node]], tuple[Source, ...]]:
        """Selected outputs and parsed sources, remembered per request so that
        repeated calls (a training loop through `values=`) parse nothing."""
        key = ("resolve", None if wrt is None else tuple(wrt),
               None if outputs is None else tuple(outputs))
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = (self.select_outputs(outputs), self.sources(wrt))
        return found

    def _run_blocks(self, block_plan: BlockPlan, chosen: list[tuple[str, Node]],
                    sources: Sequence[Source], values: Values | None,
                    progress: Progress | None, kind: str = "jacobian"
                    ) -> dict[str, dict[str, np.ndarray | None]]:
        from gradcli.engine.blocks import (
            check_independent,
            independence_program,
            run_blocks,
            watched,
        )

        inputs = dict(self.inputs_for(values))
        if block_plan.samples is not None:
            # Checked on the first evaluation of each request; later calls with
            # new `values=` reuse the verdict (it is a property of the program).
            key = ("independence", tuple(s.key for s in sources), tuple(n for n, _ in chosen))
            if key not in self._plans:
                with self.clock.phase("check sample independence"):
                    check_independent(independence_program([n for _, n in chosen], sources,
                                                           self.transforms),
                                      sources, block_plan.samples, inputs)
                self._plans[key] = True
        if watch := self._watch():  # every batched pass reports to it
            block_plan = watched(block_plan, watch)
        with self.clock.phase("evaluate (batched passes)"):
            blocks = run_blocks(block_plan, inputs, self.spec.dtype, progress)
        return _verified(watch, kind, blocks)

    def jvp(self, tangent: Mapping[str, Any], values: Values | None = None,
            outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Directional derivatives of the outputs along `tangent` (inputs without
        one have a zero tangent)."""
        return self.jvp_with_values(tangent, values, outputs)[1]

    def jvp_with_values(self, tangent: Mapping[str, Any], values: Values | None = None,
                        outputs: Sequence[str] | None = None
                        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        chosen = self.select_outputs(outputs)
        names = tuple(tangent)
        for name in names:
            node = self.leaves.get(name)
            if node is None or not node.is_float:
                what = "an integer input" if node is not None else \
                    f"not an input{suggest(name, self.leaves)}"
                raise SpecError(f"--tangent {name}: {what}; tangents go on float inputs "
                                f"({', '.join(self.default_wrt())})", "--tangent")
        key = ("jvp", names, tuple(n for n, _ in chosen))
        program = self._plans.get(key)
        if program is None:
            leaves = {id(self.leaves[n]): leaf(f"tangent:{n}", self.leaves[n].shape,
                                                 self.leaves[n].dtype) for n in names}
            tangents = self.transforms.jvp([node for _, node in chosen], leaves)
            nodes = [node for _, node in chosen] + [
                t if t is not None else N.zeros_like(node)
                for t, (_, node) in zip(tangents, chosen)]
            with self.clock.phase("plan"):
                program = self._plans[key] = self.transforms.plan(nodes)
        feed = dict(self.inputs_for(values))
        for name in names:
            node = self.leaves[name]
            array = np.asarray(tangent[name], dtype=node.dtype)
            if array.shape != node.shape:
                try:
                    array = np.broadcast_to(array, node.shape).copy()
                except ValueError:
                    raise SpecError(f"--tangent {name} must have shape {node.shape}, got "
                                    f"{array.shape}", "--tangent") from None
            feed[f"tangent:{name}"] = array
        with self.clock.phase("evaluate"):
            arrays = program.run(feed, watch := self._watch())
        count = len(chosen)
        return (_verified(watch, "outputs", {n: a for (n, _), a in zip(chosen, arrays[:count])}),
                _verified(watch, "jvp", {n: a for (n, _), a in zip(chosen, arrays[count:])}))

    def sweep(self, over: Over, order: int = 1, outputs: Sequence[str] | None = None
              ) -> Curves:
        """Every selected output component and its derivatives 1..order along
        the grid of `over` (one swept number; see engine/sweep.py)."""
        from gradcli.engine.sweep import sweep as curves
        from gradcli.engine.sweep import swept_leaf  # lazy-for-speed: plot only

        if order < 0:
            raise SpecError("--order must be 0 or more", "--order")
        source = parse_source(over.source, self.named, "--over")
        x, shape = swept_leaf(self.leaves, self.named, source, over)
        chosen = self.select_outputs(outputs)
        if self.spec.file == "--expr":  # -e: the expression says more than a name
            title = "; ".join(f"{e.name} = {e.text}" for e in self.spec.outputs)
        else:
            title = f"{self.spec.name}: {', '.join(n for n, _ in chosen)} over {over.source}"
        with self.clock.phase("sweep (differentiate, plan, evaluate)"):
            return curves(chosen, source, x, shape, self.inputs_for(None), over, order, title,
                          self.transforms)

    def _watch(self) -> Watch | None:
        if not self.check_finite:
            return None
        from gradcli.engine.finite import Watch  # lazy-for-speed: only --check-finite

        return Watch(tuple(self.named.values()))


def _verified(watch: Watch | None, prefix: str, results: dict[str, Any]) -> dict[str, Any]:
    """`results`, or NumericFault (exit 3) if checking and any is NaN/inf."""
    if watch is not None:
        watch.verify(results, prefix)
    return results


__all__ = ["Problem", "load", "Location"]
