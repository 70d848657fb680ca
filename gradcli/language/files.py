"""Input paths are checked, not trusted: every file gradcli reads (a spec,
a `.npy`/`.npz` data or weights file, `--set x=@file`, and the model files
to come) goes through `check_input` or `read_input` first.

A path must name a regular file of bounded size.  What else a path can
name is refused by `stat`, before anything is opened: a FIFO (opening one
blocks until a writer appears: a hang in CI, or on a Tab press), a device
(`/dev/zero` never ends; opening some devices has side effects, and CI
often runs as root), a socket or a folder.  A path with a NUL byte cannot
name a file at all.  `read_input` then opens without blocking, checks with
`fstat` that it opened the file it checked (a path swapped for a FIFO in
between is refused too) and reads at most its bound.
"""

from __future__ import annotations

import os
import stat

from gradcli.errors import Location, SpecError

# A spec is read whole and parsed by PyYAML; larger data belongs in .npy files
# (whose size is bounded by their headers and --max-elements, not by bytes).
MAX_SPEC_BYTES = 16 << 20

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """'a folder', 'a FIFO (named pipe)', ... for a non-regular file's mode."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size_text(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size} bytes"


def check_input(path: str | os.PathLike[str], what: str, where: Location | str | None,
                max_bytes: int | None = None, shown: str | None = None) -> os.stat_result:
    """The stat of `path` if it is a regular file (of at most `max_bytes`);
    else SpecError at `where`.  `what` names the file in messages ("spec
    file", "weights file", "" for a data file)."""
    shown = os.fspath(path) if shown is None else shown
    label = f"{what} {shown}" if what else shown
    text = os.fspath(path)
    if "\0" in str(text):
        raise SpecError(f"{what + ' ' if what else ''}path {shown!r} contains a NUL byte, "
                        "which no file name can", where)
    try:
        info = os.stat(text)
    except FileNotFoundError:
        raise SpecError(f"{what or 'file'} not found: {shown}", where) from None
    except NotADirectoryError:
        raise SpecError(f"{what or 'file'} not found: {shown} (a part of the path is not a "
                        "folder)", where) from None
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read {label}: {_reason(exc)}", where) from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"{label} is {kind_of(info.st_mode)}, not a regular file", where)
    if max_bytes is not None and info.st_size > max_bytes:
        raise SpecError(f"{label} is {_size_text(info.st_size)}, more than the limit of "
                        f"{_size_text(max_bytes)}", where)
    return info


def read_input(path: str | os.PathLike[str], what: str, where: Location | str | None,
               max_bytes: int, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, read without
    blocking on anything that is not one."""
    shown = os.fspath(path) if shown is None else shown
    label = f"{what} {shown}" if what else shown
    checked = check_input(path, what, where, max_bytes, shown)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(os.fspath(path), flags)
    except OSError as exc:
        raise SpecError(f"cannot read {label}: {_reason(exc)}", where) from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino) \
                or not stat.S_ISREG(opened.st_mode):
            raise SpecError(f"{label} changed while it was opened (now "
                            f"{kind_of(opened.st_mode)}); not read", where)
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise SpecError(f"cannot read {label}: {_reason(exc)}", where) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew after the stat
        raise SpecError(f"{label} is larger than the limit of {_size_text(max_bytes)}", where)
    return data


def read_text(path: str | os.PathLike[str], what: str, where: Location | str | None,
              max_bytes: int, shown: str | None = None) -> str:
    """`read_input`, decoded as UTF-8 (a leading byte-order mark dropped)."""
    shown = os.fspath(path) if shown is None else shown
    data = read_input(path, what, where, max_bytes, shown)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8-sig", "replace")) + 1
        at = where if where is not None else Location(shown, line, column)
        raise SpecError(f"cannot read {what} {shown}: it is not UTF-8 text (byte "
                        f"0x{data[exc.start]:02x})", at) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)

