"""What every command does around the engine: build the Problem from the
spec or -e, parse --set/--cotangent values, render and write the result.

Everything a helper needs comes in as an argument (the command's clock, its
--check-finite flag): nothing is read from click's context."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from gradcli.engine.timings import Clock
from gradcli.errors import Location, NumericFault, SpecError
from gradcli.language.limits import MAX_ELEMENTS


def build_problem(spec: str | None, expr: str | None, sets: Sequence[str], dtype: str | None,
                  max_elements: int | None, clock: Clock, check_finite: bool = False) -> Any:
    """The Problem of a command, timed on the command's `clock`; with
    `check_finite` (--check-finite) it evaluates with per-step checks (exit
    3 naming where a NaN arose)."""
    from gradcli.api import Problem
    from gradcli.language.specfile import from_document, load_file
    from gradcli.language.yamlread import Document

    limit = max_elements or MAX_ELEMENTS
    if spec and expr:
        raise SpecError("give either a SPEC file or -e/--expr, not both", "--expr")
    with clock.phase("load (read, parse, validate)"):
        if expr is not None:
            where = Location("--expr", 1, 1)
            # The output is always y, also beside an input y (`-e 'x * y' --set y=2`):
            # Problem keeps outputs and inputs apart (see `Problem.select_outputs`).
            doc = Document({"outputs": {"y": expr}}, "--expr", {("outputs", "y"): where})
            loaded = from_document(doc, Path.cwd(), dtype, limit)
        elif spec:
            loaded = load_file(spec, dtype=dtype, limit=limit)
        else:
            raise SpecError("give a SPEC file or an expression with -e", "SPEC")
        overrides = {}
        for item in sets:
            name, value = parse_set(item, loaded, limit)
            if expr is None:
                _check_settable(name, loaded)
            overrides[name] = value
    with clock.phase("build (forward graph)"):
        problem = Problem(loaded, overrides, max_elements=limit, check_finite=check_finite,
                          clock=clock)
    _warn_unused(problem, overrides)
    return problem


def _check_settable(name: str, spec: Any) -> None:
    """--set replaces or defines inputs; a name a spec file gives to an output,
    a `let` or a model would make one name mean two things.  (-e's implicit
    output y is the exception: an input y beside it is allowed and kept apart.)"""
    kinds = [("an output", [e.name for e in spec.outputs]),
             ("a let name", [e.name for e in spec.lets]), ("a model", list(spec.models))]
    for what, names in kinds:
        if name in names:
            raise SpecError(f"'{name}' is {what} of the spec, not an input (--set replaces "
                            "or defines inputs)", "--set")


def _warn_unused(problem: Any, sets: Sequence[str]) -> None:
    """`--set alpah=1` defines a new input; when nothing uses it, it is
    almost surely a typo of an existing one."""
    from gradcli.engine.graph import toposort
    from gradcli.errors import suggest

    new = [name for name in sets if name not in problem.spec.inputs]
    if not new:
        return
    used = {n.attrs["name"] for n in toposort(list(problem.outputs.values()))
            if n.op == "input"}
    for name in new:
        if name not in used:
            click.echo(f"gradcli: warning: --set {name} defines an input that no expression "
                       f"uses{suggest(name, problem.spec.inputs)}", err=True)


def parse_set(item: str, spec: Any, limit: int, option: str = "--set") -> tuple[str, Any]:
    """NAME=VALUE of `--set` (and of `--tangent`/`--cotangent`, named by `option`):
    a YAML literal or mapping, a constant expression, or @file.npy."""
    from gradcli.language.inputs import load_array_file
    from gradcli.language.names import check_name
    from gradcli.language.specfile import input_value
    from gradcli.language.yamlread import read_yaml

    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep:
        raise SpecError(f"{option} needs NAME=VALUE, got '{item}'", option)
    check_name(name, Location(option, 1, 1), "input")
    if text.startswith("@"):
        array = load_array_file(Path(text[1:]), None, option, limit=limit)
        return name, array.astype(spec.dtype) if array.dtype.kind == "f" else array
    try:  # the spec file's reader: aliases and nesting bounded, tags refused
        value = read_yaml(text, option).data
    except SpecError as exc:
        raise SpecError(f"{option} {name}: not a YAML value: {exc.message}", option) from None
    previous = spec.inputs.get(name)
    dtype = str(previous.dtype) if isinstance(previous, np.ndarray) else spec.dtype
    where = Location(option, 1, len(name) + 2)
    try:
        return name, input_value(value, dtype, Path.cwd(), where, limit)
    except SpecError as exc:
        raise SpecError(f"{option} {name}: {exc.message}", option) from None


def emit(result: Any, fmt: str, out: str | None, precision: int | None,
         check_finite: bool, clock: Clock) -> None:
    from gradcli.render import render, write_atomic

    for note in result.notes:
        click.echo(f"gradcli: note: {note}", err=True)
    bad = [entry for entry in result.entries if entry.value is not None
           and np.asarray(entry.value).dtype.kind == "f"
           and not np.all(np.isfinite(entry.value))]
    names = ", ".join(".".join(e.path) for e in bad)
    if bad and check_finite:
        raise NumericFault(f"non-finite values (NaN or inf) in {names}")
    color = fmt == "text" and out is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    with clock.phase("render"):
        data = render(result, fmt, precision=precision, color=color)
    with clock.phase("write"):
        if out:
            write_atomic(out, data)
        elif fmt == "npz":
            raise SpecError("--format npz is binary: write it with -o FILE", "--format")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
    if bad:
        click.echo(f"gradcli: warning: non-finite values (NaN or inf) in {names}", err=True)


def parse_direction(item: str, problem: Any, option: str,
                    max_elements: int | None) -> tuple[str, np.ndarray]:
    """`--tangent NAME=VALUE` / `--cotangent OUT=VALUE`: a value as in --set,
    constant expressions evaluated."""
    name, value = parse_set(item, problem.spec, max_elements or MAX_ELEMENTS, option)
    if not isinstance(value, np.ndarray):
        value = problem.constant_value(value)
    return name, value
