"""`-o FILE.npz` written chunk by chunk: the layout of `--format npz`
(render/npz.py: keys like `jacobian/y/x`, a `meta` JSON member).

A zip member is written in one go, while chunks arrive for every array in
turn, so each array is first an `.npy` temporary (render/sinks.py), then
copied into the archive at commit: stored, zip64, pinned timestamps, as
`--format npz` writes it.  While it commits, the result takes its size on
disk twice (checked before anything runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .atomic import _fail, _reason
from .sinks import ArraySpec, NpyFile, Sink, _create_temp, _target, check_space


class NpzSink(Sink):
    """Each array an `.npy` temporary, zipped at commit (see the module doc)."""

    def __init__(self, path: str, arrays: Sequence[ArraySpec], meta: Mapping[str, Any]) -> None:
        super().__init__(path, arrays, meta)
        self.shown, self.target, self.folder = _target(self.path)
        if os.path.isdir(self.target):
            raise _fail(self.shown, "it is a folder")
        total = sum(a.nbytes for a in self.arrays.values())
        largest = max((a.nbytes for a in self.arrays.values()), default=0)
        # the temporaries and the archive coexist while it commits
        check_space(self.target, total + largest + 4096 * (len(self.arrays) + 2))
        self.files: dict[str, NpyFile] = {}

    def open(self) -> None:
        try:
            for key, spec in self.arrays.items():
                fd, tmp = _create_temp(self.folder, os.path.basename(self.target), self.temps)
                try:
                    self.files[key] = NpyFile(tmp, fd, spec, self.shown)
                except BaseException:
                    os.close(fd)
                    raise
        except OSError as exc:
            raise _fail(self.shown, _reason(exc, self.folder)) from exc

    def write(self, key: str, index: tuple[Any, ...], data: np.ndarray,
              view: tuple[int, ...] | None = None) -> None:
        self.files[key].write(index, data, view)

    def commit(self) -> None:
        import zipfile

        from .jsonfmt import dumps
        from .npz import META_KEY, member

        def finish() -> str:
            fd, tmp = _create_temp(self.folder, os.path.basename(self.target), self.temps)
            with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(
                    handle, mode="w", compression=zipfile.ZIP_STORED) as archive:
                with member(archive, META_KEY) as out:
                    np.lib.format.write_array(out, np.array(dumps(self.meta)),
                                              allow_pickle=False)
                for key, file in self.files.items():
                    with member(archive, key) as out:
                        file.finish()
                        _copy(file, out)
                        file.close()
                        os.unlink(file.path)
            return tmp

        self.publish(finish)

    def abort(self) -> None:
        for file in self.files.values():
            file.close()
        self.remove_temps()


def _copy(file: NpyFile, member: Any, block: int = 16 << 20) -> None:
    """The whole temporary .npy (header included) into an open zip member."""
    offset = 0
    while offset < file.size:
        data = os.pread(file.fd, min(block, file.size - offset), offset)
        if not data:
            raise OSError(5, "the temporary result file ended early")
        member.write(data)
        offset += len(data)
