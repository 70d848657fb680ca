"""`--points FILE.npz`: one array per input, read without loading it whole.

A stored (uncompressed) member, what `np.savez` writes, is memory-mapped
at its offset inside the archive; a compressed one (`np.savez_compressed`)
is decompressed as a stream, row after row, which suits the chunks that
come in order (a jump back reopens the member).  Headers are read first:
object arrays are refused before anything else is read.
"""

from __future__ import annotations

import struct
import zipfile
from typing import Any

import numpy as np

from gradcli.errors import SpecError
from gradcli.language.pointfile import Rows, Table, check_dtype

LOCAL_HEADER = 30  # bytes of a zip local file header before its name and extra field


def _header(handle: Any, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            return fmt.read_array_header_1_0(handle)
        return fmt.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise SpecError(f"cannot read {what}: {exc}", "--points") from None


class _Stream:
    """Rows of a compressed C-order member, read forwards."""

    def __init__(self, archive: zipfile.ZipFile, member: str, shape: tuple[int, ...],
                 dtype: np.dtype, what: str) -> None:
        self.archive, self.member, self.shape, self.dtype, self.what = (
            archive, member, shape, dtype, what)
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        self.handle: Any = None
        self.at = 0

    def _open(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.handle = self.archive.open(self.member)
        _header(self.handle, self.what)
        self.at = 0

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        if self.handle is None or start < self.at:
            self._open()
        skip = (start - self.at) * self.row_bytes
        while skip > 0:
            skip -= len(self.handle.read(min(skip, 1 << 24)))
        data = self.handle.read((stop - start) * self.row_bytes)
        if len(data) != (stop - start) * self.row_bytes:
            raise SpecError(f"{self.what} ends before its {self.shape[0]} rows", "--points")
        self.at = stop
        return np.frombuffer(data, self.dtype).reshape((stop - start,) + self.shape[1:])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


class _Members:
    def __init__(self, archive: zipfile.ZipFile, arrays: dict[str, Any]) -> None:
        self.archive, self.arrays = archive, arrays

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {k: np.asarray(a[start:stop]) for k, a in self.arrays.items()}

    def close(self) -> None:
        for array in self.arrays.values():
            array.close()
        self.archive.close()


def open_npz(path: str) -> Table:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SpecError(f"cannot read {path} as .npz: {exc}", "--points") from None
    try:
        return _table(path, archive)
    except BaseException:
        archive.close()
        raise


def _table(path: str, archive: zipfile.ZipFile) -> Table:
    arrays: dict[str, Any] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, np.dtype] = {}
    counts: dict[str, int] = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue
        name = info.filename[:-4]
        what = f"array '{name}' of {path}"
        with archive.open(info) as handle:
            shape, fortran, dtype = _header(handle, what)
            start = handle.tell() if info.compress_type == zipfile.ZIP_STORED else 0
        check_dtype(dtype, what, path)
        if not shape:
            raise SpecError(f"{what} is a single value; points need a leading axis (one row "
                            "per point)", path)
        if info.compress_type == zipfile.ZIP_STORED:
            arrays[name] = Rows(path, _data_offset(path, info) + start, tuple(shape), dtype,
                                fortran)
        elif fortran:
            raise SpecError(f"{what} is compressed and in Fortran order, which cannot be read "
                            "row by row: save it in C order or uncompressed", path)
        else:
            arrays[name] = _Stream(archive, info.filename, shape, dtype, what)
        shapes[name], dtypes[name], counts[name] = tuple(shape[1:]), dtype, int(shape[0])
    if not arrays:
        raise SpecError("it holds no arrays", path)
    if len(set(counts.values())) > 1:
        found = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise SpecError(f"its arrays have different numbers of points "
                        f"({found})", path)
    return Table(path, next(iter(counts.values())), shapes, dtypes, _Members(archive, arrays))


def _data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start: after its local header, name and extra."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(LOCAL_HEADER)
    if len(header) != LOCAL_HEADER or header[:4] != b"PK\x03\x04":
        raise SpecError("a damaged zip member header", path)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + LOCAL_HEADER + name_length + extra_length
