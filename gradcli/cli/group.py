"""The command line: options -> api -> render.  No math lives here; the
commands live in `gradcli.cli.commands`, this module builds the group from
them and is the console entry point.

Start-up matters in shell loops: a command's module is imported when the
command is looked up, and it imports only click and the option bundles at
import time, so `gradcli --version` loads neither numpy nor the language,
and each command loads what it uses when it runs."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import click

from gradcli import __version__
from gradcli.engine.allocator import tune_allocator
from gradcli.errors import EXIT_BUG, EXIT_INTERRUPTED, GradcliError, one_line

# Every command, by the module that builds it (gradcli.cli.commands.*).
COMMANDS = {
    "eval": ("basic", "eval_command"), "grad": ("basic", "grad_command"),
    "jacobian": ("derivatives", "jacobian_command"),
    "hessian": ("derivatives", "hessian_command"), "jvp": ("derivatives", "jvp_command"),
    "check": ("symbolic", "check_command"), "symbolic": ("symbolic", "symbolic_command"),
    "graph": ("symbolic", "graph_command"), "ops": ("reference", "ops_command"),
    "schema": ("reference", "schema_command"), "plot": ("plot", "plot_command"),
    "params": ("params", "params_command"),
}


class Commands(Mapping[str, click.Command]):
    """The group's commands, each module imported when its command is first
    looked up (`gradcli grad` does not build the options of `plot`)."""

    def __getitem__(self, name: str) -> click.Command:
        module, attribute = COMMANDS[name]
        return getattr(importlib.import_module(f"gradcli.cli.commands.{module}"), attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class GradcliGroup(click.Group):
    """Turns user errors into `gradcli: error: ...` and an exit code, and any
    other exception into one line saying it is a bug (exit 70)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GradcliError as exc:
            click.echo(f"gradcli: error: {one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            ctx.exit(0)
        except RecursionError:
            # Nesting is bounded where it is read (YAML, expressions); this is
            # what is left, and it comes from the input's shape, not a bug.
            click.echo(f"gradcli: error: the input is nested or chained too deeply to process "
                       f"(Python's recursion limit, {sys.getrecursionlimit()}, was reached)",
                       err=True)
            ctx.exit(2)
        except MemoryError:
            # Sizes are checked before allocating; this is what is left when
            # the user raised --max-elements / --max-memory past the machine.
            click.echo("gradcli: error: out of memory; lower --max-elements or --max-memory, "
                       "or select fewer --wrt/--output", err=True)
            ctx.exit(2)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if ctx.params.get("debug") or os.environ.get("GRADCLI_DEBUG"):
                import traceback

                traceback.print_exc()
            click.echo(f"gradcli: internal error (a bug in gradcli, please report it): "
                       f"{type(exc).__name__}: {exc}; rerun with --debug for the traceback",
                       err=True)
            ctx.exit(EXIT_BUG)


@click.group(cls=GradcliGroup, commands=Commands(),
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcli")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
def cli(debug: bool) -> None:
    """Values, gradients, Jacobians and Hessians of YAML specs.

    Example: gradcli grad specs/quickstart.yaml
    """


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """`run`, then exit with its code: the command line in-process (tests,
    embedding programs), without the console's signal handlers (entry.py)."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line; its exit code.  Click's own usage errors get
    our prefix and exit 2.  The console entry point is `gradcli.cli.entry.main`,
    which installs the signal handlers before importing this module."""
    args = list(sys.argv[1:] if argv is None else argv)
    tune_allocator()  # the CLI owns its process (the library never tunes it)
    try:
        code = cli.main(args=args, prog_name="gradcli", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `gradcli`: the help, as is
            click.echo(exc.format_message(), err=True)
        else:
            click.echo(f"gradcli: error: {one_line(exc.format_message())}", err=True)
        return 2
    except click.exceptions.Abort as exc:
        # Only without entry's handlers (an embedding program) does a Ctrl-C
        # arrive as click's Abort; it still means "interrupted".
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("gradcli: interrupted", err=True)
            return EXIT_INTERRUPTED
        click.echo("gradcli: aborted", err=True)
        return 1
    return code if isinstance(code, int) else 0
