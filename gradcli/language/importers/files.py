"""Model and weights files read safely: a regular file of bounded size,
read whole or as a zip member whose size is checked before (and while) it
is decompressed, and JSON parsed with bounded size and depth.

Nothing here runs code from a file: ONNX is protobuf, Keras is JSON plus
HDF5, safetensors is JSON plus raw bytes, and no reader is asked to
unpickle.  (A shared "regular file of bounded size" check is being written
for inputs elsewhere; this one is the importers' and can join it.)"""

from __future__ import annotations

import json
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any

from gradcli.errors import Location, SpecError

# A model file larger than this is refused before it is read: far above the
# small networks gradcli differentiates, far below what exhausts memory.
# --max-elements raises it (8 bytes per element: the file could hold that
# many float64 parameters).
MAX_MODEL_BYTES = 1 << 30
# JSON (a Keras config, a safetensors header) is parsed whole: 16 MiB is
# thousands of layers.
MAX_JSON_BYTES = 16 << 20

Where = Location | str


def byte_limit(limit: int) -> int:
    """The largest model file read, for an element limit of `limit`."""
    return max(MAX_MODEL_BYTES, 8 * limit)


def regular_file(path: Path, shown: str, where: Where, what: str, max_bytes: int) -> int:
    """The size of `path`, or a SpecError: missing, a folder, not a regular
    file (a FIFO or a device could block or never end), or too large."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SpecError(f"{what} not found: {shown}", where) from None
    except OSError as exc:
        raise SpecError(f"cannot read {what} {shown}: {exc.strerror or exc}", where) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecError(f"{what} {shown} is a folder, not a file", where)
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"{what} {shown} is not a regular file", where)
    if info.st_size > max_bytes:
        raise SpecError(f"{what} {shown} has {info.st_size} bytes, more than the limit of "
                        f"{max_bytes} (raise it with --max-elements)", where)
    return info.st_size


def read_file(path: Path, shown: str, where: Where, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (checked again while
    reading: the file may grow between the check and the read)."""
    size = regular_file(path, shown, where, what, max_bytes)
    try:
        with open(path, "rb") as handle:
            # read(n) reserves n bytes first: ask for what the file holds
            data = handle.read(size + 1)
    except OSError as exc:
        raise SpecError(f"cannot read {what} {shown}: {exc.strerror or exc}", where) from None
    if len(data) != size:
        raise SpecError(f"{what} {shown} changed while it was read", where)
    return data


def open_zip(path: Path, shown: str, where: Where, what: str, max_bytes: int) -> zipfile.ZipFile:
    regular_file(path, shown, where, what, max_bytes)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise SpecError(f"cannot read {what} {shown}: not a zip archive ({exc})",
                        where) from None


def zip_member(archive: zipfile.ZipFile, name: str, shown: str, where: Where,
               max_bytes: int) -> bytes:
    """One member, refused if its declared size is above `max_bytes`, and read
    no further than that whatever the header says (a zip bomb lies)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SpecError(f"{shown} has no {name}", where) from None
    if info.file_size > max_bytes:
        raise SpecError(f"{name} in {shown} would be {info.file_size} bytes, more than the "
                        f"limit of {max_bytes}", where)
    chunks, total = [], 0
    try:
        with archive.open(info) as member:
            while total <= max_bytes and (chunk := member.read(1 << 20)):
                chunks.append(chunk)
                total += len(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError,
            NotImplementedError) as exc:  # corrupt data, encrypted or unknown compression
        raise SpecError(f"cannot read {name} in {shown}: {exc}", where) from None
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise SpecError(f"{name} in {shown} is larger than the limit of {max_bytes} bytes",
                        where)
    return data


def parse_json(data: bytes | str, label: str, where: Where) -> Any:
    """JSON of at most MAX_JSON_BYTES; deep nesting and bad UTF-8 are errors."""
    if len(data) > MAX_JSON_BYTES:
        raise SpecError(f"{label} has {len(data)} bytes of JSON, more than the limit of "
                        f"{MAX_JSON_BYTES}", where)
    try:
        return json.loads(data)
    except RecursionError:
        raise SpecError(f"{label}: JSON nested too deeply", where) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpecError(f"{label} is not valid JSON: {exc}", where) from None
