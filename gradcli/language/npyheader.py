"""The header of a .npy stream (a file, or a member of an .npz archive),
read before numpy reads anything, so that what a file claims is checked
first: its shape against --max-elements, its dtype (numeric only, never
object), and its data against the bytes the file really holds.

numpy's own header readers read as many bytes as the header's length field
claims (up to 4 GiB in format 2.0) before refusing a long header, and its
format 3.0 reader is private.  We read the length field, refuse a header
longer than MAX_HEADER, and hand the header to numpy's public
`read_array_header_2_0` (a 3.0 header is the same text in UTF-8; every
dtype we accept is ASCII).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import IO

import numpy as np

# np.load refuses headers longer than this (its max_header_size); a real
# header is about 128 bytes, a 32-axis shape some 700.
MAX_HEADER = 10_000
MAGIC = b"\x93NUMPY"
LENGTH_BYTES = {1: 2, 2: 4, 3: 4}


class HeaderError(ValueError):
    """Not a header numpy may read; the message says why."""


@dataclass(frozen=True)
class Header:
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int          # bytes before the data

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _read(handle: IO[bytes], size: int, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise HeaderError(f"the file ends inside its {what}")
    return data


def read_header(handle: IO[bytes]) -> Header:
    """The header at the start of `handle`, having read at most
    8 + 4 + MAX_HEADER bytes of it."""
    magic = _read(handle, 8, "magic string")
    if magic[:6] != MAGIC:
        raise HeaderError("it is not a .npy file")
    major, minor = magic[6], magic[7]
    if major not in LENGTH_BYTES or minor != 0:
        raise HeaderError(f"unsupported .npy format version {major}.{minor}")
    length = int.from_bytes(_read(handle, LENGTH_BYTES[major], "header length"), "little")
    if length > MAX_HEADER:
        raise HeaderError(f"its header length is {length} bytes, more than numpy's limit "
                          f"of {MAX_HEADER}")
    text = _read(handle, length, "header")
    if major == 3:  # UTF-8 (field names of structured dtypes), else the same as 2.0
        try:
            text = text.decode("utf-8").encode("latin-1")
        except UnicodeError:
            raise HeaderError("its header is not a plain numeric array's") from None
    stream = io.BytesIO(np.lib.format.magic(2, 0) + len(text).to_bytes(4, "little") + text)
    np.lib.format.read_magic(stream)
    try:
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(
            stream, max_header_size=MAX_HEADER)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise HeaderError(str(exc).splitlines()[0] if str(exc) else "unreadable header") \
            from None
    return Header(tuple(int(d) for d in shape), dtype, bool(fortran_order),
                  8 + LENGTH_BYTES[major] + length)
