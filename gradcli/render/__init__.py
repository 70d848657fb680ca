"""Output side of the CLI: one `Result` rendered as text, json, yaml, csv or npz.

The CLI builds a `Result` (what was computed, format-neutral), calls
`render(result, fmt, precision, color)` for the bytes of stdout or `--out`,
and `write_atomic` for `--out`. Formats never print and never look at the
environment, so the same inputs always give byte-identical output.

`precision` (significant digits) applies to the human formats, text and csv;
json, yaml and npz always carry full precision, which is their contract.
`color` applies to text only.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SpecError
from .model import Entry, Result

# Each format module is imported when it is used: `--format json` never pays
# for PyYAML's emitter or zipfile (start-up time matters in shell loops).

FORMATS: tuple[str, ...] = ("text", "json", "yaml", "csv", "npz")

__all__ = ["FORMATS", "Entry", "Result", "check_target", "render", "write_atomic"]


def write_atomic(path: str, data: bytes, option: str = "--out",
                 before_replace: Callable[[], None] | None = None) -> None:
    """Write `data` to `path` through a temporary file and a rename (see .atomic);
    errors name `option`, the option the path came from."""
    from .atomic import write_atomic as write

    write(path, data, option, before_replace)


def check_target(path: str, option: str = "--out") -> str:
    """Refuse an output path that is not a regular file or a new name (see .atomic)."""
    from .atomic import check_target as check

    return check(path, option)


def render(result: Result, fmt: str, precision: int | None = None, color: bool = False) -> bytes:
    """The bytes of `result` in format `fmt`.

    Bad `fmt` or `precision` come from the command line, so they raise
    SpecError (exit 2 with a message) rather than a traceback.
    """
    if precision is not None and (
        isinstance(precision, bool) or not isinstance(precision, int) or precision < 1
    ):
        raise SpecError(f"--precision must be a positive integer, got {precision!r}",
                        location="--precision")
    if fmt == "text":
        from .text import render_text

        return render_text(result, precision=precision, color=color)
    if fmt == "json":
        from .jsonfmt import render_json

        return render_json(result)
    if fmt == "yaml":
        from .yaml_ import render_yaml

        return render_yaml(result)
    if fmt == "csv":
        from .csv_ import render_csv

        return render_csv(result, precision=precision)
    if fmt == "npz":
        from .npz import render_npz

        return render_npz(result)
    raise SpecError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}",
                    location="--format")
