"""Jacobians and Hessians larger than `--max-memory`, written to `-o FILE.npy`
(or `.npz`) chunk by chunk instead of refused.

The batched passes are planned as usual, but with all of --max-memory for
the passes (the result is not held), and `engine/regions.py` hands each
chunk of basis vectors to the file as the region of the block it fills.
The file is preallocated first, so the only size refused is one the disk
cannot hold, and the message says so.  The element limit (--max-elements)
is not applied to such a result: it never exists in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
import numpy as np

from gradcli.engine.timings import Clock
from gradcli.errors import NumericFault, SpecError, UnconnectedError


def too_big(problem: Any, kind: str, wrt: Sequence[str] | None,
            outputs: Sequence[str] | None, batch_axis: int | None, budget: int) -> bool:
    """Whether the result alone exceeds --max-memory or --max-elements."""
    from gradcli.engine.blocks import result_shapes

    chosen, sources = problem.select_outputs(outputs), problem.sources(wrt)
    shapes = result_shapes(kind, chosen, sources, batch_axis)
    elements = sum(int(np.prod(s, dtype=np.int64)) for s in shapes.values())
    itemsize = np.dtype(problem.spec.dtype).itemsize
    return elements * itemsize > budget or elements > problem.max_elements


def write_blocks(problem: Any, kind: str, out: str, wrt: Sequence[str] | None,
                 outputs: Sequence[str] | None, mode: str, batch_axis: int | None,
                 chunk_size: int | None, budget: int, check_finite: bool, unconnected: str,
                 clock: Clock) -> None:
    from gradcli.cli.progress import progress_bar
    from gradcli.engine import blocks
    from gradcli.engine.regions import stream_blocks
    from gradcli.render.binary import ArraySpec, open_sink, sink_kind

    if sink_kind(out) == "zarr":
        raise SpecError(f"-o {out}: a {kind} larger than --max-memory is written to .npy or "
                        ".npz (its chunks fill columns, which a Zarr array cannot take "
                        "through a reshaped view)", "--out")
    chosen, sources = problem.select_outputs(outputs), problem.sources(wrt)
    with clock.phase("differentiate + plan"):
        if kind == "jacobian":
            plan = blocks.plan_jacobian(chosen, sources, mode, batch_axis, chunk_size, budget,
                                        problem.max_elements, problem.transforms, True)
        else:
            plan = blocks.plan_hessian(chosen, sources, batch_axis, chunk_size, budget,
                                       problem.max_elements, problem.transforms, True)
    values = dict(problem.inputs_for(None))
    if plan.samples is not None:
        program = blocks.independence_program([n for _, n in chosen], sources,
                                              problem.transforms)
        blocks.check_independent(program, sources, plan.samples, values)
    gone = {(row, col) for row, col, zero in plan.missing if not zero}
    null = [pair for pair in plan.shapes if pair in gone]  # in the order of the blocks
    names = [n for n, _ in chosen]
    for row, col in null:
        if unconnected == "error":
            key = col if kind == "jacobian" else row
            raise UnconnectedError(f"unconnected source {key}: {problem.explain(key, names)}",
                                   "--wrt")
    kept = {pair: shape for pair, shape in plan.shapes.items()
            if pair not in null or unconnected == "zero"}
    meta = {"command": kind, **({"mode": mode} if kind == "jacobian" else {}),
            "batch_axis": batch_axis, "dtype": problem.spec.dtype,
            "null_entries": [f"{kind}/{r}/{c}" for r, c in null if (r, c) not in kept]}
    sink = open_sink(out, [ArraySpec(f"{kind}/{r}/{c}", s, problem.spec.dtype)
                           for (r, c), s in kept.items()], meta)
    bad: list[str] = []

    def write(row: str, column: str, view: tuple[int, ...], index: tuple[Any, ...],
              data: np.ndarray) -> None:
        if not bad and not np.all(np.isfinite(data)):
            bad.append(f"{kind}.{row}.{column}")
            if check_finite:
                raise NumericFault(f"non-finite values (NaN or inf) in {bad[0]}")
        sink.write(f"{kind}/{row}/{column}", index, data, view)

    with sink, progress_bar(kind) as bar, \
            clock.phase("evaluate (batched passes, written to the file)"):
        stream_blocks(plan, values, problem.spec.dtype, write, bar)
    if bad:
        click.echo(f"gradcli: warning: non-finite values (NaN or inf) in {bad[0]}", err=True)
