"""`--points FILE.csv` and Parquet: columns named `t`, `P[0]`, `P[1]`, ...

The header says which input each column belongs to and where in one point
it sits (`P[1,0]`); the columns of an input may come in any order but must
cover its shape exactly.  CSV is parsed by numpy a chunk of lines at a time
(a bad line is then looked up with Python's csv module to name its line and
column); Parquet is read in record batches through pyarrow (the optional
`parquet` extra) and may not hold nulls.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.errors import SpecError
from gradcli.language.pointfile import Shape, Table, check_dtype

COLUMN = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:\[\s*(\d+(?:\s*,\s*\d+)*)\s*\])?\s*$")
BATCH = 65_536  # Parquet rows per record batch


def layout(names: Sequence[str], shown: str) -> dict[str, tuple[Shape, list[int]]]:
    """input -> (one point's shape, the file's column of each element in C order)."""
    found: dict[str, dict[tuple[int, ...], int]] = {}
    for position, raw in enumerate(names):
        match = COLUMN.match(raw)
        if not match:
            raise SpecError(f"column {position + 1} is named {raw!r}; name "
                            "columns after inputs: x, or P[0], P[1] for components", shown)
        name, index = match.group(1), match.group(2)
        key = tuple(int(i) for i in index.split(",")) if index else ()
        seen = found.setdefault(name, {})
        if key in seen or (seen and len(next(iter(seen))) != len(key)):
            raise SpecError(f"column {raw!r} repeats or mixes the "
                            f"components of {name}", shown)
        seen[key] = position
    out = {}
    for name, cells in found.items():
        rank = len(next(iter(cells)))
        shape = tuple(max(k[d] for k in cells) + 1 for d in range(rank))
        order = [cells.get(tuple(int(i) for i in idx)) for idx in np.ndindex(*shape)]
        if None in order:
            missing = next(idx for idx, c in zip(np.ndindex(*shape), order) if c is None)
            raise SpecError(f"{name} has columns up to "
                            f"{name}[{','.join(map(str, (s - 1 for s in shape)))}] but no "
                            f"{name}[{','.join(map(str, missing))}]", shown)
        out[name] = (shape, [c for c in order if c is not None])
    return out


class _Csv:
    def __init__(self, path: str, columns: dict[str, tuple[Shape, list[int]]],
                 names: list[str]) -> None:
        self.path, self.columns, self.names = path, columns, names
        self.handle: Any = None
        self.at = 0

    def _open(self) -> None:
        self.close()
        self.handle = open(self.path, encoding="utf-8", newline="")
        self.handle.readline()  # the header
        self.at = 0

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        if self.handle is None or start < self.at:
            self._open()
        for _ in itertools.islice(self.handle, start - self.at):
            pass
        lines = list(itertools.islice(self.handle, stop - start))
        self.at = stop
        if len(lines) != stop - start:
            raise SpecError("the file ended early (changed while read?)", self.path)
        if not lines:
            return {name: np.zeros((0,) + shape) for name, (shape, _) in self.columns.items()}
        try:
            table = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2,
                               comments=None, quotechar='"')
            if table.shape[1] != len(self.names) or table.shape[0] != len(lines):
                raise ValueError("the number of columns changed")
        except ValueError as exc:
            self._explain(lines, start, str(exc))
        return {name: table[:, cols].reshape((len(lines),) + shape)
                for name, (shape, cols) in self.columns.items()}

    def _explain(self, lines: list[str], start: int, reason: str) -> None:
        """Name the first bad line of a chunk numpy refused."""
        for k, fields in enumerate(csv.reader(io.StringIO("".join(lines)))):
            row, line = start + k, start + k + 2
            where = f"{self.path}:{line}"
            if len(fields) != len(self.names):
                raise SpecError(f"row {row} has {len(fields)} values; the header names "
                                f"{len(self.names)} columns", where)
            for name, text in zip(self.names, fields):
                try:
                    float(text)
                except ValueError:
                    raise SpecError(f"row {row}: column {name}: {text.strip()!r} is not a "
                                    "number", where) from None
        raise SpecError(f"cannot read rows {start}..{start + len(lines) - 1}: {reason}",
                        self.path)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _count_lines(path: str) -> int:
    """Data lines after the header: newlines counted in binary blocks (fast on
    millions of rows); a last line without a newline counts too."""
    count, tail = 0, b""
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            count += block.count(b"\n")
            tail = (tail + block)[-4096:]
    # blank lines at the end are not points
    stripped = tail.rstrip(b" \t\r\n")
    count -= tail[len(stripped):].count(b"\n")
    return count + (stripped[-1:] not in (b"", b"\n")) - 1


def open_csv(path: str) -> Table:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader([handle.readline()]), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {path}: {exc}", "--points") from None
    if not header or not "".join(header).strip():
        raise SpecError("the first line must name the columns (x, P[0], "
                        "P[1], ...)", path)
    columns = layout(header, path)
    count = max(0, _count_lines(path))
    return Table(path, count, {n: s for n, (s, _) in columns.items()},
                 {n: np.dtype(np.float64) for n in columns}, _Csv(path, columns, header),
                 lines=True)


class _Parquet:
    def __init__(self, file: Any, columns: dict[str, tuple[Shape, list[int]]],
                 names: list[str], shown: str) -> None:
        self.file, self.columns, self.names, self.shown = file, columns, names, shown
        self.batches: Any = None
        self.buffer: list[np.ndarray] = []
        self.at = 0   # rows handed out or skipped
        self.held = 0  # rows in the buffer

    def _restart(self) -> None:
        self.batches = self.file.iter_batches(batch_size=BATCH, columns=self.names)
        self.buffer, self.at, self.held = [], 0, 0

    def _next(self) -> np.ndarray:
        batch = next(self.batches)
        for position, column in enumerate(batch.columns):
            if column.null_count:
                row = self.at + self.held + int(np.argmax(column.is_null().to_numpy(
                    zero_copy_only=False)))
                raise SpecError(f"row {row}: column {self.names[position]} is empty (null)",
                                self.shown)
        return np.column_stack([c.to_numpy(zero_copy_only=False).astype(np.float64)
                                for c in batch.columns])

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        if self.batches is None or start < self.at:
            self._restart()
        while self.held < stop - self.at:
            part = self._next()
            self.buffer.append(part)
            self.held += len(part)
        rows = np.concatenate(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        table = rows[start - self.at: stop - self.at]
        rest = rows[stop - self.at:]
        self.buffer, self.held, self.at = [rest], len(rest), stop
        return {name: table[:, cols].reshape((stop - start,) + shape)
                for name, (shape, cols) in self.columns.items()}


def open_parquet(path: str) -> Table:
    try:
        import pyarrow.parquet as pq
        import pyarrow.types as types
    except ImportError:
        raise SpecError("reading Parquet needs the optional extra: "
                        "pip install 'gradcli[parquet]'", path) from None
    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own error types
        raise SpecError(f"cannot read {path} as Parquet: {exc}", "--points") from None
    schema = file.schema_arrow
    names = list(schema.names)
    for f in schema:
        if not (types.is_floating(f.type) or types.is_integer(f.type)
                or types.is_boolean(f.type)):
            raise SpecError(f"column {f.name} is {f.type}; points must be "
                            "numbers", path)
    columns = layout(names, path)
    dtypes = {}
    for name, (_, cols) in columns.items():
        kinds = {np.dtype(schema.field(c).type.to_pandas_dtype()).kind for c in cols}
        dtypes[name] = check_dtype(np.dtype("int64" if kinds <= {"i", "u"} else "float64"),
                                   f"the columns of {name}", path)
    return Table(path, int(file.metadata.num_rows), {n: s for n, (s, _) in columns.items()},
                 dtypes, _Parquet(file, columns, names, path))
