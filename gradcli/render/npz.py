"""`--format npz`: the exact arrays, for numpy users (`np.load(file)`).

Keys are entry paths joined with "/" (`grad/a`, `jacobian/y/a`), arrays keep
their dtype and shape bit for bit, unconnected entries are omitted (an npz
cannot hold None), and `meta` is a 0-d unicode array holding the JSON of
{"command", **meta, "null_entries": [keys of the omitted entries]}.

The archive is written with `zipfile` and `np.lib.format.write_array`, the same
layout `np.savez` produces (stored, zip64 members `KEY.npy`), for two reasons:
`np.savez` takes the keys as keyword arguments, so a key such as `file` would
clash with its own parameters, and it leaves member timestamps and attributes
to zipfile's defaults; pinning them here keeps the bytes identical for
identical results on every Python version.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import IO, BinaryIO

import numpy as np

from .arrays import Progress
from .jsonfmt import dumps
from .model import Result
from .tree import as_array

META_KEY = "meta"
NULL_KEY = "null_entries"  # in meta: keys of the omitted (unconnected) entries
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip header can hold


def _arrays(result: Result) -> dict[str, np.ndarray]:
    if NULL_KEY in result.meta:
        raise ValueError(f"meta key {NULL_KEY!r} is reserved by the npz format")
    meta = {"command": result.command, **result.meta}
    meta[NULL_KEY] = ["/".join(e.path) for e in result.entries if e.value is None]
    arrays = {META_KEY: np.array(dumps(meta))}
    for entry in result.entries:
        if entry.value is None:
            continue
        key = "/".join(entry.path)
        if key in arrays:
            raise ValueError(f"two entries (or an entry and meta) share the npz key {key!r}")
        arrays[key] = as_array(entry.value)
    return arrays


def write_npz(result: Result, stream: BinaryIO, progress: Progress | None = None) -> None:
    """The entries as a deterministic .npz archive, written straight into
    `stream` (see `write_archive`)."""
    write_archive(_arrays(result), stream, progress)


def archive(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays by key as a deterministic .npz archive (np.load reads it)."""
    buffer = io.BytesIO()
    write_archive(arrays, buffer)
    return buffer.getvalue()


def write_archive(arrays: Mapping[str, np.ndarray], stream: BinaryIO,
                  progress: Progress | None = None) -> None:
    """Arrays by key as a deterministic .npz archive in `stream` (zipfile
    goes back to fill in each member's size where the stream can seek);
    `write_array` hands numpy's buffered chunks to the member, so no copy
    of an array is made."""
    with zipfile.ZipFile(stream, mode="w", compression=zipfile.ZIP_STORED) as zipped:
        for key, arr in arrays.items():
            with member(zipped, key) as out:
                np.lib.format.write_array(out, arr, allow_pickle=False)
            if progress is not None and key != META_KEY:
                progress(arr.size)


def member(zipped: zipfile.ZipFile, key: str) -> IO[bytes]:
    """The member `KEY.npy` open for writing, with the pinned timestamp and
    attributes that keep the archive's bytes the same on every Python."""
    info = zipfile.ZipInfo(key + ".npy", date_time=_EPOCH)
    info.external_attr = 0o644 << 16  # a regular file, rw-r--r--, once extracted
    return zipped.open(info, mode="w", force_zip64=True)


def render_npz(result: Result) -> bytes:
    """`write_npz` as bytes."""
    buffer = io.BytesIO()
    write_npz(result, buffer)
    return buffer.getvalue()
