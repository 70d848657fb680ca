"""`gradcli ops` and `gradcli schema`: the reference, printed from the code.

Both read the tables the engine itself uses (the catalogue, the op table,
the loader's keys), so what they print is what gradcli does.
"""

from __future__ import annotations

import os
import sys

import click

from gradcli.cli.options import command, out_option, write_out


def _write(text: str, out: str | None) -> None:
    write_out(text.encode("utf-8"), out)


@command("ops")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="text for the terminal, markdown (docs/ops.md), json for tools.")
@click.option("--primitives/--no-primitives", default=True, show_default=True,
              help="Also list the primitives of the op table (the graph's nodes).")
@out_option()
def ops_command(names: tuple[str, ...], fmt: str, primitives: bool, out: str | None) -> None:
    """List the functions of the expression language: signature, one-line
    description and the convention at kinks (relu'(0), ties in max, ...).
    With NAMEs, only those functions and primitives.

    Example: gradcli ops relu max softplus
    """
    from gradcli.errors import SpecError
    from gradcli.language.reference import (
        catalogue_entries,
        primitive_entries,
        render_json,
        render_markdown,
        render_text,
        select,
    )

    if fmt == "markdown":
        if names or not primitives:
            raise SpecError("--format markdown prints the whole reference (docs/ops.md); "
                            "drop the NAMEs and --no-primitives", "--format")
        _write(render_markdown(), out)
        return
    functions, prims = catalogue_entries(), primitive_entries() if primitives else []
    if names:
        select([*functions, *prims], names)  # an unknown name: an error with a suggestion
        functions = [e for e in functions if e.name in names]
        prims = [p for p in prims if p.name in names]
    if fmt == "json":
        _write(render_json(functions, prims), out)
    else:
        color = out is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        _write(render_text(functions, prims, syntax=not names, color=color), out)


@command("schema")
@out_option()
def schema_command(out: str | None) -> None:
    """Print a JSON Schema (draft 2020-12) of the spec file, for editors
    that validate and complete YAML (VS Code YAML, ...): see docs/spec.md.

    Example: gradcli schema -o spec.schema.json
    """
    from gradcli.language.schema import render

    _write(render(), out)
