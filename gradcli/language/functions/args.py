"""Validation of the static (non-array) arguments of catalogue functions.

Messages name the argument; the function's name is prefixed by the
registry wrapper, and the compiler adds the file location.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.errors import ShapeError, SpecError


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def static(value: Any) -> Any:
    """A 0-d constant node (what `2 * pi` or `n - 1` of numbers compile to)
    as a Python number; anything else unchanged.  Integral floats made this
    way count as ints, since spec literals are floats."""
    if isinstance(value, Node) and value.op == "const" and value.ndim == 0:
        number = value.attrs["value"].item()
        if isinstance(number, float) and number.is_integer():
            return int(number)
        return number
    return value


def int_arg(arg: str, value: Any, minimum: int | None = None) -> int:
    value = static(value)
    if not _is_int(value):
        raise SpecError(f"argument '{arg}' must be an integer, got {_what(value)}")
    if minimum is not None and value < minimum:
        raise SpecError(f"argument '{arg}' must be at least {minimum}, got {value}")
    return int(value)


def bool_arg(arg: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"argument '{arg}' must be True or False, got {_what(value)}")
    return value


def number_arg(arg: str, value: Any) -> float:
    value = static(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise SpecError(f"argument '{arg}' must be a number, got {_what(value)}")
    return float(value)


def str_arg(arg: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise SpecError(f"argument '{arg}' must be one of {options}, got {_what(value)}")
    return value


def int_sequence(arg: str, value: Any) -> tuple[int, ...]:
    """An int or a (possibly empty) tuple/list of ints."""
    value = static(value)
    if isinstance(value, (tuple, list)):
        value = [static(v) for v in value]
    if _is_int(value):
        return (int(value),)
    if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise SpecError(f"argument '{arg}' must be an integer or a tuple of integers, "
                    f"got {_what(value)}")


def shape_arg(arg: str, value: Any) -> tuple[int, ...]:
    shape = int_sequence(arg, value)
    if any(d < 0 for d in shape):
        raise SpecError(f"argument '{arg}' is a shape and cannot have negative sizes: {shape}")
    return shape


def axis_arg(arg: str, value: Any, ndim: int) -> tuple[int, ...]:
    """Normalized, sorted axes; None means every axis (numpy's reductions)."""
    if value is None:
        return tuple(range(ndim))
    axes = int_sequence(arg, value)
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ShapeError(f"{arg}={ax} is out of range for an array of {ndim} "
                             f"dimension{'s' if ndim != 1 else ''}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{arg}={value} repeats an axis")
    return tuple(sorted(out))


def one_axis(arg: str, value: Any, ndim: int) -> int:
    """A single axis in range(ndim), negative values counted from the end."""
    ax = int_arg(arg, value)
    if not -ndim <= ax < ndim:
        raise ShapeError(f"{arg}={ax} is out of range for an array of {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return ax % ndim


def node_list(arg: str, value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)) or not value:
        raise SpecError(f"argument '{arg}' must be a non-empty list of arrays, like [a, b], "
                        f"got {_what(value)}")
    return list(value)


def _what(value: Any) -> str:
    if isinstance(value, Node):
        return f"an array of shape {value.shape}"
    if isinstance(value, str):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        text = repr(value) if not any(isinstance(v, Node) for v in value) else "a list of arrays"
        return text if len(text) <= 40 else text[:37] + "..."
    return type(value).__name__
