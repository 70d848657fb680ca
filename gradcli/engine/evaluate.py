"""The numpy interpreter: a graph is planned once into a flat schedule of
calls on numbered slots, and a slot is dropped as soon as its last reader
has run, so peak memory follows the live values, not the graph size.
With a Watch (`--check-finite`, finite.py) every step is also checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from gradcli.engine.graph import Node, toposort
from gradcli.engine.ops import TABLE
from gradcli.engine.rewrite import rewrite
from gradcli.engine.rules import STANDARD, RuleTable
from gradcli.errors import SpecError

if TYPE_CHECKING:  # --check-finite (finite.py) is imported only when it is asked for
    from gradcli.engine.finite import Bad, Watch


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
            # lazy-for-speed: only --check-finite runs this path
            from gradcli.engine.finite import nonfinite

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
