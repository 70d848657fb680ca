"""`gradcli check`, `gradcli symbolic` and `gradcli graph`: the symbolic side.

sympy is imported only inside `check` and `symbolic` (through the modules
they call), never at import time, so `gradcli grad` starts without it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from gradcli.cli.options import (
    OutputFile,
    Tolerance,
    command,
    complete_spec,
    complete_wrt,
    out_option,
    problem_options,
    write_out,
)
from gradcli.errors import EXIT_MISMATCH, EXIT_USAGE, SpecError, one_line

if TYPE_CHECKING:
    from gradcli.engine.timings import Clock

GLOB_CHARS = set("*?[")


def _write(data: bytes, out: str | None) -> None:
    write_out(data, out)


def expand_specs(patterns: tuple[str, ...]) -> list[str]:
    """Paths and globs (quoted globs are expanded here, as a shell would),
    in order, each file once."""
    import glob

    paths: list[str] = []
    for pattern in patterns:
        if GLOB_CHARS & set(pattern):
            found = sorted(glob.glob(pattern))
            if not found:
                raise SpecError(f"no spec file matches '{pattern}'", "SPEC")
            paths += found
        else:
            paths.append(pattern)
    return list(dict.fromkeys(paths))


@command("check")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...",
                shell_complete=complete_spec)
@click.option("--what", metavar="KINDS",
              help="Comma-separated: value,grad,orders,jacobian,hessian (default: what "
                   "expect: names, plus the gradient of every source).")
@click.option("--wrt", multiple=True, metavar="SOURCE", shell_complete=complete_wrt,
              help="Check exactly these sources (repeatable): an input, a let name, a "
                   "component like 'h[0]', a model or a parameter; replaces the spec's wrt: "
                   "and leaves out expect: entries of other sources.")
@click.option("--method", "methods", multiple=True,
              type=click.Choice(["sympy", "fd", "expect"]),
              help="Only these methods (repeatable; default: all three).")
@click.option("--rtol", type=Tolerance(), default=None,
              help="Relative tolerance (default: the spec's expect: rtol, else 1e-7 for "
                   "float64 and 1e-5 for float32).")
@click.option("--atol", type=Tolerance(), default=None,
              help="Absolute tolerance (default: expect: atol, else 1e-10 for float64 and "
                   "1e-6 for float32).")
@click.option("--max-symbolic", type=click.IntRange(min=1), default=64, show_default=True,
              help="Components per quantity compared symbolically; beyond, a fixed random "
                   "sample (reported).")
@click.option("--sympy-seconds", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True,
              help="CPU seconds of sympy work per quantity (the spec gets 6 times as much); "
                   "past it, the rest is reported as SKIPPED.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default=None,
              help="Check the engine in this dtype (references stay float64).")
@click.option("--junit", type=OutputFile("--junit", stdout=False), default=None,
              help="Also write a JUnit XML report to FILE.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.pass_context
def check_command(ctx: click.Context, specs: tuple[str, ...], what: str | None,
                  wrt: tuple[str, ...], methods: tuple[str, ...], rtol: float | None,
                  atol: float | None, max_symbolic: int, sympy_seconds: float,
                  dtype: str | None, junit: str | None, fmt: str) -> None:
    """Check every derivative of each SPEC three ways: sympy, finite
    differences and the spec's expect: block.  The references are the spec
    as written (float64, no rewrite rules), never the engine's derivative
    programs.  Exit 0 when all pass, 1 on a mismatch, 2 on a bad spec.

    Example: gradcli check 'specs/*.yaml' --junit report.xml
    """
    from gradcli.render.checks import render_check_json, render_check_text
    from gradcli.render.junit import render_junit
    from gradcli.verify.check import METHODS, Options, check_file, parse_what

    options = Options(parse_what(what), rtol, atol, max_symbolic, methods or METHODS,
                      tuple(wrt) or None, sympy_seconds)
    start = time.perf_counter()
    from gradcli.cli.progress import progress_bar

    paths = expand_specs(specs)
    reports = []
    with progress_bar("check") as bar:  # drawn only when stderr is a terminal
        for done, path in enumerate(paths, start=1):
            reports.append(check_file(path, options, dtype))
            bar(done, len(paths))
    seconds = time.perf_counter() - start
    render = render_check_json if fmt == "json" else render_check_text
    _write(render(reports, seconds), None)
    if junit:
        write_out(render_junit(reports, seconds), junit, "--junit")
    for report in reports:
        if report.error is not None:
            click.echo(f"gradcli: error: {one_line(report.error)}", err=True)
        elif report.status == "FAIL":
            failed = ", ".join(f"{r.quantity} [{r.method}]" for r in report.rows
                               if r.status == "FAIL")
            click.echo(f"gradcli: check failed: {report.file}: {failed}", err=True)
    if any(r.error is not None for r in reports):
        ctx.exit(EXIT_USAGE)
    if any(r.status == "FAIL" for r in reports):
        ctx.exit(EXIT_MISMATCH)


@command("symbolic")
@problem_options
@click.option("--wrt", multiple=True, metavar="SOURCE", shell_complete=complete_wrt,
              help="Source: input, let name or component like 'a[0,1]' (repeatable).")
@click.option("--latex", is_flag=True, help="Print the closed forms as LaTeX.")
@click.option("--max-symbolic", type=click.IntRange(min=1), default=64, show_default=True,
              help="Components per source printed; beyond, a fixed random sample (stated).")
@click.option("--no-cse", is_flag=True, help="Do not share common subexpressions.")
@click.option("--sympy-seconds", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True,
              help="CPU seconds of sympy work per source (the spec gets 6 times as much); "
                   "past it, the rest is reported as SKIPPED.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@out_option()
def symbolic_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                     outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                     wrt: tuple[str, ...], latex: bool, max_symbolic: int, no_cse: bool,
                     sympy_seconds: float, fmt: str, out: str | None, clock: Clock) -> None:
    """Closed-form derivatives of the sum of the outputs (sympy), element by
    element, plus the matrix form read off the simplified gradient program.

    Example: gradcli symbolic specs/symbolic-gradient-sin-matmul.yaml --wrt a
    """
    from gradcli.cli.support import build_problem
    from gradcli.engine.programs import grad_program
    from gradcli.engine.sources import target_text
    from gradcli.render.checks import render_symbolic_json, render_symbolic_text
    from gradcli.render.expression import expressions, temp_prefix
    from gradcli.verify.closed_forms import SymbolicReport, closed_forms, latex_names
    from gradcli.verify.symbolic import element_label

    problem = build_problem(spec, expr, sets, dtype, max_elements, clock,
                            model=model)
    chosen = problem.select_outputs(list(outputs) or None)
    sources = problem.sources(list(wrt) or None)
    prefix = temp_prefix(problem.named)
    forms = closed_forms(problem, sources, chosen, max_symbolic, not no_cse, prefix,
                         sympy_seconds)
    for form in forms:
        if form.skipped is not None:
            click.echo(f"gradcli: note: symbolic: {form.source}: SKIPPED {form.skipped}",
                       err=True)
    program = grad_program(problem, list(wrt) or None, [n for n, _ in chosen])
    matrices, notes = [], []
    for (_, key), _, node in program.results:
        if node is None:
            reason = problem.explain(key, [n for n, _ in chosen])
            notes.append(f"gradcli: note: {key} is unconnected: {reason}")
            matrices.append(((), None))
            continue
        lets, (text,) = expressions([node], program.names, prefix)
        matrices.append((tuple(lets), text))
    floats = [(n, node) for n, node in problem.leaves.items() if node.is_float]
    example = element_label(floats[0][0], (0,) * floats[0][1].ndim) if floats else "x"
    summary = (f"symbolic: closed forms (sympy) of d({target_text(chosen)})/d(source), one per "
               f"component; symbols are the components of the float inputs "
               f"({', '.join(n for n, _ in floats)}), like {example}",)
    report = SymbolicReport(summary, tuple(forms), tuple(t for _, t, _ in program.results),
                            tuple(matrices), latex_names(forms) if latex else {})
    render = render_symbolic_json if fmt == "json" else render_symbolic_text
    _write(render(report, latex), out)
    for note in notes:  # after the result: an error is always the first line
        click.echo(note, err=True)


@command("graph")
@problem_options
@click.option("--wrt", multiple=True, metavar="SOURCE", shell_complete=complete_wrt,
              help="Source for --grad/--hessian (repeatable; default: the spec's wrt).")
@click.option("--grad", "want_grad", is_flag=True,
              help="Print the gradient program (reverse mode) instead of the forward one.")
@click.option("--hessian", "want_hessian", is_flag=True,
              help="Print the Hessian program (forward-over-reverse: Hessian times tangent).")
@click.option("--order", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --grad: the program of the N-th nested gradient.")
@click.option("--no-simplify", is_flag=True,
              help="Print the program as built, without simplification.")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "mermaid", "json"]),
              default="text", show_default=True, help="Output format.")
@out_option()
def graph_command(spec: str | None, expr: str | None, model: str | None,
        sets: tuple[str, ...],
                  outputs: tuple[str, ...], dtype: str | None, max_elements: int | None,
                  wrt: tuple[str, ...], want_grad: bool, want_hessian: bool, order: int,
                  no_simplify: bool, fmt: str, out: str | None, clock: Clock) -> None:
    """Print the forward program, or with --grad/--hessian the derivative
    program (derivative nodes named like grad/sin/mul).

    Example: gradcli graph specs/symbolic-gradient-sin-matmul.yaml --grad
    """
    from gradcli.cli.support import build_problem
    from gradcli.engine.programs import forward_program, grad_program, hessian_program
    from gradcli.render.graphs import RENDERERS

    if want_grad and want_hessian:
        raise SpecError("give --grad or --hessian, not both", "--hessian")
    if order != 1 and not want_grad:
        raise SpecError("--order applies to --grad only", "--order")
    problem = build_problem(spec, expr, sets, dtype, max_elements, clock,
                            model=model)
    chosen = list(outputs) or None
    if want_grad:
        program = grad_program(problem, list(wrt) or None, chosen, order, not no_simplify)
    elif want_hessian:
        program = hessian_program(problem, list(wrt) or None, chosen, not no_simplify)
    else:
        if wrt:
            raise SpecError("--wrt applies to --grad and --hessian", "--wrt")
        program = forward_program(problem, chosen, not no_simplify)
    _write(RENDERERS[fmt](program), out)
