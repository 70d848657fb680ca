"""`weights: model.safetensors`: arrays keyed like an .npz weights file
(`net.1.kernel`), read with `safetensors.numpy` (the `gradcli[safetensors]`
extra).

A safetensors file is an 8-byte header length, a JSON header (dtype, shape
and byte range of every tensor) and raw bytes: no code.  The header is read
and checked here first (its length, every shape against --max-elements,
every byte range inside the file and of the size its shape needs), so the
library is only handed a file that cannot make it allocate more than the
file itself."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError
from gradcli.language.importers.files import MAX_JSON_BYTES, byte_limit, parse_json, read_file
from gradcli.language.limits import size_error

# safetensors dtype -> bytes per element (the ones numpy can hold)
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8,
            "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def read_safetensors(path: Path, shown: str, where: Location | str,
                     limit: int) -> dict[str, np.ndarray]:
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load
    except ImportError:
        raise SpecError("reading .safetensors files needs the safetensors package: pip "
                        "install 'gradcli[safetensors]'", where) from None
    label = f"weights file {shown}"
    data = read_file(path, shown, where, "weights file", byte_limit(limit))
    header = check_header(data, label, where, limit)
    try:
        arrays = load(data)
    except (SafetensorError, ValueError, TypeError, OverflowError) as exc:
        raise SpecError(f"cannot read {label} as .safetensors: {exc}", where) from None
    found = {}
    for key in header:
        array = np.asarray(arrays[key])
        found[key] = array.astype("float32") if array.dtype == np.float16 else array
    return found


def check_header(data: bytes, label: str, where: Location | str,
                 limit: int) -> dict[str, Any]:
    """The tensors' entries of the header, every one checked."""
    def bad(why: str) -> SpecError:
        return SpecError(f"cannot read {label} as .safetensors: {why}", where)

    if len(data) < 8:
        raise bad("the file is shorter than its 8-byte header length")
    (length,) = struct.unpack("<Q", data[:8])
    if length > MAX_JSON_BYTES:
        raise bad(f"its header claims {length} bytes, more than the limit of {MAX_JSON_BYTES}")
    if 8 + length > len(data):
        raise bad(f"its header claims {length} bytes, but the file has {len(data) - 8} after "
                  "the length (truncated?)")
    header = parse_json(data[8:8 + length], f"the header of {label}", where)
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    room = len(data) - 8 - length
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    for key, entry in entries.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor '{key}' is not described by dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in ITEMSIZE:
            raise bad(f"tensor '{key}' has dtype {dtype!r}; gradcli reads "
                      f"{', '.join(ITEMSIZE)}" + (" (convert bfloat16 to float32 first)"
                                                  if dtype == "BF16" else ""))
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise bad(f"tensor '{key}' has shape {shape!r:.80}, not a list of integers")
        reason = size_error(shape, limit)
        if reason:
            raise SpecError(f"tensor '{key}' of {label}: {reason}", where)
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offsets):
            raise bad(f"tensor '{key}' has data_offsets {offsets!r:.80}, not [begin, end]")
        begin, end = offsets
        need = int(np.prod(shape, dtype=np.int64)) * ITEMSIZE[dtype] if shape else \
            ITEMSIZE[dtype]
        if not 0 <= begin <= end <= room or end - begin != need:
            raise bad(f"tensor '{key}' spans bytes {begin}..{end} of {room}, but shape "
                      f"{tuple(shape)} of {dtype} needs {need} bytes")
    return entries
