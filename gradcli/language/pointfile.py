"""The opened form of a `--points` file, shared by the readers of every
format (language/points.py dispatches on the suffix)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.errors import SpecError

Shape = tuple[int, ...]
KINDS = "fiub"  # numbers and booleans; strings, objects, dates are refused


@dataclass
class Table:
    """One opened points file: its count, the inputs it gives with one point's
    shape, and `read(start, stop)` -> {input: array of (stop - start,) + shape}."""

    shown: str
    count: int
    shapes: dict[str, Shape]
    dtypes: dict[str, np.dtype]
    reader: Any
    lines: bool = False  # CSV: rows have file lines (header on line 1)

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return self.reader.read(start, stop)

    def where(self, row: int) -> str:
        return f"{self.shown}:{row + 2}" if self.lines else self.shown

    def close(self) -> None:
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


def check_dtype(dtype: np.dtype, what: str, where: str) -> np.dtype:
    if dtype.hasobject or dtype.kind not in KINDS:
        raise SpecError(f"{what} has dtype {dtype}; points must be numbers", where)
    return dtype


class Rows:
    """Rows of an array stored at `offset` in a file, read with `pread` a chunk
    at a time: unlike a memory map, the rows already read do not stay in the
    process's resident memory, so a sweep's peak RSS does not grow with the
    file.  Fortran-order data (rows are not contiguous) is memory-mapped."""

    def __init__(self, path: str, offset: int, shape: tuple[int, ...], dtype: np.dtype,
                 fortran: bool) -> None:
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, dtype
        self.row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        self.mapped = np.memmap(path, dtype=dtype, mode="r", shape=shape, order="F",
                                offset=offset) if fortran else None
        self.fd: int | None = None

    def __getitem__(self, rows: slice) -> np.ndarray:
        import os

        start, stop, _ = rows.indices(self.shape[0])
        stop = max(start, stop)
        if self.mapped is not None:
            return np.array(self.mapped[start:stop])
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY)
        size = (stop - start) * self.row
        data = bytearray(size)
        view, done = memoryview(data), 0
        while done < size:
            got = os.preadv(self.fd, [view[done:]], self.offset + start * self.row + done)
            if got <= 0:
                raise SpecError("the file ends before its last row", self.path)
            done += got
        return np.frombuffer(data, self.dtype).reshape((stop - start,) + self.shape[1:])

    def close(self) -> None:
        import os

        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
