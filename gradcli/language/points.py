"""`--points FILE`: values of one or more inputs at many points, read chunk
by chunk (never the whole file at once).

Formats, and how they name the inputs they give:
- `.npy`: one array, axis 0 the points: `--points P=FILE.npy` says which input;
- `.npz`: one array per input, keyed by its name, all with the same length;
- `.csv`: a header row naming the columns, `t` for an input that holds one
  number per point and `P[0]`, `P[1]` (`P[i,j]` for more axes) for the
  components of one that holds more, in any order;
- Parquet (`.parquet`, the optional `parquet` extra): columns named as in CSV.

Files are read, never executed: `.npy`/`.npz` with `allow_pickle=False`
(object arrays refused), `.npy` and stored `.npz` members memory-mapped,
compressed members streamed; CSV through numpy's parser, a chunk of lines
at a time.  Row numbers in messages count points from 0 (the row of the
output too); CSV messages also give the file's line.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcli.errors import NumericFault, SpecError, suggest
from gradcli.language.pointfile import Rows, Shape, Table, check_dtype

NAMED = re.compile(r"^([A-Za-z_][\w.]*)=(.+)$")


def split_item(item: str) -> tuple[str | None, str]:
    """`NAME=FILE` or `FILE` (a path that exists wins over a name)."""
    match = NAMED.match(item)
    if match and not os.path.exists(item):
        return match.group(1), match.group(2)
    return None, item


def open_table(item: str) -> Table:
    name, path = split_item(item)
    suffix = os.path.splitext(path)[1].lower()
    _regular(path)
    if suffix not in (".npy", ".npz", ".csv", ".parquet", ".pq"):
        raise SpecError("give a .npy, .npz, .csv or .parquet file", path)
    if suffix == ".npy":
        if name is None:
            raise SpecError(f"a .npy file holds one unnamed array; say which "
                            f"input it gives: --points NAME={path}", path)
        return _npy(path, name)
    if name is not None:
        raise SpecError(f"NAME=FILE is for .npy files; {suffix or 'this'} "
                        "files name their inputs themselves", item)
    if suffix == ".npz":
        from gradcli.language.points_npz import open_npz

        return open_npz(path)
    from gradcli.language.points_tables import open_csv, open_parquet

    return open_csv(path) if suffix == ".csv" else open_parquet(path)


def _regular(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SpecError(f"file not found: {path}", "--points") from None
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}",
                        "--points") from None
    if not stat.S_ISREG(mode):  # a folder, a FIFO or a device
        raise SpecError(f"{path} is not a regular file", "--points")


class _Arrays:
    def __init__(self, arrays: Mapping[str, Rows]) -> None:
        self.arrays = dict(arrays)

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {k: a[start:stop] for k, a in self.arrays.items()}

    def close(self) -> None:
        for rows in self.arrays.values():
            rows.close()


def _npy(path: str, name: str) -> Table:
    fmt = np.lib.format
    try:
        with open(path, "rb") as handle:
            version = fmt.read_magic(handle)
            read = fmt.read_array_header_1_0 if version == (1, 0) else \
                fmt.read_array_header_2_0
            shape, fortran, dtype = read(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise SpecError(f"cannot read {path} as .npy: {exc}", "--points") from None
    check_dtype(dtype, "the array", path)
    if not shape:
        raise SpecError("it holds a single value; points need a leading axis (one row per "
                        "point)", path)
    if os.path.getsize(path) < offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise SpecError(f"the file is shorter than its header says ({shape}, {dtype})", path)
    return Table(path, int(shape[0]), {name: tuple(shape[1:])}, {name: dtype},
                 _Arrays({name: Rows(path, offset, tuple(shape), dtype, fortran)}))


@dataclass
class Points:
    """The --points files together: one count, inputs from all of them."""

    tables: list[Table]
    count: int
    shapes: dict[str, Shape]
    source: dict[str, Table] = field(default_factory=dict)

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for table in self.tables:
            out.update(table.read(start, stop))
        return out

    def close(self) -> None:
        for table in self.tables:
            table.close()


def open_points(items: Sequence[str]) -> Points:
    tables: list[Table] = []
    try:
        for item in items:
            tables.append(open_table(item))
        source: dict[str, Table] = {}
        for table in tables:
            for name in table.shapes:
                if name in source:
                    raise SpecError(f"input '{name}' is given by both "
                                    f"{source[name].shown} and {table.shown}", "--points")
                source[name] = table
            if table.count != tables[0].count:
                raise SpecError(f"{tables[0].shown} has {tables[0].count} points, "
                                f"{table.shown} has {table.count}", "--points")
    except BaseException:
        for table in tables:
            table.close()
        raise
    shapes = {n: s for t in tables for n, s in t.shapes.items()}
    return Points(tables, tables[0].count, shapes, source)


@dataclass(frozen=True)
class Target:
    """An input the points feed: one point's shape and the dtype it takes."""

    name: str
    shape: Shape
    dtype: str


def bind(points: Points, inputs: Mapping[str, tuple[Shape, str]], defining: bool,
         float_dtype: str) -> list[Target]:
    """Match the points' inputs with the problem's: `inputs` maps an input to
    (its shape, its dtype), axis 0 being the points axis; with `defining`
    (-e), a name the problem lacks becomes a new input of the file's shape."""
    targets = []
    for name, shape in points.shapes.items():
        table = points.source[name]
        if name not in inputs:
            if not defining:
                raise SpecError(f"it gives '{name}', which is not an input of the spec"
                                f"{suggest(name, inputs)}", table.shown)
            kind = table.dtypes[name].kind
            targets.append(Target(name, shape, "int64" if kind in "iu" else float_dtype))
            continue
        full, dtype = inputs[name]
        if not full:
            raise SpecError(f"input '{name}' is a single number in the "
                            "spec; a points input needs a leading points axis (shape (n, ...) "
                            "where row k is point k, as for --batch-axis 0)", table.shown)
        one = tuple(full[1:])
        if shape != one and not (_size(shape) == _size(one) and 1 in (_size(shape),)):
            raise SpecError(f"'{name}' has rows of shape {shape} "
                            f"({_size(shape)} values a point); input {name} has shape {full} "
                            f"in the spec, so each point needs shape {one}", table.shown)
        if np.dtype(dtype).kind == "b" and table.dtypes[name].kind != "b":
            raise SpecError(f"input {name} is bool; the file holds "
                            f"{table.dtypes[name]}", table.shown)
        targets.append(Target(name, one, dtype))
    return targets


def _size(shape: Shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def label(name: str, shape: Shape, flat: int) -> str:
    """`P[1]` for element `flat` of one point of P (just `P` for one number)."""
    if not shape:
        return name
    index = np.unravel_index(flat, shape)
    return f"{name}[{','.join(str(int(i)) for i in index)}]"


def convert(points: Points, targets: Sequence[Target], start: int, stop: int,
            check_finite: bool) -> dict[str, np.ndarray]:
    """Rows start..stop-1 as the inputs' dtypes and shapes; a NaN or inf, or a
    non-whole number for an integer input, is an error naming its row
    (`--check-finite`: a numeric fault, exit 3)."""
    raw = points.read(start, stop)
    out = {}
    for target in targets:
        table = points.source[target.name]
        values = np.asarray(raw[target.name])
        rows = values.reshape((len(values), int(np.prod(values.shape[1:], dtype=np.int64))))
        if values.dtype.kind == "f":
            finite = np.isfinite(rows)
            if not finite.all():
                row, flat = np.unravel_index(int(np.argmin(finite)), rows.shape)
                what = label(target.name, table.shapes[target.name], int(flat))
                message = f"row {start + int(row)}: {what} is {rows[row, flat]} (points " \
                          "must be finite)"
                where = table.where(start + int(row))
                raise NumericFault(message, where) if check_finite else \
                    SpecError(message, where)
            if np.dtype(target.dtype).kind in "iu":
                whole = rows == np.round(rows)
                if not whole.all():
                    row, flat = np.unravel_index(int(np.argmin(whole)), rows.shape)
                    what = label(target.name, table.shapes[target.name], int(flat))
                    raise SpecError(f"row {start + int(row)}: {what} is {rows[row, flat]}; "
                                    f"input {target.name} takes whole numbers",
                                    table.where(start + int(row)))
        out[target.name] = values.astype(target.dtype, copy=False).reshape(
            (len(values),) + target.shape)
    return out
