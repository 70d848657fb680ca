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
