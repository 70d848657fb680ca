"""Output side of the CLI: one `Result` rendered as text, json, yaml, csv, npz or npy.

The CLI builds a `Result` (what was computed, format-neutral) and calls
`write(result, fmt, stream, ...)`, which writes it to a binary stream as it
goes (stdout, or the temporary file of `atomic_output` for `-o`): arrays are
written a chunk at a time, so memory stays O(chunk) whatever the result's
size.  `render(...)` returns the same bytes for callers that want them whole.
Formats never print and never look at the environment, so the same inputs
always give byte-identical output.

`precision` (significant digits) applies to the human formats, text and csv;
json, yaml, npz and npy always carry full precision, which is their
contract.  `color` and `threshold` (arrays of more elements are summarised,
None: never) apply to text only.  npy holds exactly one array
(`npy.single_array` says what to select otherwise).

Writing one array in chunks, for callers that produce it piece by piece:
`arrays.JsonArray`, `arrays.YamlArray`, `arrays.CsvArray`, `npy.NpyArray`
(`write(values)` the next elements in C order, then `close()`).
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import numpy as np

from ..errors import SpecError
from .defaults import DEFAULT_THRESHOLD
from .model import Entry, Result

# Each format module is imported when it is used: `--format json` never pays
# for PyYAML's emitter or zipfile (start-up time matters in shell loops).

# --format -> (module, its writer, the options the writer takes besides the
# result, the stream and `progress`).  Each module is imported when used.
WRITERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "text": (".text", "write_text", ("precision", "color", "threshold")),
    "json": (".jsonfmt", "write_json", ()),
    "yaml": (".yaml_", "write_yaml", ()),
    "csv": (".csv_", "write_csv", ("precision",)),
    "npz": (".npz", "write_npz", ()),
    "npy": (".npy", "write_npy", ()),  # a result of exactly one array
}
SINGLE_ARRAY_FORMATS: tuple[str, ...] = ("npy",)
FORMATS: tuple[str, ...] = tuple(f for f in WRITERS if f not in SINGLE_ARRAY_FORMATS)
ALL_FORMATS: tuple[str, ...] = FORMATS + SINGLE_ARRAY_FORMATS
BINARY_FORMATS: tuple[str, ...] = ("npz", "npy")

__all__ = ["ALL_FORMATS", "BINARY_FORMATS", "DEFAULT_THRESHOLD", "FORMATS",
           "SINGLE_ARRAY_FORMATS", "Entry", "Result", "atomic_output", "check", "check_target",
           "elements", "render", "write", "write_atomic"]


def write_atomic(path: str, data: bytes, option: str = "--out",
                 before_replace: Callable[[], None] | None = None) -> None:
    """Write `data` to `path` through a temporary file and a rename (see .atomic);
    errors name `option`, the option the path came from."""
    from .atomic import write_atomic as write_bytes

    write_bytes(path, data, option, before_replace)


def check_target(path: str, option: str = "--out") -> str:
    """Refuse an output path that is not a regular file or a new name (see .atomic)."""
    from .atomic import check_target as checked

    return checked(path, option)


@contextmanager
def atomic_output(path: str, option: str = "--out",
                  before_replace: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """A binary stream whose bytes become `path` only when the block ends
    without an error (see .atomic); errors name `option`."""
    from .atomic import atomic_output as opened

    with opened(path, option, before_replace) as stream:
        yield stream


def check(result: Result, fmt: str, precision: int | None = None,
          threshold: int | None = DEFAULT_THRESHOLD) -> None:
    """Refuse what cannot be written, before anything is: SpecError for a
    bad `fmt`, `precision` or `threshold` (they come from the command line:
    exit 2 with a message, not a traceback), or a result npy cannot hold."""
    if precision is not None and (
        isinstance(precision, bool) or not isinstance(precision, int) or precision < 1
    ):
        raise SpecError(f"--precision must be a positive integer, got {precision!r}",
                        location="--precision")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0
    ):
        raise SpecError(f"--threshold must be a non-negative integer, got {threshold!r}",
                        location="--threshold")
    if fmt not in ALL_FORMATS:
        raise SpecError(f"unknown format {fmt!r}; choose one of {', '.join(ALL_FORMATS)}",
                        location="--format")
    if fmt == "npy":
        from .npy import single_array

        single_array(result)


def elements(result: Result) -> int:
    """How many numbers the entries of `result` hold."""
    return sum(int(np.size(e.value)) for e in result.entries if e.value is not None)


def write(result: Result, fmt: str, stream: BinaryIO, precision: int | None = None,
          color: bool = False, threshold: int | None = DEFAULT_THRESHOLD,
          progress: Callable[[int, int], None] | None = None) -> None:
    """Write `result` in format `fmt` to the binary `stream`, chunk by chunk;
    `progress(done, total)` hears how many elements are written so far."""
    check(result, fmt, precision, threshold)
    tick = None
    if progress is not None:
        total, done = elements(result), [0]

        def tick(n: int) -> None:
            done[0] += n
            progress(done[0], total)

    module, writer, takes = WRITERS[fmt]
    given = {"precision": precision, "color": color, "threshold": threshold}
    write_to = getattr(importlib.import_module(module, __package__), writer)
    write_to(result, stream, progress=tick, **{name: given[name] for name in takes})


def render(result: Result, fmt: str, precision: int | None = None, color: bool = False,
           threshold: int | None = DEFAULT_THRESHOLD) -> bytes:
    """The bytes `write` would write (the whole output in memory)."""
    buffer = io.BytesIO()
    write(result, fmt, buffer, precision=precision, color=color, threshold=threshold)
    return buffer.getvalue()
