"""`-o/--out FILE`: write all of it or nothing.

The bytes go to a new temporary file in the target's own folder (same file
system, so the final rename is atomic), are flushed and fsynced, and only then
renamed onto the target with `os.replace`. `atomic_output` hands that
temporary file out as a stream, so a large result is written to it chunk by
chunk and still appears all at once, or not at all. A reader therefore sees either the
previous file or the complete new one, never a half-written result, and any
failure (missing folder, permission, full disk, Ctrl-C) removes the temporary
file and leaves an existing target untouched.

The temporary file is created with `os.open(..., 0o666)` rather than
`tempfile` (which always uses 0o600), so the result gets the permissions the
user's umask asks for, like any file a shell redirect creates; overwriting an
existing file keeps that file's permissions. A symlink target is followed, so
the file it points to is replaced and the link stays a link.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import SpecError

_ATTEMPTS = 16  # name clashes on 48 random bits are practically impossible; bound it anyway


def _fail(path: str, reason: str) -> SpecError:
    return SpecError(f"cannot write --out {path}: {reason}", location="--out")


def _reason(exc: OSError, folder: str) -> str:
    if isinstance(exc, FileNotFoundError) and not os.path.isdir(folder):
        return f"folder {folder} does not exist"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror.lower() if exc.strerror else str(exc)


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    for _ in range(_ATTEMPTS):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable; not every file system allows it, which is harmless."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """A binary stream that becomes `path` when the block ends normally.

    On any exception inside the block (a failed write, a bug, Ctrl-C) the
    temporary file is removed and `path` is left as it was; OSErrors become
    SpecError(location="--out"), anything else propagates unchanged."""
    shown = os.fspath(path)
    if not shown:
        raise _fail(shown, "empty file name")
    target = os.path.realpath(shown)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise _fail(shown, "it is a folder")
    try:
        fd, tmp = _create_temp(folder, os.path.basename(target))
    except OSError as exc:
        raise _fail(shown, _reason(exc, folder)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _fail(shown, _reason(exc, folder)) from exc
        raise
    _fsync_folder(folder)


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically; SpecError(location="--out") on any failure."""
    with atomic_output(path) as stream:
        stream.write(data)
