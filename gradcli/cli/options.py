"""Option bundles shared by the commands, as decorators (one place each),
and `command`, which builds every gradcli command with `--timings`."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import click

from gradcli.engine.timings import Clock

FORMATS = ("text", "json", "yaml", "csv", "npz", "npy")  # render.ALL_FORMATS
THRESHOLD = 1000  # render.DEFAULT_THRESHOLD (numpy's), without importing numpy here
Complete = Callable[[click.Context, click.Parameter, str], list[Any]]


def _on_tab(name: str) -> Complete:
    """A shell_complete callback of completion.py, imported only when the
    shell asks (a Tab press), not on every command's start."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from gradcli.cli import completion  # lazy-for-speed: only a Tab press needs it

        return getattr(completion, name)(ctx, param, incomplete)

    complete.__name__ = name
    return complete


complete_spec, complete_wrt, complete_set, complete_over = (
    _on_tab(n) for n in ("complete_spec", "complete_wrt", "complete_set", "complete_over"))


class OutputFile(click.ParamType):
    """An output path (-o/--out, --junit), checked when the command line is
    read, so a bad one is refused before any work and names its option:
    a regular file or a new name in a writable folder, never a device, FIFO,
    socket, folder or /dev/stdout (render/atomic.py `check_target`).  With
    `stdout`, `-` means standard output."""

    name = "file"

    def __init__(self, option: str, stdout: bool = True) -> None:
        self.option, self.stdout = option, stdout

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = value if isinstance(value, str) else str(value)
        if text == "-":
            if self.stdout:
                return text
            from gradcli.errors import SpecError

            raise SpecError(f"stdout carries the command's own report; give {self.option} a "
                            "file name, not -", self.option)
        from gradcli.render import check_target

        check_target(text, self.option)  # SpecError: exit 2 by the group, before any work
        return text


class Tolerance(click.ParamType):
    """--rtol/--atol: a finite number >= 0, as `expect:` rtol/atol (tolerances.py)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        from gradcli.language.tolerances import tolerance_error

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        reason = tolerance_error(number)
        if reason:
            self.fail(reason, param, ctx)
        return number


def out_option(help: str = "Write to FILE (atomically) instead of stdout; - is stdout.",
               ) -> Callable[[Any], Any]:
    return click.option("-o", "--out", type=OutputFile("--out"), metavar="FILE", help=help)


def write_out(data: bytes, out: str | None, option: str = "--out",
              before_replace: Callable[[], None] | None = None) -> None:
    """The bytes of a result to stdout (no `out`, or `-`) or atomically to `out`."""
    import sys

    if out and out != "-":
        from gradcli.render import write_atomic

        write_atomic(out, data, option, before_replace)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def _stack(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


problem_options = _stack(
    # a plain string: the loader checks the path (language/files.py), with
    # gradcli's messages, and click's Path type fails on a NUL byte
    click.argument("spec", required=False, metavar="SPEC",
                   shell_complete=complete_spec),
    click.option("-e", "--expr", help="Inline expression instead of a SPEC; inputs from --set; "
                 "its output is always named y (an input may be named y too: --wrt, "
                 "--tangent and --set mean the input, --output and --cotangent the output)."),
    click.option("--model", "model", metavar="[NAME=]FILE",
                 help="A model file (.onnx, .keras, .h5) instead of a SPEC: its outputs of its "
                      "inputs, given with --set; with -e, a function NAME (default: model)."),
    click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                 shell_complete=complete_set,
                 help="Override or define an input: a YAML literal, or @file.npy."),
    click.option("--output", "outputs", multiple=True, metavar="NAME",
                 help="Select an output (repeatable; default: all)."),
    click.option("--dtype", type=click.Choice(["float64", "float32"]), default=None,
                 help="Float dtype of the computation (default: the spec's, else float64)."),
    click.option("--max-elements", type=click.IntRange(min=1), default=None,
                 help="Refuse arrays larger than this many elements (default 50,000,000)."),
)

output_options = _stack(
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                 show_default=True, help="Output format (npy: a single array; npz and npy "
                 "need -o)."),
    out_option(),
    click.option("--precision", type=click.IntRange(1, 17), default=None,
                 help="Significant digits in text/csv output."),
    click.option("--threshold", type=click.IntRange(min=0), default=THRESHOLD,
                 show_default=True, metavar="N",
                 help="Text: summarise an array of more than N elements as numpy does "
                      "(first and last 3 items of each axis)."),
    click.option("--full", is_flag=True, help="Text: print every element, never a summary."),
    click.option("--check-finite", is_flag=True,
                 help="Exit 3 if any result is NaN or infinite (default: warn only)."),
)


derivative_options = _stack(
    click.option("--wrt", multiple=True, metavar="SOURCE", shell_complete=complete_wrt,
                 help="Differentiate w.r.t. an input, a let name or a component like "
                      "'inp[0,0]' (repeatable; default: the spec's wrt, else every float input)."),
    click.option("--unconnected", type=click.Choice(["none", "zero", "error"]), default="none",
                 show_default=True,
                 help="What an unconnected source gives: null, zeros, or an error (exit 2)."),
)


def _timings() -> click.Option:
    return click.Option(["--timings"], is_flag=True,
                        help="Print where the time went (load, build, differentiate, plan, "
                             "evaluate, render) to stderr.")


def command(name: str, **attrs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """A gradcli command: click's command built with `--timings` (declared
    here, once, for every command).  A callback that takes `clock` gets the
    command's own Clock to pass to the API; after it returns, `--timings`
    reports its phases and the command's wall time on stderr."""

    def build(func: Callable[..., Any]) -> click.Command:
        wants_clock = "clock" in inspect.signature(func).parameters

        @functools.wraps(func)
        def callback(*args: Any, timings: bool, **kwargs: Any) -> Any:
            clock, start = Clock(), time.perf_counter()
            result = func(*args, **kwargs, **({"clock": clock} if wants_clock else {}))
            if timings:
                click.echo(clock.report(time.perf_counter() - start), err=True)
            return result

        # click lists decorator parameters innermost last: --timings ends the list
        params = [_timings(), *getattr(func, "__click_params__", [])]
        callback.__click_params__ = params  # type: ignore[attr-defined]
        return click.command(name, **attrs)(callback)

    return build


# `--points` sweeps (cli/points.py) and where their chunks run (cli/cluster.py).
points_options = _stack(
    click.option("--points", "points", multiple=True, metavar="FILE",
                 help="Compute at every point of FILE (.npz, .csv, .parquet, or NAME=FILE.npy; "
                      "repeatable): axis 0 of each input it gives is the points axis, the "
                      "other inputs stay fixed; results stream to -o FILE.npy/.npz/.zarr."),
    click.option("--scheduler", metavar="ADDRESS",
                 help="Run the --points chunks on this Dask scheduler (gradcli[dask])."),
    click.option("--workers", type=click.IntRange(min=1), default=None,
                 help="Run the --points chunks on a local Dask cluster of N worker "
                      "processes (gradcli[dask])."),
)

# The memory options of eval and grad (jacobian and hessian have their own).
sweep_memory_options = _stack(
    click.option("--chunk-size", type=click.IntRange(min=1), default=None,
                 help="Points per chunk with --points (default: sized by --max-memory)."),
    click.option("--max-memory", default=None, metavar="SIZE",
                 help="Memory budget of a --points sweep (default: a quarter of RAM), e.g. 2G."),
)
