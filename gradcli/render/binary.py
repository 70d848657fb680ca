"""`-o FILE.npy|.npz|.zarr` for results written chunk by chunk: the sink of
a suffix (render/sinks.py has the formats; Zarr, an optional extra, lives
in render/zarr_sink.py and is imported only for a `.zarr` target)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SpecError
from .npz_sink import NpzSink
from .sinks import ArraySpec, NpySink, Sink, sink_kind

__all__ = ["ArraySpec", "Sink", "open_sink", "sink_kind"]


def open_sink(path: str, arrays: Sequence[ArraySpec], meta: Mapping[str, Any] | None = None,
              rows_per_chunk: int | None = None) -> Sink:
    """A sink for `-o path` by its suffix (.npy, .npz, .zarr)."""
    kind = sink_kind(path)
    meta = meta or {}
    if kind == "npy":
        return NpySink(path, arrays, meta)
    if kind == "npz":
        return NpzSink(path, arrays, meta)
    if kind == "zarr":
        from .zarr_sink import ZarrSink

        return ZarrSink(path, arrays, meta, rows_per_chunk)
    raise SpecError(f"-o {path}: streamed results are written as .npy, .npz or .zarr",
                    "--out")
