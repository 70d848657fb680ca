"""`gradcli jacobian`, `gradcli hessian` and `gradcli jvp`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from gradcli.cli.options import (
    command,
    derivative_options,
    output_options,
    points_options,
    problem_options,
)
from gradcli.errors import SpecError

if TYPE_CHECKING:
    from gradcli.engine.timings import Clock

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*$")
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | None) -> int | None:
    """`--max-memory 2G`, `500M`, `1000000` (bytes)."""
    if text is None:
        return None
    match = SIZE.match(text)
    if not match:
        raise SpecError(f"--max-memory takes a size like 2G, 500M or 1000000, not '{text}'",
                        "--max-memory")
    return max(1, int(float(match.group(1)) * UNITS[match.group(2).lower()]))


def budget(max_memory: str | None) -> int:
    """--max-memory in bytes (default: a quarter of RAM)."""
    from gradcli.engine.blocks import default_max_memory

    return parse_size(max_memory) or default_max_memory()


def _streams(problem: object, kind: str, wrt: tuple[str, ...], outputs: tuple[str, ...],
             batch_axis: int | None, max_memory: str | None, out: str | None) -> bool:
    """A result bound for -o FILE.npy/.npz that --max-memory cannot hold:
    computed chunk by chunk into the file instead of refused."""
    from gradcli.render.sinks import sink_kind

    if sink_kind(out) is None:
        return False
    from gradcli.cli.bigblocks import too_big

    return too_big(problem, kind, list(wrt) or None, list(outputs) or None, batch_axis,
                   budget(max_memory))


def _batch_options(func: object) -> object:
    for option in reversed([
        click.option("--batch-axis", type=click.IntRange(0, 0), default=None,
                     help="Axis 0 indexes independent samples: per-sample blocks."),
        click.option("--chunk-size", type=click.IntRange(min=1), default=None,
                     help="Basis vectors per batched pass; with --points, points per chunk "
                          "(default: sized by --max-memory)."),
        click.option("--max-memory", default=None, metavar="SIZE",
                     help="Memory budget for the batched passes and the result "
                          "(default: a quarter of RAM), e.g. 2G."),
    ]):
        func = option(func)
    return func


@command("jacobian")
@problem_options
@derivative_options
@click.option("--mode", type=click.Choice(["auto", "rev", "fwd"]), default="auto",
              show_default=True, help="rev: batched VJP over the output basis; fwd: batched "
              "JVP over the source basis; auto: the fewer basis vectors.")
@_batch_options
@points_options
@output_options
def jacobian_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                     outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                     wrt: tuple[str, ...], unconnected: str, mode: str,
                     batch_axis: int | None,
                     chunk_size: int | None, max_memory: str | None,
                     points: tuple[str, ...], scheduler: str | None, workers: int | None,
                     fmt: str, out: str | None, precision: int | None, threshold: int, full: bool,
                 check_finite: bool,
                     clock: Clock) -> None:
    """Every partial d(output)/d(source): shape out.shape + source shape.

    Example: gradcli jacobian specs/gradient-of-a-list-of-losses-sums.yaml --wrt b
    """
    from gradcli.cli.progress import progress_bar
    from gradcli.cli.results import jacobian_result
    from gradcli.cli.support import build_problem, emit

    if points or scheduler or workers:
        from gradcli.cli.points import Job, run_command

        job = Job("jacobian", tuple(outputs) or None, tuple(wrt) or None, 1, mode, chunk_size,
                  budget(max_memory), out, fmt, precision, check_finite, unconnected,
                  scheduler, workers)
        if model is not None:
            raise SpecError("--model and --points do not combine: write a spec with "
                            "models: {model: {onnx: FILE}} and give it --points", "--model")
        return run_command(job, spec, expr, sets, dtype, max_elements, clock, points)
    problem = build_problem(spec, expr, sets, dtype, max_elements, clock, check_finite,
                            model=model)
    if _streams(problem, "jacobian", wrt, outputs, batch_axis, max_memory, out):
        from gradcli.cli.bigblocks import write_blocks

        return write_blocks(problem, "jacobian", out, list(wrt) or None, list(outputs) or None,
                            mode, batch_axis, chunk_size, budget(max_memory), check_finite,
                            unconnected, clock)
    with progress_bar("jacobian") as bar:  # drawn only when stderr is a terminal
        blocks = problem.jacobian(mode=mode, batch_axis=batch_axis, wrt=list(wrt) or None,
                                  outputs=list(outputs) or None, chunk_size=chunk_size,
                                  max_memory=parse_size(max_memory), progress=bar)
    emit(jacobian_result(problem, blocks, batch_axis, mode, unconnected), fmt, out, precision,
         check_finite, clock, threshold, full)


@command("hessian")
@problem_options
@derivative_options
@_batch_options
@points_options
@output_options
def hessian_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                    outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                    wrt: tuple[str, ...], unconnected: str, batch_axis: int | None,
                    chunk_size: int | None, max_memory: str | None,
                    points: tuple[str, ...], scheduler: str | None, workers: int | None,
                    fmt: str, out: str | None,
                    precision: int | None, threshold: int, full: bool,
                 check_finite: bool, clock: Clock) -> None:
    """Second derivatives of the sum of the outputs, blocks H[src_i][src_j].

    Example: gradcli hessian specs/partial-derivatives-of-a-network.yaml
    """
    from gradcli.cli.progress import progress_bar
    from gradcli.cli.results import hessian_result
    from gradcli.cli.support import build_problem, emit

    if points or scheduler or workers:
        from gradcli.cli.points import Job, run_command

        job = Job("hessian", tuple(outputs) or None, tuple(wrt) or None, 1, "auto",
                  chunk_size, budget(max_memory), out, fmt, precision, check_finite,
                  unconnected, scheduler, workers)
        if model is not None:
            raise SpecError("--model and --points do not combine: write a spec with "
                            "models: {model: {onnx: FILE}} and give it --points", "--model")
        return run_command(job, spec, expr, sets, dtype, max_elements, clock, points)
    problem = build_problem(spec, expr, sets, dtype, max_elements, clock, check_finite,
                            model=model)
    if _streams(problem, "hessian", wrt, outputs, batch_axis, max_memory, out):
        from gradcli.cli.bigblocks import write_blocks

        return write_blocks(problem, "hessian", out, list(wrt) or None, list(outputs) or None,
                            "auto", batch_axis, chunk_size, budget(max_memory), check_finite,
                            unconnected, clock)
    with progress_bar("hessian") as bar:  # drawn only when stderr is a terminal
        blocks = problem.hessian(batch_axis=batch_axis, wrt=list(wrt) or None,
                                 outputs=list(outputs) or None, chunk_size=chunk_size,
                                 max_memory=parse_size(max_memory), progress=bar)
    emit(hessian_result(problem, blocks, outputs, batch_axis, unconnected), fmt, out, precision,
         check_finite, clock, threshold, full)


@command("jvp")
@problem_options
@click.option("--tangent", "tangents", multiple=True, metavar="NAME=VALUE",
              help="Tangent of an input (repeatable; VALUE as in --set; others are zero).")
@output_options
def jvp_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                tangents: tuple[str, ...], fmt: str, out: str | None, precision: int | None,
                threshold: int, full: bool, check_finite: bool, clock: Clock) -> None:
    """Forward mode: the outputs and their derivatives along a tangent.

    Example: gradcli jvp -e 'sin(x) * y' --set x=0.5 --set y=2.0 --tangent x=1.0
    """
    from gradcli.cli.results import jvp_result
    from gradcli.cli.support import build_problem, emit, parse_direction

    problem = build_problem(spec, expr, sets, dtype, max_elements, clock, check_finite,
                            model=model)
    tangent = dict(parse_direction(item, problem, "--tangent", max_elements)
                   for item in tangents)
    values, directional = problem.jvp_with_values(tangent, outputs=list(outputs) or None)
    emit(jvp_result(problem, values, directional, list(tangent)), fmt, out, precision,
         check_finite, clock, threshold, full)
