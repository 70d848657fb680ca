"""Binary results written piece by piece: `.npy`, `.npz` and Zarr (`.zarr`).

Results too large to hold in memory (a sweep over millions of points, a
Jacobian larger than RAM) are declared first, every array with its final
shape and dtype, then written region by region as the chunks are computed,
and committed at the end.  Nothing is ever left half-written:

- everything goes to a hidden temporary in the target's folder (same file
  system), which is renamed over the target only by `commit()`; any
  exception (an error, Ctrl-C, SIGTERM turned into SystemExit by the CLI)
  makes the `with` block call `abort()`, which deletes the temporary and
  leaves an existing target as it was.  Only SIGKILL or a power cut can
  leave a temporary behind (a dot-file `.NAME.<random>.tmp`, never NAME);
- the disk space is reserved before the first chunk is computed
  (`posix_fallocate`), so a full disk is reported at once, with the size
  needed and the space free, not hours into the run (and never as a SIGBUS
  from a memory map over a sparse file).

Formats:
- `.npy`: one array.  Header, then the data region, preallocated.  A region
  that is contiguous in the file (rows start:stop of a C-order array, what
  a points sweep and a reverse-mode Jacobian produce) is one `pwrite`; any
  other (columns of a forward-mode block) goes through a memory map,
  flushed and released after each write, so the process's resident memory
  never holds more than one chunk of the file.
- `.npz` (render/npz_sink.py): the layout of `--format npz` (keys
  `jacobian/y/x`, a `meta` JSON member; render/npz.py).  A zip member must
  be written in one go, while chunks arrive for every array in turn, so
  each array is first an `.npy` temporary as above, then copied into the
  archive at commit.  This needs the space twice while it commits.
- `.zarr` (render/zarr_sink.py): a Zarr group (the optional `zarr` extra), arrays at the same
  keys, `meta` in the group's attributes, chunked along axis 0 as the
  sweep is; built in a temporary folder renamed at commit.

This module only writes files; it knows nothing about what is computed.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from ..errors import SpecError
from .atomic import _fail, _fsync_folder, _reason

SUFFIXES = (".npy", ".npz", ".zarr")
WRITE_LIMIT = 1 << 30  # bytes per pwrite call (Linux writes at most ~2 GiB at once)


@dataclass(frozen=True)
class ArraySpec:
    """One array of the output: its key (npz member / Zarr path) and final layout."""

    key: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def sink_kind(path: str | None) -> str | None:
    """'npy', 'npz' or 'zarr' from the suffix of -o, else None."""
    if not path:
        return None
    lower = path.lower().rstrip("/")
    return next((s[1:] for s in SUFFIXES if lower.endswith(s)), None)


def _gb(nbytes: int) -> str:
    return f"{nbytes / 1e9:.3g} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.3g} MB"


def check_space(path: str, needed: int) -> None:
    """Refuse, saying so, when the folder of `path` cannot hold `needed` bytes."""
    folder = os.path.dirname(os.path.realpath(path)) or "."
    try:
        info = os.statvfs(folder)
    except OSError as exc:
        raise _fail(path, _reason(exc, folder)) from exc
    free = info.f_bavail * info.f_frsize
    if needed > free:
        raise SpecError(f"cannot write --out {path}: the result needs {_gb(needed)} on disk "
                        f"and {folder} has {_gb(free)} free", "--out")


class NpyFile:
    """One `.npy` file at `path` (a temporary), preallocated, written by regions."""

    def __init__(self, path: str, fd: int, spec: ArraySpec, shown: str) -> None:
        self.path, self.fd, self.spec, self.shown = path, fd, spec, shown
        self.dtype = np.dtype(spec.dtype)
        header = _header(spec.shape, self.dtype)
        os.pwrite(fd, header, 0)
        self.offset = len(header)
        self.size = self.offset + spec.nbytes
        _reserve(fd, self.size, shown)
        self._map: mmap.mmap | None = None
        self._view: np.ndarray | None = None

    def write(self, index: tuple[Any, ...], data: np.ndarray,
              view: tuple[int, ...] | None = None) -> None:
        """`data` into `array[index]`, the array seen with shape `view` (a
        reshape of its C order; default its own shape)."""
        data = np.asarray(data, dtype=self.dtype)
        shape = self.spec.shape if view is None else tuple(view)
        span = _row_span(index, shape)
        if span is not None:
            start, stop = span
            row = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize
            flat = np.ascontiguousarray(np.broadcast_to(data, (stop - start,) + shape[1:]))
            if flat.size:  # a memoryview of an empty array cannot be cast (zero points)
                _pwrite_all(self.fd, memoryview(flat).cast("B"), self.offset + start * row)
            return
        self._mapped().reshape(shape)[index] = data
        self._release()

    def _mapped(self) -> np.ndarray:
        if self._view is None:
            self._map = mmap.mmap(self.fd, self.size)
            self._view = np.ndarray(self.spec.shape, self.dtype, buffer=self._map,
                                    offset=self.offset)
        return self._view

    def _release(self) -> None:
        """Write the mapped pages back and drop them from this process's memory."""
        if self._map is None:
            return
        self._map.flush()
        if hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    def finish(self) -> None:
        self._view = None
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None
        os.fsync(self.fd)

    def close(self) -> None:
        self._view = None
        if self._map is not None:
            with contextlib.suppress(BufferError, ValueError):
                self._map.close()
            self._map = None
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    import io

    buffer = io.BytesIO()
    fields = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": tuple(int(s) for s in shape)}
    try:
        np.lib.format.write_array_header_1_0(buffer, fields)
    except ValueError:  # a header over 64 KiB (a huge rank): format 2.0
        buffer = io.BytesIO()
        np.lib.format.write_array_header_2_0(buffer, fields)
    return buffer.getvalue()


def _reserve(fd: int, size: int, shown: str) -> None:
    """Allocate the file's blocks now: a full disk fails here, not mid-run."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise SpecError(f"cannot write --out {shown}: the result needs {_gb(size)} on "
                            "disk and the file system has less free", "--out") from None
        # a file system without fallocate: size the file (space was checked first)
        os.ftruncate(fd, size)
    except AttributeError:  # no posix_fallocate on this platform
        os.ftruncate(fd, size)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:done + WRITE_LIMIT], offset + done)


def _row_span(index: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(start, stop) when `index` selects whole rows start:stop (contiguous in C order)."""
    if not shape:
        return (0, 1) if all(i == slice(None) for i in index) else None
    if not index or not isinstance(index[0], slice) or index[0].step not in (None, 1):
        return None
    if any(i != slice(None) for i in index[1:]):
        return None
    start, stop, _ = index[0].indices(shape[0])
    return start, max(start, stop)


class Sink:
    """Declared arrays written by `write(key, index, data)`; a context manager
    that creates its temporaries on entry and commits on success or aborts
    on any exception.  The constructor only validates (a bad path or a full
    disk is refused before any work); files are made in `__enter__`, whose
    own failure (a signal included) aborts too, so no temporary is made
    outside the block that removes it."""

    shown: str   # the path as the user wrote it, for messages
    target: str  # the file (or Zarr folder) it names, symlinks followed
    folder: str  # where the temporaries go: the target's own folder

    def __init__(self, path: str, arrays: Sequence[ArraySpec], meta: Mapping[str, Any]) -> None:
        self.path = os.fspath(path)
        self.arrays = {a.key: a for a in arrays}
        self.meta = dict(meta)
        self.done = False
        self.temps: list[str] = []  # every temporary name, recorded before it is created

    def open(self) -> None:
        raise NotImplementedError

    def write(self, key: str, index: tuple[Any, ...], data: np.ndarray,
              view: tuple[int, ...] | None = None) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def publish(self, finish: Callable[[], str]) -> None:
        """Commit: `finish()` completes the temporary and returns its path,
        which is renamed over the target; any failure aborts (an OSError
        becomes a located error naming the target)."""
        try:
            _publish(finish(), self.target, self.folder)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise _fail(self.shown, _reason(exc, self.folder)) from exc
            raise
        self.temps.clear()
        self.done = True

    def remove_temps(self) -> None:
        for tmp in self.temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.temps.clear()

    def __enter__(self) -> Sink:
        try:
            self.open()
        except BaseException:
            self.abort()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def _create_temp(folder: str, name: str, made: list[str]) -> tuple[int, str]:
    """A new hidden temporary beside the target, open for reading too (memory
    maps and the .npz copy read it back); mode 0o666 less the umask.  Its
    name joins `made` before the file exists, so an abort at any moment
    finds it."""
    import secrets

    for _ in range(16):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        made.append(tmp)
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            made.remove(tmp)  # someone else's file: never ours to delete
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def _target(path: str) -> tuple[str, str, str]:
    """(the path as shown, the real target, its folder); a folder target is refused
    (except a Zarr store, which is a folder)."""
    shown = os.fspath(path)
    if not shown:
        raise _fail(shown, "empty file name")
    target = os.path.realpath(shown)
    return shown, target, os.path.dirname(target)


def _publish(tmp: str, target: str, folder: str) -> None:
    """Rename the finished temporary over the target, keeping the target's mode."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
    os.replace(tmp, target)
    _fsync_folder(folder)


class NpySink(Sink):
    def __init__(self, path: str, arrays: Sequence[ArraySpec], meta: Mapping[str, Any]) -> None:
        super().__init__(path, arrays, meta)
        if len(self.arrays) != 1:
            keys = ", ".join(self.arrays) or "none"
            raise SpecError(f"-o {path}: a .npy file holds one array and this result has "
                            f"{len(self.arrays)} ({keys}); write a .npz or .zarr, or select "
                            "one with --output/--wrt", "--out")
        self.shown, self.target, self.folder = _target(self.path)
        if os.path.isdir(self.target):
            raise _fail(self.shown, "it is a folder")
        (spec,) = self.arrays.values()
        check_space(self.target, spec.nbytes + len(_header(spec.shape, np.dtype(spec.dtype))))
        self.file: NpyFile | None = None

    def open(self) -> None:
        (spec,) = self.arrays.values()
        try:
            fd, tmp = _create_temp(self.folder, os.path.basename(self.target), self.temps)
        except OSError as exc:
            raise _fail(self.shown, _reason(exc, self.folder)) from exc
        try:
            self.file = NpyFile(tmp, fd, spec, self.shown)
        except BaseException:
            os.close(fd)
            raise

    def write(self, key: str, index: tuple[Any, ...], data: np.ndarray,
              view: tuple[int, ...] | None = None) -> None:
        assert self.file is not None, "write inside the sink's with block"
        self.file.write(index, data, view)

    def commit(self) -> None:
        assert self.file is not None, "commit inside the sink's with block"
        file = self.file

        def finish() -> str:
            file.finish()
            file.close()
            return file.path

        self.publish(finish)

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
        self.remove_temps()


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
