"""What every command does around the engine: build the Problem from the
spec or -e, parse --set/--cotangent values, render and write the result.

Everything a helper needs comes in as an argument (the command's clock, its
--check-finite flag): nothing is read from click's context."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from gradcli.cli.options import THRESHOLD
from gradcli.engine.timings import Clock
from gradcli.errors import Location, NumericFault, SpecError
from gradcli.language.limits import MAX_ELEMENTS


def build_problem(spec: str | None, expr: str | None, sets: Sequence[str], dtype: str | None,
                  max_elements: int | None, clock: Clock, check_finite: bool = False,
                  model: str | None = None, extra: Mapping[str, Any] | None = None) -> Any:
    """The Problem of a command, timed on the command's `clock`; with
    `check_finite` (--check-finite) it evaluates with per-step checks (exit
    3 naming where a NaN arose); `model` (--model [NAME=]FILE) calls a model
    file without a spec (language/modelcall.py); `extra` defines inputs
    besides --set (the inputs a --points file gives to -e)."""
    from gradcli.api import Problem
    from gradcli.cli.entry import pause
    from gradcli.language.specfile import from_document, load_file
    from gradcli.language.yamldoc import Document

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
        for name, value in (extra or {}).items():
            if name in overrides:
                raise SpecError(f"'{name}' is given by both --set and --points", "--points")
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


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def emit(result: Any, fmt: str, out: str | None, precision: int | None,
         check_finite: bool, clock: Clock, threshold: int = THRESHOLD,
         full: bool = False) -> None:
    """Write the result to stdout (no `out`, or `-`) or atomically to `out`,
    as it is rendered (memory O(chunk)); nothing is written when the result
    cannot be (--check-finite, npy of several arrays, binary to a terminal).
    Its notes and warnings follow on stderr, so a failure (--check-finite,
    a full disk) is always the first line."""
    from gradcli.cli.entry import pause_at
    from gradcli.cli.progress import progress_bar
    from gradcli.render import BINARY_FORMATS, atomic_output, check, write

    bad = [entry for entry in result.entries if entry.value is not None
           and np.asarray(entry.value).dtype.kind == "f"
           and not np.all(np.isfinite(entry.value))]
    names = ", ".join(".".join(e.path) for e in bad)
    if bad and check_finite:
        raise NumericFault(f"non-finite values (NaN or inf) in {names}")
    summary = None if full else threshold
    check(result, fmt, precision, summary)
    to_stdout = out in (None, "-")
    if fmt in BINARY_FORMATS and to_stdout and (out is None or sys.stdout.isatty()):
        raise SpecError(f"--format {fmt} is binary: write it with -o FILE (or -o - into a pipe)",
                        "--format")
    terminal = out is None and _stdout_is_terminal()
    color = fmt == "text" and terminal and "NO_COLOR" not in os.environ
    if terminal and not full:
        _hint_large(result, fmt, threshold)
    with clock.phase("render and write"), progress_bar("writing") as bar:
        if out and not to_stdout:
            with atomic_output(out, "--out", pause_at("write")) as stream:
                write(result, fmt, stream, precision, color, summary, bar)
        else:
            write(result, fmt, sys.stdout.buffer, precision, color, summary, bar)
            sys.stdout.flush()
    for note in result.notes:
        click.echo(f"gradcli: note: {note}", err=True)
    if bad:
        click.echo(f"gradcli: warning: non-finite values (NaN or inf) in {names}", err=True)


def _hint_large(result: Any, fmt: str, threshold: int) -> None:
    """One line on stderr when a result too large to read goes to a terminal."""
    sizes = [(int(np.size(e.value)), ".".join(e.path)) for e in result.entries
             if e.value is not None]
    size, name = max(sizes, default=(0, ""))
    if size <= threshold:
        return
    shown = " (text shows a summary; --full prints all)" if fmt == "text" else ""
    click.echo(f"gradcli: hint: {name} has {size:,} elements{shown}; to keep them, write a "
               "file: -o FILE --format npz", err=True)


def parse_direction(item: str, problem: Any, option: str,
                    max_elements: int | None) -> tuple[str, np.ndarray]:
    """`--tangent NAME=VALUE` / `--cotangent OUT=VALUE`: a value as in --set,
    constant expressions evaluated."""
    name, value = parse_set(item, problem.spec, max_elements or MAX_ELEMENTS, option)
    if not isinstance(value, np.ndarray):
        value = problem.constant_value(value)
    return name, value
