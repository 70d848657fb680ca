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
from collections.abc import Callable, Iterator
from typing import BinaryIO

from ..errors import SpecError

_ATTEMPTS = 16  # name clashes on 48 random bits are practically impossible; bound it anyway
_TEMP_EXTRA = len("..0123456789ab.tmp")  # what the temporary name adds to the target's
# Names that are streams or the system's files, not a place for a result:
# `-o /dev/stdout` would replace the file the shell redirected stdout to,
# and lose what others wrote there (`{ echo header; gradcli ... -o /dev/stdout; } > log`).
STREAMS = ("/dev/stdin", "/dev/stdout", "/dev/stderr")
SYSTEM_FOLDERS = ("/proc/", "/dev/fd/", "/sys/")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _fail(path: str, reason: str, option: str = "--out") -> SpecError:
    return SpecError(f"cannot write {option} {path}: {reason}", location=option)


def _reason(exc: OSError, folder: str) -> str:
    if isinstance(exc, FileNotFoundError) and not os.path.isdir(folder):
        return f"folder {folder} does not exist"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror.lower() if exc.strerror else str(exc)


def _hops(path: str) -> list[str]:
    """Every absolute path that `path` passes through while its symlinks are
    followed (realpath gives only the last, which hides `/dev/stdout` ->
    `/proc/self/fd/1` -> the file the shell redirected to)."""
    seen: list[str] = []
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlinks followed
        seen.append(current)
        parts = current.split(os.sep)
        for end in range(2, len(parts) + 1):
            prefix = os.sep.join(parts[:end])
            try:
                link = os.readlink(prefix)
            except OSError:  # not a symlink, or not there: look further
                continue
            current = os.path.normpath(os.path.join(os.path.dirname(prefix), link,
                                                    *parts[end:]))
            break
        else:
            return seen
    return seen


def _standard_stream(info: os.stat_result) -> str | None:
    for fd, name in ((1, "standard output"), (2, "standard error")):
        try:
            other = os.fstat(fd)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return name
    return None


def _name_max(folder: str) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def check_target(path: str, option: str = "--out") -> str:
    """The file `path` names (symlinks followed) if a result may be written
    there: an existing regular file, or a new name in an existing, writable
    folder.  A device, FIFO, socket or folder, a stream of this process
    (`/dev/stdout`, `/proc/self/fd/1`) or a system file is refused, so the
    CLI checks `-o` before any work and nothing that was not asked for is
    ever replaced (as root, `-o /dev/null` would replace the machine's
    /dev/null).  SpecError(location=option) otherwise."""
    shown = os.fspath(path)
    if not shown:
        raise _fail(shown, "empty file name", option)
    if "\0" in shown:
        raise _fail(repr(shown), "a file name cannot contain a NUL byte", option)
    for hop in _hops(shown):
        if hop in STREAMS or hop.startswith(SYSTEM_FOLDERS):
            raise _fail(shown, f"it leads to {hop}, a stream or a system file, not a "
                               "regular file (-o - writes to stdout)"
                        if option == "--out" else f"it leads to {hop}, not a regular file",
                        option)
    target = os.path.realpath(shown)
    folder, name = os.path.split(target)
    limit = _name_max(folder) if os.path.isdir(folder) else 255
    if len(os.fsencode(name)) > limit:
        raise _fail(shown, f"the file name is {len(os.fsencode(name))} bytes long; this file "
                           f"system allows {limit}", option)
    try:
        info: os.stat_result | None = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):  # new, or a folder is missing
        info = None
    except OSError as exc:
        raise _fail(shown, _reason(exc, folder), option) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = next((k for test, k in _KINDS if test(info.st_mode)), "not a regular file")
        advice = " (to discard a result, redirect stdout to /dev/null)" \
            if stat.S_ISCHR(info.st_mode) else ""
        raise _fail(shown, f"it is {kind}, not a regular file{advice}", option)
    stream = _standard_stream(info) if info is not None else None
    if stream:
        raise _fail(shown, f"it is the file this process's {stream} goes to; write the "
                           "result to one of them, not both", option)
    try:
        folder_info = os.stat(folder)
    except OSError as exc:
        raise _fail(shown, f"folder {folder} does not exist"
                    if isinstance(exc, (FileNotFoundError, NotADirectoryError))
                    else _reason(exc, folder), option) from None
    if not stat.S_ISDIR(folder_info.st_mode):
        raise _fail(shown, f"{folder} is not a folder", option)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _fail(shown, f"permission denied (folder {folder} is not writable)", option)
    return target


def _temp_name(name: str, limit: int) -> str:
    """`.NAME.RANDOM.tmp`, NAME shortened (whole characters) to fit `limit` bytes."""
    room = max(limit - _TEMP_EXTRA, 1)
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}.{secrets.token_hex(6)}.tmp"


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    limit = _name_max(folder)
    for _ in range(_ATTEMPTS):
        tmp = os.path.join(folder, _temp_name(name, limit))
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
def atomic_output(path: str, option: str = "--out",
                  before_replace: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """A binary stream that becomes `path` when the block ends normally.

    On any exception inside the block (a failed write, a bug, Ctrl-C) the
    temporary file is removed and `path` is left as it was; OSErrors become
    SpecError(location=option) (`option` names the option the path came
    from: --out, --junit).  `before_replace` runs when the temporary file
    is complete (a test hook)."""
    shown = os.fspath(path)
    target = check_target(shown, option)
    folder = os.path.dirname(target)
    try:
        fd, tmp = _create_temp(folder, os.path.basename(target))
    except OSError as exc:
        raise _fail(shown, _reason(exc, folder), option) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        if before_replace is not None:
            before_replace()
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(os.lstat(target).st_mode):  # swapped while we wrote
                raise _fail(shown, "it is no longer a regular file", option)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _fail(shown, _reason(exc, folder), option) from exc
        raise
    _fsync_folder(folder)


def write_atomic(path: str, data: bytes, option: str = "--out",
                 before_replace: Callable[[], None] | None = None) -> None:
    """Write `data` to `path` atomically; SpecError(location=option) on any failure."""
    with atomic_output(path, option, before_replace) as stream:
        stream.write(data)
