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
                  max_elements: int | None, clock: Clock, check_finite: bool = False,
                  model: str | None = None) -> Any:
    """The Problem of a command, timed on the command's `clock`; with
    `check_finite` (--check-finite) it evaluates with per-step checks (exit
    3 naming where a NaN arose); `model` (--model [NAME=]FILE) calls a model
    file without a spec (language/modelcall.py)."""
    from gradcli.api import Problem
    from gradcli.cli.entry import pause
    from gradcli.language.specfile import from_document, load_file
    from gradcli.language.yamlread import Document

    limit = max_elements or MAX_ELEMENTS
    if spec and expr:
        raise SpecError("give either a SPEC file or -e/--expr, not both", "--expr")
    if spec and model:
        raise SpecError("give either a SPEC file or --model, not both (a spec names its "
                        "model files in models:)", "--model")
    with clock.phase("load (read, parse, validate)"):
        if model is not None:
            from gradcli.language.modelcall import model_spec_file

            names = [item.partition("=")[0].strip() for item in sets]
            loaded = model_spec_file(model, expr, names, dtype, limit)
        elif expr is not None:
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
            if expr is None and model is None:
                _check_settable(name, loaded)
            overrides[name] = value
    with clock.phase("build (forward graph)"):
        problem = Problem(loaded, overrides, max_elements=limit, check_finite=check_finite,
                          clock=clock)
    _warn_unused(problem, overrides)
    pause("compute")  # the test hook of gradcli/cli/entry.py; nothing otherwise
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
    import yaml

    from gradcli.language.inputs import load_array_file
    from gradcli.language.names import check_name
    from gradcli.language.specfile import input_value

    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep:
        raise SpecError(f"{option} needs NAME=VALUE, got '{item}'", option)
    check_name(name, Location(option, 1, 1), "input")
    if text.startswith("@"):
        array = load_array_file(Path(text[1:]), None, option, limit=limit)
        return name, array.astype(spec.dtype) if array.dtype.kind == "f" else array
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise SpecError(f"{option} {name}: not a YAML value: {problem}", option) from None
    except (ValueError, RecursionError) as exc:  # 5000 digits; 30,000 nested brackets
        problem = "nested too deeply" if isinstance(exc, RecursionError) else (
            "a number has more digits than Python converts (4300)" if "digits" in str(exc)
            else str(exc))
        raise SpecError(f"{option} {name}: not a YAML value: {problem}", option) from None
    previous = spec.inputs.get(name)
    dtype = str(previous.dtype) if isinstance(previous, np.ndarray) else spec.dtype
    where = Location(option, 1, len(name) + 2)
    try:
        return name, input_value(value, dtype, Path.cwd(), where, limit)
    except SpecError as exc:
        raise SpecError(f"{option} {name}: {exc.message}", option) from None


def emit(result: Any, fmt: str, out: str | None, precision: int | None,
         check_finite: bool, clock: Clock) -> None:
    """Render and write a result; its notes and warnings follow on stderr,
    so a failure (--check-finite, a full disk) is always the first line."""
    from gradcli.cli.entry import pause_at
    from gradcli.cli.options import write_out
    from gradcli.render import render

    bad = [entry for entry in result.entries if entry.value is not None
           and np.asarray(entry.value).dtype.kind == "f"
           and not np.all(np.isfinite(entry.value))]
    names = ", ".join(".".join(e.path) for e in bad)
    if bad and check_finite:
        raise NumericFault(f"non-finite values (NaN or inf) in {names}")
    to_stdout = out in (None, "-")
    if fmt == "npz" and to_stdout and (out is None or sys.stdout.isatty()):
        raise SpecError("--format npz is binary: write it with -o FILE (or -o - into a pipe)",
                        "--format")
    color = fmt == "text" and out is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    with clock.phase("render"):
        data = render(result, fmt, precision=precision, color=color)
    with clock.phase("write"):
        write_out(data, out, "--out", pause_at("write"))
    for note in result.notes:
        click.echo(f"gradcli: note: {note}", err=True)
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
