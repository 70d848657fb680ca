"""`gradcli params`: every parameter of a spec's models, and its export."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from gradcli.cli.options import command, complete_set, complete_spec
from gradcli.render.params import FORMATS

if TYPE_CHECKING:
    from gradcli.engine.timings import Clock


@command("params")
@click.argument("spec", type=click.Path(dir_okay=False), shell_complete=complete_spec)
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Only this model's parameters (repeatable; default: every model).")
@click.option("--values", is_flag=True,
              help="Print the arrays too (text, json, yaml); npz always holds them.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", shell_complete=complete_set,
              help="Override or define an input: a YAML literal, or @file.npy.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default=None,
              help="Float dtype of the parameters (default: the spec's, else float64).")
@click.option("--max-elements", type=click.IntRange(min=1), default=None,
              help="Refuse arrays larger than this many elements (default 50,000,000).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
              show_default=True, help="text/csv: a table; json/yaml: a document; npz: the "
                                      "arrays keyed by name, loadable back as weights:.")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Write to FILE (atomically) instead of stdout.")
@click.option("--precision", type=click.IntRange(1, 17), default=None,
              help="Significant digits of --values in text output.")
def params_command(spec: str, models: tuple[str, ...], values: bool, sets: tuple[str, ...],
                   dtype: str | None, max_elements: int | None, fmt: str, out: str | None,
                   precision: int | None, clock: Clock) -> None:
    """List every parameter of the spec's models: name, shape, dtype,
    whether it is trainable, and where its values come from (an
    initializer and seed, or a weights file).  `--format npz -o FILE`
    exports them, keyed by name, as a file `weights:` loads back.

    Example: gradcli params specs/small-cnn.yaml --format npz -o weights.npz
    """
    from gradcli.cli.support import build_problem
    from gradcli.errors import SpecError, suggest
    from gradcli.render import write_atomic
    from gradcli.render.params import ParamRow, ParamTable, render_params

    if fmt == "npz" and not out:
        raise SpecError("--format npz is binary: write it with -o FILE", "--format")
    problem = build_problem(spec, None, sets, dtype, max_elements, clock)
    for name in models:
        if name not in problem.spec.models:
            raise SpecError(f"unknown model '{name}'{suggest(name, problem.spec.models)}; "
                            f"models: {', '.join(problem.spec.models) or '(none)'}", "--model")
    rows = tuple(ParamRow(p.name, p.model, p.shape, p.dtype, p.trainable, p.source, p.origin,
                          p.value)
                 for p in problem.parameters() if not models or p.model in models)
    table = ParamTable(rows, problem.spec.dtype, values)
    with clock.phase("render"):
        data = render_params(table, fmt, precision)
    never = sorted({r.model for r in rows if r.value is None})
    if never:
        left = " (left out of the export)" if fmt == "npz" else ""
        click.echo(f"gradcli: note: {', '.join(never)} never called in an expression: the "
                   f"input width, and so some shapes, are unknown{left}", err=True)
    if out:
        write_atomic(out, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
