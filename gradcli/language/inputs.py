"""Input values: every value form of a spec's `inputs:` (and of `--set`)
turned into a numpy array, sized before anything is allocated."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError, shortlist, suggest
from gradcli.language.exact import exact_cast
from gradcli.language.files import check_input
from gradcli.language.limits import MAX_ELEMENTS, size_error
from gradcli.language.npyheader import HeaderError, read_header

DTYPES = ("float64", "float32", "int64", "int32", "bool")
FLOAT_DTYPES = ("float64", "float32")
# What a broken or hostile .npy/.npz can make numpy or zipfile raise.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, RuntimeError, zipfile.BadZipFile,
               zlib.error)
VALUE_KEYS = {"value", "dtype", "shape"}
RANDOM_KEYS = {"random", "shape", "seed", "low", "high", "mean", "std", "dtype"}
FILE_KEYS = {"file", "key", "dtype"}


def check_shape(shape: Any, where: Location, limit: int = MAX_ELEMENTS) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise SpecError(f"shape must be a list of integers, got {shape!r}", where)
    reason = size_error(shape, limit)
    if reason:
        raise SpecError(reason, where)
    return tuple(shape)


def literal_array(value: Any, dtype: str, where: Location) -> np.ndarray:
    if isinstance(value, bool) and dtype != "bool":
        raise SpecError("true/false is not a number here", where)
    try:
        array = np.array(value, dtype=dtype)
    except OverflowError:
        raise SpecError(f"a number is too large for {dtype}", where) from None
    except (ValueError, TypeError) as exc:
        reason = "rows of different lengths" if "inhomogeneous" in str(exc) else str(exc)
        raise SpecError(f"not a numeric array of {dtype}: {reason}", where) from None
    if array.dtype.kind == "f" and dtype.startswith("int"):
        raise SpecError(f"not a numeric array of {dtype}", where)
    if dtype.startswith("int") and not _all_integral(value):
        raise SpecError(f"{dtype} input has non-integer numbers", where)
    check_shape(list(array.shape), where)
    return array


def _all_integral(value: Any) -> bool:
    if isinstance(value, list):
        return all(_all_integral(v) for v in value)
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def pick_dtype(entry: dict[str, Any], default: str, where: Location) -> str:
    dtype = entry.get("dtype", default)
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r:.40}{suggest(dtype, DTYPES)} (choose from "
                        f"{', '.join(DTYPES)})", where)
    # A float input follows the problem's float dtype (--dtype float32 applies).
    return default if dtype in FLOAT_DTYPES else dtype


def from_mapping(entry: dict[str, Any], default: str, base: Path, where: Location,
                 limit: int = MAX_ELEMENTS) -> np.ndarray:
    dtype = pick_dtype(entry, default, where)
    if "value" in entry:
        _only(entry, VALUE_KEYS, where)
        array = literal_array(entry["value"], dtype, where)
        if "shape" in entry:
            shape = check_shape(entry["shape"], where, limit)
            if array.ndim == 0:
                array = np.full(shape, array, dtype=dtype)
            elif array.size == int(np.prod(shape, dtype=np.int64)):
                array = array.reshape(shape)
            else:
                raise SpecError(f"value of shape {array.shape} does not fit shape "
                                f"{list(shape)}", where)
        return array
    if "random" in entry:
        _only(entry, RANDOM_KEYS, where)
        return _random(entry, dtype, where, limit)
    if "file" in entry:
        _only(entry, FILE_KEYS, where)
        return _from_file(entry, dtype, base, where, limit)
    forms = ("value", "random", "file")
    hint = next((h for h in (suggest(k, forms) for k in entry) if h), "")
    raise SpecError(f"an input mapping needs one of 'value', 'random' or 'file'{hint}", where)


def _only(entry: dict[str, Any], allowed: set[str], where: Location) -> None:
    extra = sorted(set(entry) - allowed, key=str)
    if extra:
        raise SpecError(f"unknown key '{extra[0]}' here{suggest(extra[0], allowed)} "
                        f"(allowed: {', '.join(sorted(allowed))})", where)


def _number(entry: dict[str, Any], key: str, default: float, where: Location) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"'{key}' must be a number", where)
    try:
        number = float(value)
    except OverflowError:
        number = float("inf")
    if not np.isfinite(number):
        raise SpecError(f"'{key}' must be a finite number, got {value!r:.40}", where)
    return number


def _random(entry: dict[str, Any], dtype: str, where: Location, limit: int) -> np.ndarray:
    shape = check_shape(entry.get("shape", []), where, limit)
    seed = entry.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError("'seed' must be a non-negative integer", where)
    rng = np.random.default_rng(seed)
    try:
        return _draw(rng, entry, dtype, shape, where)
    except (ValueError, OverflowError) as exc:  # e.g. a range wider than float64
        raise SpecError(f"cannot draw these random numbers: {exc}", where) from None


def _draw(rng: np.random.Generator, entry: dict[str, Any], dtype: str,
          shape: tuple[int, ...], where: Location) -> np.ndarray:
    kind = entry["random"]
    if kind == "uniform":
        low, high = _number(entry, "low", 0.0, where), _number(entry, "high", 1.0, where)
        values = rng.uniform(low, high, size=shape)
    elif kind == "normal":
        mean, std = _number(entry, "mean", 0.0, where), _number(entry, "std", 1.0, where)
        values = rng.normal(mean, std, size=shape)
    elif kind == "integers":
        low, high = int(_number(entry, "low", 0, where)), int(_number(entry, "high", 2, where))
        if high <= low:
            raise SpecError("'high' must be larger than 'low'", where)
        values = rng.integers(low, high, size=shape)
        return values.astype(dtype if dtype.startswith("int") else "int64")
    else:
        raise SpecError(f"unknown random distribution {kind!r:.40}"
                        f"{suggest(kind, ('uniform', 'normal', 'integers'))} "
                        "(choose uniform, normal or integers)", where)
    return values.astype(dtype)


def _from_file(entry: dict[str, Any], dtype: str, base: Path, where: Location,
               limit: int) -> np.ndarray:
    name = entry["file"]
    if not isinstance(name, str):
        raise SpecError("'file' must be a path", where)
    array = load_array_file(base / name, entry.get("key"), where, name, limit)
    if array.dtype.kind == "f" or "dtype" in entry:
        # never wrapped or truncated: an int32 or bool conversion keeps every value
        array = exact_cast(array, dtype, name, where)
    return array


class _Refused(Exception):
    """A .npy header that may not be read further (its reason is the message)."""


def open_arrays(path: Path, where: Location | str, shown: str, limit: int = MAX_ELEMENTS,
                kind: str = "", fmt: str = ".npy/.npz") -> np.ndarray | Any:
    """np.load of a regular .npy/.npz file, never unpickling anything: an
    ndarray (.npy) or a lazy NpzFile whose members are read one by one.
    `kind` ("weights ") and `fmt` only shape the messages."""
    label = f"{kind}file {shown}" if kind else shown
    # a regular file, refused by stat before any open otherwise (files.py)
    check_input(path, f"{kind}file" if kind else "", where, shown=shown)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
            if magic == b"\x93NUMPY":
                handle.seek(0)
                # object arrays, oversized shapes and missing data are refused before reading
                _check_header(handle, label, where, limit, os.fstat(handle.fileno()).st_size)
    except _Refused as exc:
        raise SpecError(f"cannot read {label} as {fmt}: {exc}", where) from None
    except OSError as exc:
        raise SpecError(f"cannot read {label}: {exc.strerror or exc}", where) from None
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise SpecError(f"cannot read {label} as {fmt}: it is not a .npy or .npz file", where)
    try:
        return np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:
        raise SpecError(f"cannot read {label} as {fmt}: {exc}", where) from None


def _check_header(handle: Any, label: str, where: Location | str, limit: int,
                  available: int) -> None:
    """The .npy stream at `handle` (`available` bytes long), checked from its
    header only, so that a file claiming 10**12 elements, or more data than
    it holds, is refused before numpy allocates."""
    try:
        header = read_header(handle)
    except HeaderError as exc:
        raise _Refused(str(exc)) from None
    if header.dtype.hasobject or header.dtype.kind not in "fiub":
        raise _Refused(f"arrays must be numeric, not {header.dtype}")
    _check_size(header.shape, label, where, limit)
    if available - header.offset < header.data_bytes:
        raise _Refused(f"its header declares {header.data_bytes} bytes of data, the file "
                       f"holds {max(available - header.offset, 0)}")


def read_member(loaded: Any, key: str, label: str, where: Location | str,
                limit: int) -> np.ndarray:
    """One array of an open .npz archive, sized from its header first (the
    members may be compressed: a small file can claim a huge array)."""
    try:
        name = f"{key}.npy"
        with loaded.zip.open(name) as member:
            _check_header(member, f"array '{key}' of {label}", where, limit,
                          loaded.zip.getinfo(name).file_size)
        return loaded[key]
    except (*READ_ERRORS, _Refused) as exc:
        raise SpecError(f"cannot read array '{key}' of {label}: {exc}", where) from None


def _check_size(shape: tuple[int, ...], label: str, where: Location | str, limit: int) -> None:
    reason = size_error(shape, limit)
    if reason:
        raise SpecError(f"{label}: {reason}", where)


def load_array_file(path: Path, key: str | None, where: Location | str,
                    shown: str | None = None, limit: int = MAX_ELEMENTS) -> np.ndarray:
    """Read one array from .npy or .npz, never unpickling anything."""
    shown = shown or str(path)
    loaded = open_arrays(path, where, shown, limit)
    if isinstance(loaded, np.ndarray):
        if key is not None:
            raise SpecError(f"{shown} is a .npy file: it has no key '{key}'", where)
        array = loaded
    else:
        with loaded:
            keys = list(loaded.keys())
            if key is None:
                if len(keys) != 1:
                    raise SpecError(f"{shown} holds {len(keys)} arrays: say which with "
                                    f"'key' ({shortlist(keys)})", where)
                key = keys[0]
            if key not in keys:
                raise SpecError(f"{shown} has no array '{key}'{suggest(key, keys)} (it has "
                                f"{shortlist(keys)})", where)
            array = read_member(loaded, key, shown, where, limit)
    # uint64 beyond int64 is refused, not wrapped (2**64-1 would become -1)
    return exact_cast(array, "int64", shown, where) if array.dtype.kind in "iu" else (
        array.astype("bool") if array.dtype.kind == "b" else array)
