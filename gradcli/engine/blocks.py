"""Jacobian, Hessian and JVP requests of a Problem: choosing the mode,
sizing the work before allocating it, planning once, and reshaping the
batched results into the documented layouts (out + src, src_i + src_j,
with the sample axis first under --batch-axis 0)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from gradcli.engine.basis import Basis, source_inner
from gradcli.engine.chunks import Progress
from gradcli.engine.evaluate import Program
from gradcli.engine.graph import Node, leaf
from gradcli.engine.jacobians import (
    BasisRun,
    basis_run,
    fwd_vector,
    hessian_vector,
    rev_vector,
    rows_to_blocks,
)
from gradcli.engine.sources import Source
from gradcli.engine.transforms import Transforms
from gradcli.errors import SpecError

if TYPE_CHECKING:
    from gradcli.engine.finite import Watch


def default_max_memory() -> int:
    """A quarter of physical memory: room for the batched pass and the result."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.3g} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.3g} MB"


@dataclass(frozen=True)
class Block:
    """Where one block of a batched run lands."""

    row: str                     # output name (jacobian) or source key i (hessian)
    column: str                  # source key (jacobian) or source key j (hessian)
    run: int                     # index of the run holding it
    slot: int                    # position among that run's results
    lead: tuple[int, ...]        # basis shape of the run
    inner: tuple[int, ...]       # per-vector result shape
    rev: bool


@dataclass(frozen=True)
class BlockPlan:
    runs: tuple[BasisRun, ...]
    blocks: tuple[Block, ...]
    samples: int | None
    missing: tuple[tuple[str, str, bool], ...]   # (row, column, is_zero) without a run
    shapes: dict[tuple[str, str], tuple[int, ...]]


def _samples(outputs: Sequence[tuple[str, Node]], sources: Sequence[Source],
             batch_axis: int | None) -> int | None:
    if batch_axis is None:
        return None
    if batch_axis != 0:
        raise SpecError("only --batch-axis 0 is supported (move the sample axis first)",
                        "--batch-axis")
    sizes = {n.shape[0] if n.ndim else None for _, n in outputs} | {
        s.node.shape[0] if s.node.ndim else None for s in sources}
    if len(sizes) != 1 or None in sizes:
        shapes = ", ".join([f"{k} shape {n.shape}" for k, n in outputs] +
                           [f"{s.key} shape {s.node.shape}" for s in sources])
        raise SpecError("--batch-axis 0 needs the same number of samples on axis 0 of every "
                        f"output and source; got {shapes}", "--batch-axis")
    return sizes.pop()


def _sized(blocks_elements: int, itemsize: int, budget: int, limit: int, what: str) -> int:
    need = blocks_elements * itemsize
    if blocks_elements > limit or need > budget:
        raise SpecError(
            f"the {what} has {blocks_elements} elements ({_gb(need)}), more than the limits "
            f"(--max-memory {_gb(budget)}, --max-elements {limit}); select fewer --wrt or "
            "--output, use components like x[0], or --batch-axis 0 for per-sample blocks, "
            "or write it to -o FILE.npy (computed chunk by chunk into the file)",
            "--max-memory")
    return budget - need


@dataclass(frozen=True)
class Layout:
    """What both planners need first: samples, item size, per-vector shapes."""

    samples: int | None
    itemsize: int
    inners: dict[str, tuple[int, ...]]   # source key -> component shape (one sample's)

    @property
    def per(self) -> bool:
        return self.samples is not None

    @property
    def lead(self) -> tuple[int, ...]:
        return (self.samples,) if self.samples is not None else ()


def _layout(outputs: Sequence[tuple[str, Node]], sources: Sequence[Source],
            batch_axis: int | None) -> Layout:
    samples = _samples(outputs, sources, batch_axis)
    return Layout(samples, np.dtype(outputs[0][1].dtype).itemsize,
                  {s.key: source_inner(s, samples is not None) for s in sources})


def result_shapes(kind: str, outputs: Sequence[tuple[str, Node]], sources: Sequence[Source],
                  batch_axis: int | None) -> dict[tuple[str, str], tuple[int, ...]]:
    """The shape of every block a Jacobian ("jacobian") or Hessian request returns."""
    layout = _layout(outputs, sources, batch_axis)
    inners, lead = layout.inners, layout.lead
    if kind == "hessian":
        return {(i.key, j.key): lead + inners[i.key] + inners[j.key]
                for i in sources for j in sources}
    outs = {name: (node.shape[1:] if layout.per else node.shape) for name, node in outputs}
    return {(o, s.key): lead + outs[o] + inners[s.key] for o, _ in outputs for s in sources}


def _budget(shapes: dict[tuple[str, str], tuple[int, ...]], itemsize: int, max_memory: int,
            limit: int, what: str, streamed: bool) -> int:
    """Bytes left for the batched passes: all of --max-memory when the result
    streams to a file (streamed), else what holding the result leaves."""
    if streamed:
        return max_memory
    return _sized(sum(int(np.prod(v, dtype=np.int64)) for v in shapes.values()), itemsize,
                  max_memory, limit, what)


def plan_jacobian(outputs: Sequence[tuple[str, Node]], sources: Sequence[Source], mode: str,
                  batch_axis: int | None, chunk_size: int | None, max_memory: int,
                  limit: int, transforms: Transforms, streamed: bool = False) -> BlockPlan:
    layout = _layout(outputs, sources, batch_axis)
    samples, per, itemsize, inners = (layout.samples, layout.per, layout.itemsize,
                                      layout.inners)
    outs = {name: (node.shape[1:] if per else node.shape) for name, node in outputs}
    shapes = result_shapes("jacobian", outputs, sources, batch_axis)
    budget = _budget(shapes, itemsize, max_memory, limit, "Jacobian", streamed)
    total_src = sum(int(np.prod(i, dtype=np.int64)) for i in inners.values())
    runs: list[BasisRun] = []
    blocks: list[Block] = []
    missing: list[tuple[str, str, bool]] = []
    fwd_outputs = []
    for name, node in outputs:
        size = int(np.prod(outs[name], dtype=np.int64))
        if mode == "rev" or (mode == "auto" and size <= total_src):
            basis = Basis(node.shape, None, per)
            run = basis_run(rev_vector(node, sources, per, transforms), basis, transforms,
                            itemsize, budget, chunk_size)
            _collect(runs, blocks, missing, run, [(name, s.key) for s in sources],
                     outs[name], [inners[s.key] for s in sources], True)
        else:
            fwd_outputs.append((name, node))
    for source in sources if fwd_outputs else ():
        basis = Basis(source.node.shape, source.index, per)
        vector = fwd_vector([node for _, node in fwd_outputs], source, transforms)
        run = basis_run(vector, basis, transforms, itemsize, budget, chunk_size)
        _collect(runs, blocks, missing, run, [(name, source.key) for name, _ in fwd_outputs],
                 inners[source.key], [outs[name] for name, _ in fwd_outputs], False)
    return BlockPlan(tuple(runs), tuple(blocks), samples, tuple(missing), shapes)


def _collect(runs: list[BasisRun], blocks: list[Block], missing: list[tuple[str, str, bool]],
             run: BasisRun, pairs: Sequence[tuple[str, str]], lead: tuple[int, ...],
             inners: Sequence[tuple[int, ...]], rev: bool, zero: bool = False) -> None:
    index = len(runs)
    runs.append(run)
    slot = 0
    for (row, column), inner, present in zip(pairs, inners, run.chunked.present):
        if present:
            blocks.append(Block(row, column, index, slot, lead, inner, rev))
            slot += 1
        else:
            missing.append((row, column, zero))


def plan_hessian(outputs: Sequence[tuple[str, Node]], sources: Sequence[Source],
                 batch_axis: int | None, chunk_size: int | None, max_memory: int,
                 limit: int, transforms: Transforms, streamed: bool = False) -> BlockPlan:
    layout = _layout(outputs, sources, batch_axis)
    samples, per, itemsize, inners = (layout.samples, layout.per, layout.itemsize,
                                      layout.inners)
    shapes = result_shapes("hessian", outputs, sources, batch_axis)
    budget = _budget(shapes, itemsize, max_memory, limit, "Hessian", streamed)
    grads = transforms.gradient([n for _, n in outputs], sources, per)
    runs: list[BasisRun] = []
    blocks: list[Block] = []
    missing: list[tuple[str, str, bool]] = []
    # A source the outputs do not depend on has no Hessian row or column:
    # null both ways (H[i][j] and H[j][i]), as its gradient is null.
    connected = [(g, s) for g, s in zip(grads, sources) if g is not None]
    for g, s in zip(grads, sources):
        if g is None:
            missing += [(s.key, j.key, False) for j in sources]
            missing += [(i.key, s.key, False) for _, i in connected]
    linked = {s.key for _, s in connected}
    for j in [j for j in sources if j.key in linked] if connected else ():
        vector = hessian_vector([g for g, _ in connected], j, transforms)
        basis = Basis(j.node.shape, j.index, per)
        run = basis_run(vector, basis, transforms, itemsize, budget, chunk_size)
        _collect(runs, blocks, missing, run, [(i.key, j.key) for _, i in connected],
                 inners[j.key], [inners[i.key] for _, i in connected], False, zero=True)
    return BlockPlan(tuple(runs), tuple(blocks), samples, tuple(missing), shapes)


def run_blocks(block_plan: BlockPlan, values: dict[str, np.ndarray], dtype: str,
               progress: Progress | None = None) -> dict[str, dict[str, np.ndarray | None]]:
    out: dict[str, dict[str, np.ndarray | None]] = {}
    results = [run.run(values, dtype, progress) for run in block_plan.runs]
    for block in block_plan.blocks:
        rows = [r for r in results[block.run] if r is not None][block.slot]
        value = rows_to_blocks(rows, block.lead, block.inner, block_plan.samples, block.rev)
        out.setdefault(block.row, {})[block.column] = value
    for row, column, zero in block_plan.missing:
        shape = block_plan.shapes[(row, column)]
        out.setdefault(row, {})[column] = np.zeros(shape, dtype=dtype) if zero else None
    return out


def watched(block_plan: BlockPlan, watch: Watch) -> BlockPlan:
    """The plan with every batched pass reporting to `watch` (--check-finite)."""
    return replace(block_plan, runs=tuple(
        replace(run, chunked=replace(run.chunked, program=replace(run.chunked.program,
                                                                  watch=watch)))
        for run in block_plan.runs))


def independence_program(targets: Sequence[Node], sources: Sequence[Source],
                         transforms: Transforms) -> Program | None:
    """A JVP with tangents on every source, to test that sample 0 of the
    sources moves nothing but sample 0 of the targets (--batch-axis 0)."""
    tangents = {id(s.node): leaf(f"tangent:{s.name}", s.node.shape, s.node.dtype)
                for s in sources}
    outs = [t for t in transforms.jvp(list(targets), tangents) if t is not None]
    return transforms.plan(outs) if outs else None


def check_independent(program: Program | None, sources: Sequence[Source], samples: int,
                      values: dict[str, np.ndarray]) -> None:
    if program is None or samples < 2:
        return
    rng = np.random.default_rng(0)
    feed = dict(values)
    for s in sources:
        t = np.zeros(s.node.shape, dtype=s.node.dtype)
        t[0] = rng.uniform(0.5, 1.5, size=t.shape[1:])
        feed[f"tangent:{s.name}"] = t
    with np.errstate(all="ignore"):
        moved_all = program.run(feed)
    for moved in moved_all:
        # Only finite changes count: where another sample's derivative is
        # inf (exp(800)), its zero tangent gives 0 * inf = nan, not a dependence.
        if np.any((moved[1:] != 0) & np.isfinite(moved[1:])):
            raise SpecError("--batch-axis 0 assumes sample n of the outputs depends only on "
                            "sample n of the sources, but changing sample 0 of a source moves "
                            "other samples of the outputs (a sum or matmul across samples?); "
                            "drop --batch-axis to get the full blocks", "--batch-axis")
