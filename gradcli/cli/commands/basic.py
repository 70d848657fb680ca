"""`gradcli eval` and `gradcli grad`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gradcli.cli.options import (
    command,
    derivative_options,
    output_options,
    points_options,
    problem_options,
    sweep_memory_options,
)
from gradcli.errors import SpecError

if TYPE_CHECKING:
    from gradcli.engine.timings import Clock


@command("eval")
@problem_options
@points_options
@sweep_memory_options
@output_options
def eval_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                 outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                 points: tuple[str, ...], scheduler: str | None, workers: int | None,
                 chunk_size: int | None, max_memory: str | None,
                 fmt: str, out: str | None, precision: int | None, threshold: int, full: bool,
                 check_finite: bool,
                 clock: Clock) -> None:
    """Print the values of the outputs.

    Example: gradcli eval -e 'sin(x) * 2' --set x=0.5
    """
    from gradcli.cli.results import eval_result
    from gradcli.cli.support import build_problem, emit

    if points or scheduler or workers:
        from gradcli.cli.commands.derivatives import budget
        from gradcli.cli.points import Job, run_command

        job = Job("eval", tuple(outputs) or None, chunk_size=chunk_size,
                  max_memory=budget(max_memory), out=out, fmt=fmt, precision=precision,
                  check_finite=check_finite, scheduler=scheduler, workers=workers)
        if model is not None:
            raise SpecError("--model and --points do not combine: write a spec with "
                            "models: {model: {onnx: FILE}} and give it --points", "--model")
        return run_command(job, spec, expr, sets, dtype, max_elements, clock, points)
    problem = build_problem(spec, expr, sets, dtype, max_elements, clock, check_finite,
                            model=model)
    values = problem.evaluate(outputs=list(outputs) or None)
    emit(eval_result(problem, values), fmt, out, precision, check_finite, clock, threshold, full)


@command("grad")
@problem_options
@derivative_options
@click.option("--order", type=click.IntRange(min=1), default=1, show_default=True,
              help="N-th nested gradient: each step differentiates the sum of the previous.")
@click.option("--cotangent", "cotangents", multiple=True, metavar="OUT=VALUE",
              help="Weight output OUT by VALUE (vector-Jacobian product; TF output_gradients).")
@points_options
@sweep_memory_options
@output_options
def grad_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                 outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                 wrt: tuple[str, ...], unconnected: str, order: int,
                 cotangents: tuple[str, ...], points: tuple[str, ...], scheduler: str | None,
                 workers: int | None, chunk_size: int | None, max_memory: str | None,
                 fmt: str, out: str | None,
                 precision: int | None, threshold: int, full: bool,
                 check_finite: bool, clock: Clock) -> None:
    """Print d(sum of the outputs)/d(source) for every source.

    Example: gradcli grad specs/quickstart.yaml --wrt a --format json
    """
    from gradcli.cli.results import grad_result
    from gradcli.cli.support import build_problem, emit, parse_direction

    if points or scheduler or workers:
        from gradcli.cli.commands.derivatives import budget
        from gradcli.cli.points import Job, run_command

        if cotangents:
            raise SpecError("--cotangent and --points do not combine: a points sweep weights "
                            "every point by one", "--cotangent")
        job = Job("grad", tuple(outputs) or None, tuple(wrt) or None, order,
                  chunk_size=chunk_size, max_memory=budget(max_memory), out=out, fmt=fmt,
                  precision=precision, check_finite=check_finite, unconnected=unconnected,
                  scheduler=scheduler, workers=workers)
        if model is not None:
            raise SpecError("--model and --points do not combine: write a spec with "
                            "models: {model: {onnx: FILE}} and give it --points", "--model")
        return run_command(job, spec, expr, sets, dtype, max_elements, clock, points)
    problem = build_problem(spec, expr, sets, dtype, max_elements, clock, check_finite,
                            model=model)
    cot = dict(parse_direction(item, problem, "--cotangent", max_elements) for item in cotangents)
    chosen = problem.select_outputs(list(outputs) or None)
    grads = problem.grad(wrt=list(wrt) or None, order=order, cotangent=cot,
                         outputs=[name for name, _ in chosen])
    result = grad_result(problem, grads, chosen, order, bool(cot), unconnected)
    emit(result, fmt, out, precision, check_finite, clock, threshold, full)
