"""The command line: options -> api -> render.  No math lives here."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from gradcli import __version__
from gradcli.cli_options import derivative_options, output_options, problem_options
from gradcli.errors import EXIT_BUG, GradcliError, Location, NumericFault, SpecError
from gradcli.spec.inputs import MAX_ELEMENTS


def build_problem(spec: str | None, expr: str | None, sets: Sequence[str], dtype: str | None,
                  max_elements: int | None) -> Any:
    from gradcli.api import Problem
    from gradcli.spec.load import from_document, load_file
    from gradcli.spec.yamlread import Document

    limit = max_elements or MAX_ELEMENTS
    if spec and expr:
        raise SpecError("give either a SPEC file or -e/--expr, not both", "--expr")
    if expr is not None:
        where = Location("--expr", 1, 1)
        doc = Document({"outputs": {"y": expr}}, "--expr", {("outputs", "y"): where})
        loaded = from_document(doc, Path.cwd(), dtype, limit)
    elif spec:
        loaded = load_file(spec, dtype=dtype, limit=limit)
    else:
        raise SpecError("give a SPEC file or an expression with -e", "SPEC")
    overrides = {}
    for item in sets:
        name, value = parse_set(item, loaded, limit)
        overrides[name] = value
    return Problem(loaded, overrides)


def parse_set(item: str, spec: Any, limit: int) -> tuple[str, Any]:
    import yaml

    from gradcli.spec.inputs import load_array_file
    from gradcli.spec.load import check_name, input_value

    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep:
        raise SpecError(f"--set needs NAME=VALUE, got '{item}'", "--set")
    check_name(name, Location("--set", 1, 1), "input")
    if text.startswith("@"):
        array = load_array_file(Path(text[1:]), None, "--set")
        return name, array.astype(spec.dtype) if array.dtype.kind == "f" else array
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"--set {name}: not a YAML value: {exc}", "--set") from None
    previous = spec.inputs.get(name)
    dtype = str(previous.dtype) if isinstance(previous, np.ndarray) else spec.dtype
    where = Location("--set", 1, len(name) + 2)
    try:
        return name, input_value(value, dtype, Path.cwd(), where, limit)
    except SpecError as exc:
        raise SpecError(f"--set {name}: {exc.message}", "--set") from None


def emit(result: Any, fmt: str, out: str | None, precision: int | None,
         check_finite: bool) -> None:
    from gradcli.render import render, write_atomic

    bad = [entry for entry in result.entries if entry.value is not None
           and np.asarray(entry.value).dtype.kind == "f"
           and not np.all(np.isfinite(entry.value))]
    names = ", ".join(".".join(e.path) for e in bad)
    if bad and check_finite:
        raise NumericFault(f"non-finite values (NaN or inf) in {names}")
    color = fmt == "text" and out is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    data = render(result, fmt, precision=precision, color=color)
    if out:
        write_atomic(out, data)
    elif fmt == "npz":
        raise SpecError("--format npz is binary: write it with -o FILE", "--format")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if bad:
        click.echo(f"gradcli: warning: non-finite values (NaN or inf) in {names}", err=True)


class GradcliGroup(click.Group):
    """Turns user errors into `gradcli: error: ...` and an exit code, and any
    other exception into one line saying it is a bug (exit 70)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GradcliError as exc:
            click.echo(f"gradcli: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            ctx.exit(0)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if ctx.params.get("debug") or os.environ.get("GRADCLI_DEBUG"):
                traceback.print_exc()
            click.echo(f"gradcli: internal error (a bug in gradcli, please report it): "
                       f"{type(exc).__name__}: {exc}; rerun with --debug for the traceback",
                       err=True)
            ctx.exit(EXIT_BUG)


@click.group(cls=GradcliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcli")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
def cli(debug: bool) -> None:
    """Values, gradients, Jacobians and Hessians of YAML specs.

    Example: gradcli grad specs/quickstart.yaml
    """


@cli.command("eval")
@problem_options
@output_options
def eval_command(spec: str | None, expr: str | None, sets: tuple[str, ...],
                 outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                 fmt: str, out: str | None, precision: int | None, check_finite: bool) -> None:
    """Print the values of the outputs.

    Example: gradcli eval -e 'sin(x) * 2' --set x=0.5
    """
    from gradcli.results import eval_result

    problem = build_problem(spec, expr, sets, dtype, max_elements)
    emit(eval_result(problem, list(outputs)), fmt, out, precision, check_finite)


@cli.command("grad")
@problem_options
@derivative_options
@click.option("--order", type=click.IntRange(min=1), default=1, show_default=True,
              help="N-th nested gradient: each step differentiates the sum of the previous.")
@click.option("--cotangent", "cotangents", multiple=True, metavar="OUT=VALUE",
              help="Weight output OUT by VALUE (vector-Jacobian product; TF output_gradients).")
@output_options
def grad_command(spec: str | None, expr: str | None, sets: tuple[str, ...],
                 outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                 wrt: tuple[str, ...], unconnected: str, order: int,
                 cotangents: tuple[str, ...], fmt: str, out: str | None,
                 precision: int | None, check_finite: bool) -> None:
    """Print d(sum of the outputs)/d(source) for every source.

    Example: gradcli grad specs/quickstart.yaml --wrt a --format json
    """
    from gradcli.results import grad_result

    problem = build_problem(spec, expr, sets, dtype, max_elements)
    cot = dict(parse_cotangent(item, problem, max_elements) for item in cotangents)
    result = grad_result(problem, list(wrt) or None, order, cot, list(outputs), unconnected)
    emit(result, fmt, out, precision, check_finite)


def parse_cotangent(item: str, problem: Any, max_elements: int | None) -> tuple[str, Any]:
    name, sep, _ = item.partition("=")
    if not sep:
        raise SpecError(f"--cotangent needs OUT=VALUE, got '{item}'", "--cotangent")
    _, value = parse_set(item, problem.spec, max_elements or MAX_ELEMENTS)
    if not isinstance(value, np.ndarray):
        value = problem.constant_value(value)
    return name.strip(), value


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: click's own usage errors get our prefix and exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="gradcli", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"gradcli: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("gradcli: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
