"""`--format npy`: one array, exactly as numpy stores it (`np.load(file)`).

An .npy file holds one array and nothing else, so the result must have
exactly one entry with a value: select it with --wrt/--output, or use npz
for several (and for the meta: command, dtype, null entries).  The bytes
are those `np.save` writes (format 1.0 header, C order), and they are
written as they come: `NpyArray` takes the header's shape and dtype first
and the elements in C order in pieces of any length, so a result computed
piece by piece can be written without holding it whole.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from ..errors import SpecError
from .arrays import ArrayWriter, Progress, write_array
from .model import Result
from .tree import as_array


class NpyArray(ArrayWriter):
    """An .npy file of `shape` and `dtype`, filled in C order by `write`."""

    def __init__(self, stream: BinaryIO, shape: tuple[int, ...], dtype: np.dtype) -> None:
        super().__init__(stream, shape, dtype)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": self.shape}
        try:
            np.lib.format.write_array_header_1_0(stream, header)
        except ValueError:  # a header over 64 KiB (very many axes): format 2.0, as np.save
            np.lib.format.write_array_header_2_0(stream, header)

    def _write(self, values: np.ndarray, start: int) -> None:
        self.stream.write(np.ascontiguousarray(values).tobytes())

    def _close(self) -> None:
        pass


def single_array(result: Result) -> np.ndarray:
    """The one array of a result, or a SpecError saying how to get one."""
    entries = list(result.entries)
    if len(entries) != 1:
        names = ", ".join(".".join(e.path) for e in entries) or "nothing"
        raise SpecError(f"npy holds one array, but the result has {len(entries)} "
                        f"({names}): select one with --wrt/--output, or use --format npz",
                        location="--format")
    (entry,) = entries
    if entry.value is None:
        raise SpecError(f"{'.'.join(entry.path)} is unconnected (null), which an .npy file "
                        "cannot hold: use --unconnected zero, or --format npz",
                        location="--format")
    return as_array(entry.value)


def write_npy(result: Result, stream: BinaryIO, progress: Progress | None = None) -> None:
    """The result's single array as an .npy file."""
    arr = single_array(result)
    write_array(NpyArray(stream, arr.shape, arr.dtype), arr, progress=progress)
