"""`-o RESULT.zarr`: a Zarr group written chunk by chunk (the `zarr` extra).

Arrays sit at the keys of `--format npz` (`hessian/P/P` is array P in
group hessian/P), the meta JSON is the group's attribute `meta`.  Arrays
are chunked along axis 0 as the sweep writes them, so every write fills
whole Zarr chunks and nothing is read back.  The store is built in a
hidden temporary folder beside the target and renamed onto it at commit;
an existing target is replaced only when it is a Zarr store itself (a
folder that is not one is refused rather than deleted).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import SpecError
from .atomic import _fail, _fsync_folder, _reason
from .sinks import ArraySpec, Sink, check_space, remove_tree

STORE_MARKERS = ("zarr.json", ".zgroup", ".zarray")


def _is_store(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, m)) for m in STORE_MARKERS)


class ZarrSink(Sink):
    def __init__(self, path: str, arrays: Sequence[ArraySpec], meta: Mapping[str, Any],
                 rows_per_chunk: int | None = None) -> None:
        super().__init__(path, arrays, meta)
        try:
            import zarr
        except ImportError:
            raise SpecError(f"-o {path}: writing Zarr needs the optional extra: "
                            "pip install 'gradcli[zarr]'", "--out") from None
        self.shown = os.fspath(path)
        self.target = os.path.realpath(self.shown.rstrip("/"))
        self.folder = os.path.dirname(self.target)
        if os.path.isfile(self.target) or (os.path.isdir(self.target)
                                           and os.listdir(self.target)
                                           and not _is_store(self.target)):
            raise _fail(self.shown, "it exists and is not a Zarr store")
        check_space(self.target, sum(a.nbytes for a in self.arrays.values()) + (1 << 20))
        name = os.path.basename(self.target)
        self.tmp = os.path.join(self.folder, f".{name}.{secrets.token_hex(6)}.tmp")
        self.rows_per_chunk = rows_per_chunk
        self.zarr = zarr

    def open(self) -> None:
        zarr, rows_per_chunk = self.zarr, self.rows_per_chunk
        try:
            self.group = zarr.open_group(store=self.tmp, mode="w-")
            self.group.attrs["meta"] = _plain(self.meta)
            self.out: dict[str, Any] = {}
            for key, spec in self.arrays.items():
                rows = spec.shape[0] if spec.shape else 1
                lead = (max(1, min(rows_per_chunk or rows, rows)),) if spec.shape else ()
                self.out[key] = self.group.create_array(
                    key, shape=spec.shape, dtype=spec.dtype,
                    chunks=lead + tuple(max(1, s) for s in spec.shape[1:]))
        except OSError as exc:
            raise _fail(self.shown, _reason(exc, self.folder)) from exc

    def write(self, key: str, index: tuple[Any, ...], data: np.ndarray,
              view: tuple[int, ...] | None = None) -> None:
        spec = self.arrays[key]
        if view is not None and tuple(view) != spec.shape:
            raise SpecError(f"-o {self.shown}: a Zarr array cannot be written through a "
                            f"reshaped view ({key} of shape {spec.shape}); write .npy or .npz",
                            "--out")
        self.out[key][index] = np.asarray(data, dtype=spec.dtype)

    def commit(self) -> None:
        old = None
        try:
            if os.path.isdir(self.target):
                old = os.path.join(self.folder, f".{os.path.basename(self.target)}."
                                   f"{secrets.token_hex(6)}.old")
                os.replace(self.target, old)
            os.replace(self.tmp, self.target)
            _fsync_folder(self.folder)
        except BaseException as exc:
            if old is not None and not os.path.exists(self.target):
                with contextlib.suppress(OSError):
                    os.replace(old, self.target)
                old = None
            self.abort()
            if isinstance(exc, OSError):
                raise _fail(self.shown, _reason(exc, self.folder)) from exc
            raise
        if old is not None:
            remove_tree(old)
        self.done = True

    def abort(self) -> None:
        remove_tree(self.tmp)


def _plain(value: Any) -> Any:
    """Meta as JSON-able Python values (Zarr attributes are JSON)."""
    import json

    from .jsonfmt import dumps

    return json.loads(dumps(value))
