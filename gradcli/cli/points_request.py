"""What one chunk of a `--points` sweep computes, planned once.

The points inputs keep their meaning from `--batch-axis 0`: axis 0 of each
is the points axis, and the spec is rebuilt with that axis as long as one
chunk (`Recipe.size`), so the request (values, gradients, or per-sample
Jacobian/Hessian blocks) is differentiated and planned once for that
shape; every chunk is then evaluation only, the last one padded with
copies of its last point.  A `Recipe` is plain data (the validated Spec,
the --set values, the request): a Dask worker builds its `ChunkRequest`
from one, once, and reuses it for every chunk it runs.

Results are columns: per-point ones (N rows in the output) and, for `grad`
with respect to an input the points do not feed (weights), the gradient of
the sum over all points, summed chunk by chunk; padded rows are left out
of that sum by a cotangent of zeros on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcli.engine.chunks import program_elements
from gradcli.engine.graph import depends_on
from gradcli.engine.ops.structure import selected_shape
from gradcli.engine.timings import Clock
from gradcli.errors import SpecError
from gradcli.language.limits import MAX_ELEMENTS
from gradcli.language.points import Target

ROWS = "points:rows"  # fed with each chunk: how many of its rows are real points


@dataclass(frozen=True)
class Column:
    """One result of the sweep: its key path and the shape of one point's part
    (per_point) or of the whole result (summed over the points)."""

    path: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    per_point: bool = True
    connected: bool = True
    zero: bool = False  # a block known to be zero: written as zeros, never computed

    @property
    def key(self) -> str:
        return "/".join(self.path)

    @property
    def computed(self) -> bool:
        return self.connected and not self.zero


@dataclass(frozen=True)
class Recipe:
    """Everything a process needs to build the request for chunks of `size` points."""

    spec: Any
    sets: Mapping[str, Any]
    kind: str                      # eval, grad, jacobian or hessian
    targets: tuple[Target, ...]    # the inputs the points feed
    size: int = 1
    outputs: tuple[str, ...] | None = None
    wrt: tuple[str, ...] | None = None
    order: int = 1
    mode: str = "auto"
    max_memory: int = 1 << 30
    max_elements: int = MAX_ELEMENTS

    def at(self, size: int) -> Recipe:
        return replace(self, size=max(1, size))

    def build(self, clock: Clock | None = None) -> ChunkRequest:
        return ChunkRequest(self, clock)


class ChunkRequest:
    """The request planned for one chunk: `run(values)` gives the computed
    columns' arrays (per point: `size` rows; summed: the chunk's sum)."""

    def __init__(self, recipe: Recipe, clock: Clock | None = None) -> None:
        from gradcli.api import Problem

        r = self.recipe = recipe
        zeros = {t.name: np.zeros((r.size,) + t.shape, t.dtype) for t in r.targets}
        self.problem = p = Problem(r.spec, {**r.sets, **zeros}, max_elements=r.max_elements,
                                   clock=clock)
        self.chosen = p.select_outputs(list(r.outputs) if r.outputs else None)
        self.points = [p.leaves[t.name] for t in r.targets]
        for name, node in self.chosen:
            if not node.shape or node.shape[0] != r.size:
                raise SpecError(f"with --points, every output needs one row per point on axis "
                                f"0; {name} has shape {node.shape} for {r.size} point(s)",
                                "--points")
        self.masks: dict[int, dict[str, np.ndarray]] = {}
        self.columns: list[Column] = []
        self.programs: list[Any] = []
        getattr(self, f"_plan_{r.kind}")()

    # ---- planning, per command -------------------------------------------------------

    def _plan_eval(self) -> None:
        p = self.problem
        self.program = p.transforms.plan([n for _, n in self.chosen])
        self.programs = [self.program]
        self.columns = [Column(("outputs", name), node.shape[1:], node.dtype)
                        for name, node in self.chosen]

    def _per_point(self, source: Any, whole_index: bool) -> bool:
        """A source the points move (else: fixed, its gradient summed).  It must
        keep the points axis: a component is `P[:, 0]` for grad (indexing the
        whole array), `P[0]` for per-sample blocks (indexing one point)."""
        if id(source.node) not in depends_on([source.node], self.points):
            return False
        index = source.index if whole_index else None
        keeps = index is None or (len(index) > 0 and (index[0] is Ellipsis or (
            isinstance(index[0], slice) and index[0] == slice(None))))
        if not keeps or not source.node.shape or source.node.shape[0] != self.recipe.size:
            example = f"{source.name}[:, 0]" if whole_index else f"{source.name}[0]"
            raise SpecError(f"--wrt {source.key}: with --points a source the points move "
                            f"must keep the points axis (axis 0), e.g. {example}", "--wrt")
        return True

    def _plan_grad(self) -> None:
        p, r = self.problem, self.recipe
        names = tuple(n for n, _ in self.chosen)
        wrt = list(r.wrt) if r.wrt else None
        self.sources = p.sources(wrt)
        self.plan = p.grad_plan(wrt, r.order, names, list(names))
        self.programs = [self.plan.program]
        for source, ok in zip(self.sources, self.plan.connected):
            per = self._per_point(source, True)
            shape = source.node.shape if source.index is None else \
                selected_shape(source.node.shape, source.index)
            self.columns.append(Column(("grad", source.key), shape[1:] if per else shape,
                                       p.spec.dtype, per, ok))

    def _block_sources(self) -> tuple[Any, ...]:
        p, r = self.problem, self.recipe
        wrt = list(r.wrt) if r.wrt else None
        if wrt is None and p.spec.wrt is None:  # default: the float inputs the points feed
            wrt = [t.name for t in r.targets if p.leaves[t.name].is_float]
        sources = p.sources(wrt)
        for source in sources:
            if not self._per_point(source, False):
                points = ", ".join(t.name for t in r.targets)
                raise SpecError(f"{r.kind} --points: {source.key} is not fed by the points "
                                f"({points}); per-point blocks are taken with respect to "
                                "points inputs (grad --points sums the gradient of a fixed "
                                "input over all points)", "--wrt")
        return sources

    def _plan_blocks(self, kind: str) -> None:
        from gradcli.engine.blocks import plan_hessian, plan_jacobian, result_shapes

        p, r = self.problem, self.recipe
        self.sources = sources = self._block_sources()
        if kind == "jacobian":
            self.blocks = plan_jacobian(self.chosen, sources, r.mode, 0, None, r.max_memory,
                                        r.max_elements, p.transforms)
        else:
            self.blocks = plan_hessian(self.chosen, sources, 0, None, r.max_memory,
                                       r.max_elements, p.transforms)
        self.programs = [run.chunked.program for run in self.blocks.runs]
        missing = {(row, col): zero for row, col, zero in self.blocks.missing}
        for (row, col), shape in result_shapes(kind, self.chosen, sources, 0).items():
            gone = (row, col) in missing
            self.columns.append(Column((kind, row, col), shape[1:], p.spec.dtype, True,
                                       not gone or missing[(row, col)],
                                       gone and missing[(row, col)]))

    def _plan_jacobian(self) -> None:
        self._plan_blocks("jacobian")

    def _plan_hessian(self) -> None:
        self._plan_blocks("hessian")

    # ---- running ---------------------------------------------------------------------

    def elements(self) -> int:
        """Elements of every value the planned programs hold (for sizing)."""
        return sum(program_elements(program) for program in self.programs)

    def run(self, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        p, r = self.problem, self.recipe
        inputs = p.inputs_for({t.name: values[t.name] for t in r.targets})
        rows = int(values.get(ROWS, r.size))
        if r.kind == "eval":
            return list(self.program.run(inputs))
        if r.kind == "grad":
            names = [n for n, _ in self.chosen]
            found = p.grad(list(r.wrt) if r.wrt else None, r.order, self._masks(rows),
                           values={t.name: values[t.name] for t in r.targets}, outputs=names)
            return [found[c.path[1]] for c in self.columns if c.computed]
        from gradcli.engine.blocks import run_blocks

        blocks = run_blocks(self.blocks, dict(inputs), p.spec.dtype)
        return [blocks[c.path[1]][c.path[2]] for c in self.columns if c.computed]

    def _masks(self, rows: int) -> dict[str, np.ndarray]:
        """Cotangents of ones on the real rows and zeros on the padding."""
        if rows not in self.masks:
            self.masks[rows] = {}
            for name, node in self.chosen:
                mask = np.ones(node.shape, node.dtype)
                mask[rows:] = 0
                self.masks[rows][name] = mask
        return self.masks[rows]


def check_independent(request: ChunkRequest, first: Mapping[str, np.ndarray]) -> None:
    """Point k of the outputs may depend only on point k of the inputs (a sum
    or matmul across points would make the results depend on the chunking)."""
    from gradcli.engine import blocks

    p = request.problem
    floats = [t.name for t in request.recipe.targets if p.leaves[t.name].is_float]
    if request.recipe.size < 2 or not floats:
        return
    sources = p.sources(floats)
    program = blocks.independence_program([n for _, n in request.chosen], sources,
                                          p.transforms)
    try:
        blocks.check_independent(program, sources, request.recipe.size,
                                 dict(p.inputs_for(first)))
    except SpecError:
        raise SpecError("--points assumes point k of the outputs depends only on point k of "
                        f"the points inputs ({', '.join(floats)}), but changing point 0 moves "
                        "other points of the outputs (a sum, mean or matmul across axis 0?)",
                        "--points") from None


def summed(columns: Sequence[Column]) -> list[int]:
    """Positions (among the computed columns) of the summed ones."""
    computed = [c for c in columns if c.computed]
    return [k for k, c in enumerate(computed) if not c.per_point]
