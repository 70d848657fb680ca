"""Shared pieces of the data formats: number spelling and the nested layout.

Number spelling (used by json, yaml and csv, so they agree digit for digit):
- float64: Python's `repr`, the shortest decimal that round-trips;
- float32/float16: the shortest decimal that round-trips *in that dtype*
  (0.1, not 0.10000000149011612), so reading it back and casting to the
  dtype gives the same bits; longer floats (longdouble) are rounded to float64;
- integers as integers, booleans as true/false;
- non-finite numbers as "nan", "inf", "-inf" (the JSON contract in DESIGN §2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .model import Result


def as_array(value: Any) -> np.ndarray:
    """The entry value as an ndarray of a kind the formats can spell."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot render an array of dtype {arr.dtype} (need bool, int or float)")
    return arr


def float_digits(arr: np.ndarray) -> list[float]:
    """Elements of a float array as Python floats carrying the dtype's shortest digits.

    For float32 the Python float is the float64 nearest to the float32's
    shortest decimal, so `repr` of it prints exactly those digits: a decimal
    of at most 9 significant digits round-trips through float64 unchanged.
    """
    flat = arr.ravel()
    if arr.dtype == np.float64:
        return flat.tolist()
    if arr.dtype.itemsize < 8:
        return [float(np.format_float_scientific(x, unique=True)) for x in flat]
    return flat.astype(np.float64).tolist()


def spell_float(x: float) -> str:
    """A Python float (from `float_digits`) as JSON/CSV text."""
    if math.isfinite(x):
        return repr(x)
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def spell_elements(arr: np.ndarray) -> list[str]:
    """Every element of `arr`, in C order, spelled as JSON/CSV number text."""
    if arr.dtype.kind == "f":
        return [spell_float(x) for x in float_digits(arr)]
    if arr.dtype.kind == "b":
        return ["true" if x else "false" for x in arr.ravel().tolist()]
    return [str(x) for x in arr.ravel().tolist()]


def nested_sections(result: Result, leaf: Callable[[np.ndarray | None], Any]) -> dict[str, Any]:
    """{"command": ..., **meta, sections...} with `leaf(value)` at each entry's path.

    Keys keep insertion order (entries in the order the CLI made them). A path
    that would overwrite a key or a subtree is a programming error in the
    caller and raises ValueError rather than silently dropping a number.
    """
    doc: dict[str, Any] = {"command": result.command}
    for key, value in result.meta.items():
        if key in doc:
            raise ValueError(f"meta key {key!r} collides with 'command'")
        doc[key] = plain(value)
    meta_keys = set(doc)
    for section in result.sections:
        doc.setdefault(section, {})
    for entry in result.entries:
        if entry.path[0] in meta_keys:
            raise ValueError(f"entry path {entry.path!r} collides with a meta key")
        node = doc
        for depth, key in enumerate(entry.path[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"entry path {entry.path!r} runs through the leaf "
                                 f"{entry.path[: depth + 1]!r}")
            node = child
        last = entry.path[-1]
        if last in node:
            raise ValueError(f"two entries share the path {entry.path!r}")
        node[last] = leaf(entry.value)
    return doc


def plain(value: Any) -> Any:
    """Meta values as plain Python data (dict/list/str/int/float/bool/None).

    numpy scalars and arrays become numbers and nested lists spelled like
    entries; tuples become lists. Anything else is a caller error.
    """
    if isinstance(value, str):
        return str(value)  # also turns np.str_ into a plain str
    # numpy before float: np.float64 subclasses float but is not plain data for YAML.
    if isinstance(value, (np.ndarray, np.generic)):
        return array_to_python(as_array(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    raise TypeError(f"cannot render a meta value of type {type(value).__name__}")


def array_to_python(arr: np.ndarray) -> Any:
    """Nested lists (or a scalar for 0-d) of Python numbers with the dtype's digits."""
    if arr.dtype.kind == "f":
        items: list[Any] = float_digits(arr)
    else:
        items = arr.ravel().tolist()
    boxed = np.empty(len(items), dtype=object)
    boxed[:] = items
    return boxed.reshape(arr.shape).tolist()
