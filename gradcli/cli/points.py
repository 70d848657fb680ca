"""`--points FILE`: eval, grad, jacobian and hessian over many points, chunk by
chunk, in bounded memory, streamed to `-o FILE.npy|.npz|.zarr`.

    points file --(convert: dtypes, NaN rows)--> chunk feeds --(ChunkRequest,
    here or on Dask workers)--> per-chunk arrays --(rows)--> sink (or memory)

Sizing: the request is planned at 1 and at 2 points; the difference of the
elements its programs hold is what one more point costs, the rest is
shared, and `chunks.chunk_size` fits as many points as `--max-memory`
holds (or `--chunk-size` points).  The chunk loop is `chunks.Chunked`, the
runner of Jacobian blocks and plots, with the request as its program.

Results go to a sink (render/sinks.py: everything or nothing, the disk
space reserved first) or, without a binary `-o`, into memory (refused past
--max-memory) and through the ordinary formats.  SIGTERM is turned into an
exit that runs the cleanup, so no half-written file is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from gradcli.cli.points_request import ROWS, Column, Recipe, check_independent
from gradcli.engine.chunks import Chunked, chunk_size
from gradcli.engine.timings import Clock
from gradcli.errors import NumericFault, SpecError, UnconnectedError
from gradcli.language.points import Points, Target, convert

# Points per chunk are also capped: numpy arrays past glibc's largest mmap
# threshold (32 MiB) are mapped and unmapped by every op, whose page faults
# cost more than the work; a chunk whose program holds this many bytes keeps
# its arrays below that and runs at the speed of small chunks.
CHUNK_BYTES_CAP = 256 << 20


@dataclass(frozen=True)
class Job:
    """The options of one sweep."""

    kind: str
    outputs: tuple[str, ...] | None = None
    wrt: tuple[str, ...] | None = None
    order: int = 1
    mode: str = "auto"
    chunk_size: int | None = None
    max_memory: int = 1 << 30
    out: str | None = None
    fmt: str = "text"
    precision: int | None = None
    check_finite: bool = False
    unconnected: str = "none"
    scheduler: str | None = None
    workers: int | None = None


@dataclass
class Plan:
    recipe: Recipe
    columns: list[Column]
    size: int
    count: int


def plan_sweep(problem: Any, points: Points, targets: Sequence[Target], job: Job,
               clock: Clock) -> Plan:
    """The chunk size and the columns, from the request planned at 1 and 2 points."""
    recipe = Recipe(problem.spec, problem.sets, job.kind, tuple(targets), 1, job.outputs,
                    job.wrt, job.order, job.mode, job.max_memory, problem.max_elements)
    with clock.phase("points: size the chunks (plan at 1 and 2 points)"):
        one, two = _probe(recipe, 1), _probe(recipe, 2)
        if points.count >= 2:
            check_independent(two, convert(points, targets, 0, 2, job.check_finite))
    itemsize = np.dtype(problem.spec.dtype).itemsize
    per = max(1, two.elements() - one.elements())
    shared = max(0, one.elements() - per)
    # each point's inputs and results are also held by the feed and the writer
    extra = sum(int(np.prod(t.shape, dtype=np.int64)) for t in targets) + sum(
        int(np.prod(c.shape, dtype=np.int64)) for c in two.columns if c.per_point)
    budget = max(itemsize, job.max_memory - shared * itemsize)
    size = chunk_size(points.count, (per + 2 * extra) * itemsize, budget, job.chunk_size)
    if not job.chunk_size:
        size = max(1, min(size, CHUNK_BYTES_CAP // max(1, per * itemsize)))
    return Plan(recipe, two.columns, size, points.count)


def _probe(recipe: Recipe, size: int) -> Any:
    """The request built for `size` points; a spec whose expressions fix the
    number of points (`ones((1000, 1))`) fails here, and the message says why."""
    try:
        return recipe.at(size).build()
    except SpecError as exc:
        if exc.location == "--points" or "--points" in exc.message:
            raise
        names = ", ".join(t.name for t in recipe.targets)
        raise SpecError(f"{exc.message} (with {names} rebuilt at {size} point(s) for "
                        "--points: expressions must not fix the number of points)",
                        exc.location) from None


def _feed(points: Points, targets: Sequence[Target], check_finite: bool):
    def feed(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
        part = convert(points, targets, start, stop, check_finite)
        out: dict[str, np.ndarray] = {}
        for t in targets:
            array = part[t.name]
            if len(array) < size:  # pad with copies of the last point (zeros if none)
                last = array[-1:] if len(array) else np.zeros((1,) + t.shape, t.dtype)
                array = np.concatenate([array, np.repeat(last, size - len(array), axis=0)])
            out[t.name] = array
        out[ROWS] = np.array(stop - start)
        return out

    return feed


def _local(plan: Plan, feed: Any, clock: Clock) -> Iterator[tuple[int, int, list]]:
    with clock.phase("points: plan the chunk request"):
        request = plan.recipe.at(plan.size).build()
    chunked = Chunked(request, plan.count, plan.size, tuple(True for c in plan.columns
                                                            if c.computed))
    yield from chunked.chunks({}, feed)


class Memory:
    """The sink of results that are printed: arrays held in memory."""

    def __init__(self, arrays: Mapping[str, tuple[tuple[int, ...], str]]) -> None:
        self.arrays = {k: np.zeros(shape, dtype) for k, (shape, dtype) in arrays.items()}

    def write(self, key: str, index: tuple[Any, ...], data: np.ndarray) -> None:
        self.arrays[key][index] = data

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


@dataclass
class Finite:
    """The first non-finite result: (column key, point row), or None."""

    first: tuple[str, int | None] | None = None

    def see(self, key: str, rows: np.ndarray, start: int | None, check: bool) -> None:
        rows = np.asarray(rows)
        if self.first is not None or rows.dtype.kind != "f" or rows.size == 0:
            return
        finite = np.isfinite(rows).reshape(len(rows), -1) if start is not None else \
            np.isfinite(rows).reshape(1, -1)
        if finite.all():
            return
        row = None if start is None else start + int(np.argmin(finite.all(axis=1)))
        self.first = (key, row)
        if check:
            raise NumericFault(f"non-finite values (NaN or inf) in {self.text()}")

    def text(self) -> str:
        assert self.first is not None
        key, row = self.first
        return key.replace("/", ".") + (f", first at point row {row}" if row is not None
                                        else " (summed over the points)")


def sweep(problem: Any, points: Points, targets: Sequence[Target], job: Job,
          clock: Clock) -> None:
    """Run a --points sweep and write or print its results."""
    from gradcli.cli.progress import progress_bar
    from gradcli.render.binary import ArraySpec, open_sink, sink_kind

    plan = plan_sweep(problem, points, targets, job, clock)
    columns, count = plan.columns, plan.count
    names = [n for n, _ in problem.select_outputs(list(job.outputs) if job.outputs else None)]
    for column in columns:
        if not column.connected and job.unconnected == "error":
            key = column.path[-1] if job.kind != "hessian" else column.path[1]
            raise UnconnectedError(f"unconnected source {key}: "
                                   f"{problem.explain(key, names)}", "--wrt")
    kept = [c for c in columns if c.connected or job.unconnected == "zero"]
    shapes = {c.key: (((count,) + c.shape) if c.per_point else c.shape, c.dtype) for c in kept}
    null = [c.key for c in columns if c not in kept]
    binary = sink_kind(job.out)
    if binary is None:
        need = sum(int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize
                   for s, d in shapes.values())
        if need > job.max_memory:
            raise SpecError(f"the results of {count} points take {need / 1e9:.3g} GB, more "
                            "than --max-memory; stream them to a file with -o FILE.npy, "
                            "FILE.npz or FILE.zarr", "--out")
        target: Any = Memory(shapes)
    else:
        meta = {"command": job.kind, **_meta(job, problem), "points": count,
                "chunk_size": plan.size, "null_entries": null}
        target = open_sink(job.out, [ArraySpec(k, s, d) for k, (s, d) in shapes.items()], meta,
                           plan.size)
    finite = Finite()
    computed = [c for c in columns if c.computed]
    sums: dict[str, np.ndarray] = {}
    feed = _feed(points, targets, job.check_finite)
    with target, progress_bar(job.kind) as bar, \
            clock.phase("points: evaluate and write the chunks"):
        for start, stop, arrays in _chunks(plan, feed, job, clock):
            for column, array in zip(computed, arrays):
                if column.per_point:
                    rows = np.asarray(array)[: stop - start]
                    finite.see(column.key, rows, start, job.check_finite)
                    target.write(column.key, (slice(start, stop),), rows)
                else:
                    sums[column.key] = sums[column.key] + array if column.key in sums \
                        else np.array(array, copy=True)
            bar(stop, count)
        for key, total in sums.items():
            finite.see(key, total, None, job.check_finite)
            target.write(key, (), total)
    if finite.first is not None:
        click.echo(f"gradcli: warning: non-finite values (NaN or inf) in {finite.text()}",
                   err=True)
    if binary is None:
        _print(problem, job, columns, target.arrays, clock)


def _chunks(plan: Plan, feed: Any, job: Job, clock: Clock) -> Iterator[tuple[int, int, list]]:
    if job.scheduler or job.workers:
        from gradcli.cli.cluster import dask_chunks  # lazy-for-speed: the dask extra

        yield from dask_chunks(plan.recipe.at(plan.size), Chunked(
            None, plan.count, plan.size, ()).feeds(feed), job.scheduler, job.workers)
        return
    yield from _local(plan, feed, clock)


def _meta(job: Job, problem: Any) -> dict[str, Any]:
    dtype = problem.spec.dtype
    return {"eval": {"dtype": dtype}, "grad": {"order": job.order, "dtype": dtype},
            "jacobian": {"mode": job.mode, "batch_axis": 0, "dtype": dtype},
            "hessian": {"batch_axis": 0, "dtype": dtype}}[job.kind]


def _print(problem: Any, job: Job, columns: Sequence[Column], arrays: Mapping[str, Any],
           clock: Clock) -> None:
    from gradcli.cli import results
    from gradcli.cli.support import emit

    values = {c.key: arrays.get(c.key) for c in columns}
    if job.kind == "eval":
        result = results.eval_result(problem, {c.path[1]: values[c.key] for c in columns})
    elif job.kind == "grad":
        chosen = problem.select_outputs(list(job.outputs) if job.outputs else None)
        result = results.grad_result(problem, {c.path[1]: values[c.key] for c in columns},
                                     chosen, job.order, False, job.unconnected)
    else:
        blocks: dict[str, dict[str, Any]] = {}
        for c in columns:
            blocks.setdefault(c.path[1], {})[c.path[2]] = values[c.key]
        result = (results.jacobian_result(problem, blocks, 0, job.mode, job.unconnected)
                  if job.kind == "jacobian" else
                  results.hessian_result(problem, blocks, job.outputs or (), 0,
                                         job.unconnected))
    emit(result, job.fmt, job.out, job.precision, False, clock)


def run_command(job: Job, spec: str | None, expr: str | None, sets: Sequence[str],
                dtype: str | None, max_elements: int | None, clock: Clock,
                items: Sequence[str]) -> None:
    """A command with --points: open the files, build the problem, sweep."""
    from gradcli.cli.support import build_problem
    from gradcli.language.points import bind, open_points

    if not items:
        raise SpecError("--scheduler and --workers run the chunks of a --points sweep: give "
                        "--points FILE", "--points")
    if job.scheduler and job.workers:
        raise SpecError("give --scheduler ADDRESS or --workers N, not both", "--workers")
    points = open_points(items)
    try:
        given = {item.partition("=")[0].strip() for item in sets}
        for name in points.shapes:
            if name in given:
                raise SpecError(f"'{name}' is given by both --set and --points", "--points")
        extra = {}
        if expr is not None:  # -e: the points define their inputs
            for name, shape in points.shapes.items():
                kind = points.source[name].dtypes[name].kind
                extra[name] = np.zeros((1,) + shape, "int64" if kind in "iu"
                                       else dtype or "float64")
        problem = build_problem(spec, expr, sets, dtype, max_elements, clock, False,
                                extra=extra)
        inputs = {name: (node.shape, node.dtype) for name, node in problem.leaves.items()
                  if name not in problem.models.parameters}
        targets = bind(points, inputs, expr is not None, problem.spec.dtype)
        sweep(problem, points, targets, job, clock)
    finally:
        points.close()
