"""Conversions of loaded arrays that never change a value silently.

numpy's `astype` wraps integers (a uint64 holding 2**64-1 becomes -1 as
int64), truncates floats to integers (1.5 -> 1) and turns NaN into an
arbitrary integer.  A data file's values are the user's data: a
conversion either keeps every value or is refused with the first value
that does not fit.
"""

from __future__ import annotations

import numpy as np

from gradcli.errors import Location, SpecError


def _first(array: np.ndarray, bad: np.ndarray) -> str:
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
    value = array[index] if array.ndim else array[()]
    where = f" at [{', '.join(map(str, index))}]" if index else ""
    return f"{value.item()!r}{where}"


def exact_cast(array: np.ndarray, dtype: str, label: str,
               where: Location | str | None) -> np.ndarray:
    """`array` as `dtype` if every value survives (floats may round, as any
    float conversion does); SpecError naming the first value that cannot."""
    target = np.dtype(dtype)
    if array.dtype == target or array.size == 0:
        return array.astype(target)
    kind = array.dtype.kind
    if target.kind in "iu":
        info = np.iinfo(target)
        if kind == "f":
            with np.errstate(invalid="ignore"):
                bad = ~np.isfinite(array) | (array != np.round(array)) \
                    | (array < info.min) | (array > info.max)
            if bad.any():
                raise SpecError(f"{label} holds {_first(array, bad)}, not an integer of "
                                f"{target} (a float is converted only when it is one)", where)
        elif kind in "iu":
            low, high = int(array.min()), int(array.max())
            if low < info.min or high > info.max:
                value = high if high > info.max else low
                raise SpecError(f"{label} holds {value}, beyond the range of {target} "
                                f"({info.min} to {info.max})", where)
    elif target.kind == "b" and kind != "b":
        bad = (array != 0) & (array != 1)
        if bad.any():
            raise SpecError(f"{label} holds {_first(array, bad)}, not a bool (0 or 1)", where)
    return array.astype(target)
