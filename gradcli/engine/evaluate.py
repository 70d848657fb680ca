"""The numpy interpreter: a graph is planned once into a flat schedule of
calls on numbered slots, and a slot is dropped as soon as its last reader
has run, so peak memory follows the live values, not the graph size.
Intermediates with an in-place forward are written into the buffers of the
program's static memory plan (memory.py), so a warm call allocates only its
results.  With a Watch (`--check-finite`, finite.py) every step is checked
on the interpreted path, which allocates every result (the reference the
tests compare the planned path with, bit for bit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from gradcli.engine.graph import Node, toposort
from gradcli.engine.memory import MemoryPlan, Pool, assign, in_place
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
    # With a buffer in the memory plan: the in-place forward (attrs bound) and
    # the positions in the pool's views of its result and scratch arrays.
    write: Callable[..., None] | None = None
    views: tuple[int, ...] = ()

    def into(self, pool_views: Sequence[np.ndarray], args: Sequence[np.ndarray]) -> np.ndarray:
        out = pool_views[self.views[0]]
        if len(self.views) > 1:
            assert self.write is not None
            self.write(out, *args, scratch=tuple(pool_views[i] for i in self.views[1:]))
        else:
            assert self.write is not None
            self.write(out, *args)
        return out


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
    # The static memory plan and its buffers (None: every step allocates).
    memory: MemoryPlan | None = None
    pool: Pool | None = None

    @property
    def pool_bytes(self) -> int:
        """Bytes of the buffers the memory plan reuses by liveness."""
        return self.memory.nbytes if self.memory is not None else 0

    def run(self, values: Mapping[str, np.ndarray],
            watch: Watch | None = None) -> list[np.ndarray]:
        """The outputs' arrays.  With a `watch` (--check-finite) every step's
        result is tested for NaN/inf on the interpreted path (the same calls
        into the same buffers, so the same bits), and if an output ends
        non-finite the watch learns where that first arose."""
        watch = watch or self.watch
        if watch is None and self.compiled is not None:
            try:
                with np.errstate(all="ignore"):
                    return self.compiled(values)
            except KeyError as exc:
                raise SpecError(f"no value for input {exc}") from None
        pool_views, held = self.pool.take() if self.pool is not None else ((), False)
        try:
            return self._interpret(values, watch, pool_views)
        finally:
            if held:
                assert self.pool is not None
                self.pool.give()

    def _interpret(self, values: Mapping[str, np.ndarray], watch: Watch | None,
                   pool_views: Sequence[np.ndarray]) -> list[np.ndarray]:
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
                result = step.into(pool_views, args) if step.views else step.call(*args)
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


def plan(outputs: Sequence[Node], rules: RuleTable = STANDARD, reuse: bool = True) -> Program:
    """Schedule the program of `outputs` after the `evaluate` pass of `rules`
    (folding, merging, identities exact in IEEE up to rounding, names dropped),
    with its static memory plan (`reuse=False`: a buffer per intermediate, the
    tests' reference for the reuse by liveness)."""
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
    memory = assign(order, outputs, last_use, reuse)
    where = memory.view_positions()
    leaves, constants, steps = [], [], []
    for position, node in enumerate(order):
        if node.op == "input":
            leaves.append((node.attrs["name"], slot[id(node)], node))
        elif node.op == "const":
            constants.append((slot[id(node)], node.attrs["value"]))
        else:
            forward = TABLE[node.op].forward
            call = partial(forward, **node.attrs) if node.attrs else forward
            write, views = None, where.get(position, ())
            if views:
                into = in_place(node)
                assert into is not None  # the plan only targets steps that have one
                write = partial(into.call, **node.attrs) if node.attrs else into.call
            steps.append(Step(call, tuple(slot[id(x)] for x in node.inputs), slot[id(node)],
                              tuple(frees.get(position, ())), node, write, views))
    program = Program(tuple(leaves), tuple(constants), tuple(steps),
                      tuple(slot[id(o)] for o in outputs), len(order), memory=memory,
                      pool=Pool(memory) if memory.targets else None)
    return replace(program, compiled=compile_program(program))


def compile_program(program: Program) -> Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]:
    """Generate `def run(values): v3 = f0(v1, v2); del v1; ...; return [...]`,
    where a step with a buffer in the memory plan writes it instead:
    `f4(o4, v3)` (the views `o4`, ... are unpacked from the pool once a call).

    Only slot numbers and input names (as repr'd string keys) enter the
    source; functions and constants are bound through the namespace, so no
    user text is ever executed.
    """
    namespace: dict[str, object] = {}
    names: dict[int, str] = {}
    for slot, value in program.constants:
        names[slot] = f"c{slot}"
        namespace[f"c{slot}"] = value
    body = []
    for name, slot, _node in program.leaves:
        names[slot] = f"v{slot}"
        body.append(f"v{slot} = values[{name!r}]")
    unpacked: dict[int, str] = {}
    for k, step in enumerate(program.steps):
        args = [names[i] for i in step.args]
        if not step.views:
            namespace[f"f{k}"] = step.call
            names[step.out] = f"v{step.out}"
            body.append(f"v{step.out} = f{k}({', '.join(args)})")
        else:
            namespace[f"f{k}"] = step.write
            names[step.out] = f"o{step.out}"
            views = [f"o{step.out}"] + [f"t{step.out}_{j}" for j in range(len(step.views) - 1)]
            unpacked.update(zip(step.views, views))
            extra = [f"scratch=({', '.join(views[1:])},)"] if len(views) > 1 else []
            body.append(f"f{k}({', '.join([views[0]] + args + extra)})")
        dead = [names[i] for i in step.free if names[i].startswith("v")]
        if dead:
            body.append(f"del {', '.join(dead)}")
    body.append(f"return [{', '.join(names[i] for i in program.outputs)}]")
    if program.pool is None:
        lines = ["def run(values):"] + [f"    {line}" for line in body]
    else:
        namespace["take"], namespace["give"] = program.pool.take, program.pool.give
        lines = ["def run(values):", "    views, held = take()", "    try:",
                 f"        {', '.join(unpacked[i] for i in sorted(unpacked))}, = views"]
        lines += [f"        {line}" for line in body]
        lines += ["    finally:", "        if held:", "            give()"]
    exec(compile("\n".join(lines), "<gradcli program>", "exec"), namespace)  # noqa: S102
    return namespace["run"]  # type: ignore[return-value]


def evaluate(outputs: Sequence[Node], values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Plan and run once (tests and one-off uses; a Problem keeps its plans)."""
    return plan(outputs).run(values)
