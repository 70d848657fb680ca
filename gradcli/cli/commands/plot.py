"""`gradcli plot`: outputs and their derivatives along one swept input."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gradcli.cli.options import command, complete_over, out_option, problem_options, write_out
from gradcli.errors import SpecError

if TYPE_CHECKING:
    from gradcli.engine.sweep import Over
    from gradcli.engine.timings import Clock

SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
SUFFIX_FORMATS = {".png": "png", ".svg": "svg", ".csv": "csv"}


def parse_size(text: str) -> tuple[int, int]:
    """`800x500` -> (800, 500) pixels."""
    match = SIZE.match(text)
    if not match:
        raise SpecError(f"--size takes WIDTHxHEIGHT in pixels, like 800x500, not '{text}'",
                        "--size")
    width, height = int(match.group(1)), int(match.group(2))
    if not (50 <= width <= 10000 and 50 <= height <= 10000):
        raise SpecError("--size: width and height must be between 50 and 10000 pixels",
                        "--size")
    return width, height


def parse_over(text: str, problem: Any) -> Over:
    """`x=-3:3:201`; bounds may be constant expressions (`x=-pi:pi`)."""
    from gradcli.engine.sweep import DEFAULT_POINTS, MAX_POINTS, Over
    from gradcli.errors import Location
    from gradcli.language.specfile import ConstExpr

    source, sep, bounds = text.partition("=")
    parts = bounds.split(":")
    if not sep or not source.strip() or len(parts) not in (2, 3):
        raise SpecError(f"--over needs SOURCE=START:STOP[:POINTS], like x=-3:3:201; got "
                        f"'{text}'", "--over")
    where = Location("--over", 1, len(source) + 2)
    try:
        start, stop = (float(problem.constant_value(ConstExpr(p, where)))
                       for p in parts[:2])
    except (SpecError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, SpecError) else str(exc)
        raise SpecError(f"--over {text}: the bounds must be numbers: {message}",
                        "--over") from None
    points = DEFAULT_POINTS
    if len(parts) == 3:
        if not parts[2].strip().isdigit():
            raise SpecError(f"--over {text}: POINTS must be a whole number, like 201",
                            "--over")
        points = int(parts[2])
    if not 2 <= points <= MAX_POINTS:
        raise SpecError(f"--over {text}: POINTS must be between 2 and {MAX_POINTS}", "--over")
    if not (math.isfinite(start) and math.isfinite(stop)) or start == stop:
        raise SpecError(f"--over {text}: START and STOP must be finite and different",
                        "--over")
    return Over(source.strip(), start, stop, points)


def pick_format(fmt: str | None, out: str | None) -> str:
    """--format if given, else the suffix of -o (plot.svg), else png."""
    if fmt:
        return fmt
    return SUFFIX_FORMATS.get(Path(out).suffix.lower(), "png") if out else "png"


@command("plot")
@problem_options
@click.option("--over", required=True, metavar="SOURCE=START:STOP[:POINTS]",
              shell_complete=complete_over,
              help="The swept input (a single number, or one component like 'inp[0,0]') "
                   "and its range; POINTS defaults to 201; bounds may be like -pi.")
@click.option("--order", type=click.IntRange(min=0), default=1, show_default=True,
              help="Draw the derivatives d^k/dx^k for k = 1..ORDER beside the function.")
@out_option("Write to FILE (atomically); png and svg need it on a terminal; - is "
            "stdout.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "csv"]), default=None,
              help="png, svg or csv (the points; no matplotlib needed). Default: from the "
                   "suffix of -o, else png.")
@click.option("--size", default="800x500", show_default=True, metavar="WxH",
              help="Figure size in pixels.")
@click.option("--dpi", type=click.IntRange(10, 1200), default=100, show_default=True,
              help="Dots per inch (text size relative to the figure).")
@click.option("--stacked", is_flag=True,
              help="One panel per derivative order, sharing the x axis.")
def plot_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                 outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                 over: str, order: int, out: str | None, fmt: str | None, size: str,
                 dpi: int, stacked: bool, clock: Clock) -> None:
    """Plot the outputs as functions of one swept input, with their
    derivatives up to --order, on one figure.  Every other input keeps its
    value.  Needs matplotlib for png/svg: pip install 'gradcli[plot]'.

    Example: gradcli plot -e 'tanh(x)' --over x=-3:3:201 --order 2 -o tanh.png
    """
    from gradcli.cli.support import build_problem
    from gradcli.render import plot

    fmt = pick_format(fmt, out)
    pixels = parse_size(size)
    if fmt != "csv":
        plot.require_matplotlib()  # before any work: the install hint comes first
        if out in (None, "-") and sys.stdout.isatty():
            raise SpecError(f"a {fmt} figure is binary: write it with -o FILE", "--out")
    swept = over.partition("=")[0].strip()
    if expr is not None and swept.isidentifier() and \
            not any(item.partition("=")[0].strip() == swept for item in sets):
        sets = (*sets, f"{swept}=0.0")  # -e: the swept input needs no --set of its own
    problem = build_problem(spec, expr, sets, dtype, max_elements, clock,
                            model=model)
    curves = problem.sweep(parse_over(over, problem), order, list(outputs) or None)
    if fmt == "csv":
        data = plot.render_csv(curves)
    else:
        data = plot.render_figure(curves, fmt, pixels, dpi, stacked)
    write_out(data, out)
    for note in curves.notes:  # after the result: an error is always the first line
        click.echo(f"gradcli: note: {note}", err=True)
