"""Input values: every value form of a spec's `inputs:` (and of `--set`)
turned into a numpy array, sized before anything is allocated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError

DTYPES = ("float64", "float32", "int64", "int32", "bool")
FLOAT_DTYPES = ("float64", "float32")
# Large enough for every workload this tool is for (a 5000 x 5000 float64
# Hessian block is 25e6), small enough that a typo cannot exhaust memory.
MAX_ELEMENTS = 50_000_000
VALUE_KEYS = {"value", "dtype", "shape"}
RANDOM_KEYS = {"random", "shape", "seed", "low", "high", "mean", "std", "dtype"}
FILE_KEYS = {"file", "key", "dtype"}


def check_shape(shape: Any, where: Location, limit: int = MAX_ELEMENTS) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise SpecError(f"shape must be a list of integers, got {shape!r}", where)
    if any(d < 0 for d in shape):
        raise SpecError(f"shape {list(shape)} has a negative size", where)
    size = 1
    for d in shape:
        size *= d
    if size > limit:
        raise SpecError(f"shape {list(shape)} has {size} elements, more than the limit of "
                        f"{limit} (raise it with --max-elements)", where)
    return tuple(shape)


def literal_array(value: Any, dtype: str, where: Location) -> np.ndarray:
    if isinstance(value, bool) and dtype != "bool":
        raise SpecError("true/false is not a number here", where)
    try:
        array = np.array(value, dtype=dtype)
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
    if dtype not in DTYPES:
        raise SpecError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})", where)
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
    raise SpecError("an input mapping needs one of 'value', 'random' or 'file'", where)


def _only(entry: dict[str, Any], allowed: set[str], where: Location) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise SpecError(f"unknown key '{extra[0]}' here (allowed: {', '.join(sorted(allowed))})",
                        where)


def _number(entry: dict[str, Any], key: str, default: float, where: Location) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"'{key}' must be a number", where)
    return float(value)


def _random(entry: dict[str, Any], dtype: str, where: Location, limit: int) -> np.ndarray:
    shape = check_shape(entry.get("shape", []), where, limit)
    seed = entry.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError("'seed' must be a non-negative integer", where)
    rng = np.random.default_rng(seed)
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
        raise SpecError(f"unknown random distribution '{kind}' "
                        "(choose uniform, normal or integers)", where)
    return values.astype(dtype)


def _from_file(entry: dict[str, Any], dtype: str, base: Path, where: Location,
               limit: int) -> np.ndarray:
    name = entry["file"]
    if not isinstance(name, str):
        raise SpecError("'file' must be a path", where)
    array = load_array_file(base / name, entry.get("key"), where, name)
    if array.size > limit:
        raise SpecError(f"{name} holds {array.size} elements, more than the limit of {limit}",
                        where)
    if array.dtype.kind == "f" or "dtype" in entry:
        array = array.astype(dtype if "dtype" in entry or array.dtype.kind == "f" else array.dtype)
    return array


def load_array_file(path: Path, key: str | None, where: Location | str,
                    shown: str | None = None) -> np.ndarray:
    """Read one array from .npy or .npz, never unpickling anything."""
    shown = shown or str(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SpecError(f"file not found: {shown}", where) from None
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read {shown} as .npy/.npz: {exc}", where) from None
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
                                    f"'key' ({', '.join(keys)})", where)
                key = keys[0]
            if key not in keys:
                raise SpecError(f"{shown} has no array '{key}' (it has {', '.join(keys)})",
                                where)
            try:
                array = loaded[key]
            except ValueError as exc:
                raise SpecError(f"cannot read '{key}' from {shown}: {exc}", where) from None
    if array.dtype.kind not in "fiub":
        raise SpecError(f"{shown}: arrays must be numeric, not {array.dtype}", where)
    return array.astype("int64") if array.dtype.kind in "iu" else (
        array.astype("bool") if array.dtype.kind == "b" else array)
