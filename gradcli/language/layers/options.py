"""The options a layer kind takes, declared once: each `Option` reads its
YAML value (with the value's FILE:LINE:COL in every error) and states its
JSON-schema fragment and its documentation, so the loader, `gradcli schema`
and docs/networks.md can never disagree about a layer.

Option types are small frozen dataclasses with three methods:
`read(value) -> parsed` (raises ValueError with what was expected),
`schema() -> dict` and `text` (for docs).  Nothing here imports numpy or
the engine: shell completion reads layers on every Tab press.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]
REQUIRED = object()  # the default of an option that must be given


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Count:
    """An integer >= minimum (units, filters, input_dim)."""

    minimum: int = 1

    @property
    def text(self) -> str:
        return "a positive integer" if self.minimum == 1 else f"an integer >= {self.minimum}"

    def read(self, value: Any) -> int:
        if not _is_int(value) or value < self.minimum:
            raise ValueError(self.text)
        return int(value)

    def schema(self) -> Schema:
        return {"type": "integer", "minimum": self.minimum}


@dataclass(frozen=True)
class Sizes:
    """One positive integer per spatial axis; a single integer stands for
    all of them (Keras's kernel_size=3 is (3, 3) in 2-D)."""

    rank: int

    @property
    def text(self) -> str:
        if self.rank == 1:
            return "a positive integer or a list of one"
        return f"a positive integer or a list of {self.rank} of them"

    def read(self, value: Any) -> tuple[int, ...]:
        items = [value] * self.rank if _is_int(value) else value
        if not isinstance(items, list | tuple) or len(items) != self.rank or \
                not all(_is_int(v) and v >= 1 for v in items):
            raise ValueError(self.text)
        return tuple(int(v) for v in items)

    def schema(self) -> Schema:
        positive = {"type": "integer", "minimum": 1}
        return {"anyOf": [positive, {"type": "array", "items": positive,
                                     "minItems": self.rank, "maxItems": self.rank}]}


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]

    @property
    def text(self) -> str:
        return "one of " + ", ".join(self.values)

    def read(self, value: Any) -> str:
        if value not in self.values:
            raise ValueError(self.text)
        return str(value)

    def schema(self) -> Schema:
        return {"enum": list(self.values)}


@dataclass(frozen=True)
class Flag:
    text: str = "true or false"

    def read(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(self.text)
        return value

    def schema(self) -> Schema:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Real:
    """A finite number in [low, high) (high exclusive when `open_high`)."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    @property
    def text(self) -> str:
        bounds = []
        if self.low > -math.inf:
            bounds.append(f"{'>' if self.open_low else '>='} {self.low:g}")
        if self.high < math.inf:
            bounds.append(f"{'<' if self.open_high else '<='} {self.high:g}")
        return "a number" + (" " + " and ".join(bounds) if bounds else "")

    def read(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value) or value < self.low or value > self.high or \
                (self.open_low and value == self.low) or (self.open_high and value == self.high):
            raise ValueError(self.text)
        return float(value)

    def schema(self) -> Schema:
        schema: Schema = {"type": "number"}
        if self.low > -math.inf:
            schema["exclusiveMinimum" if self.open_low else "minimum"] = self.low
        if self.high < math.inf:
            schema["exclusiveMaximum" if self.open_high else "maximum"] = self.high
        return schema


@dataclass(frozen=True)
class Names:
    """A name from a fixed table (activations), null meaning `none_is`."""

    names: tuple[str, ...]
    none_is: str

    @property
    def text(self) -> str:
        return "one of " + ", ".join(self.names)

    def read(self, value: Any) -> str:
        if value is None:
            return self.none_is
        if not isinstance(value, str) or value not in self.names:
            raise ValueError(self.text)
        return value

    def schema(self) -> Schema:
        return {"enum": [*self.names, None]}


@dataclass(frozen=True)
class TargetShape:
    """Keras's Reshape target: sizes without the batch axis, one may be -1."""

    text: str = "a list of positive sizes, at most one of them -1"

    def read(self, value: Any) -> tuple[int, ...]:
        if not isinstance(value, list | tuple) or not value or \
                not all(_is_int(v) and (v >= 1 or v == -1) for v in value) or \
                list(value).count(-1) > 1:
            raise ValueError(self.text)
        return tuple(int(v) for v in value)

    def schema(self) -> Schema:
        return {"type": "array", "minItems": 1,
                "items": {"type": "integer", "anyOf": [{"minimum": 1}, {"const": -1}]}}


OptionType = Count | Sizes | Choice | Flag | Real | Names | TargetShape


@dataclass(frozen=True)
class Option:
    """One option of a layer kind: its type, default (REQUIRED: must be
    given), meaning, and optionally what a missing or bad value needs, in the
    words of the error message ("a positive number of units, like {dense: 8}")."""

    name: str
    type: OptionType
    default: Any = REQUIRED
    doc: str = ""
    need: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def schema(self) -> Schema:
        schema = {**self.type.schema(), "description": self.doc}
        if not self.required:
            default = list(self.default) if isinstance(self.default, tuple) else self.default
            if default is not None:
                schema["default"] = default
        return schema


@dataclass(frozen=True)
class Options:
    """The options of one kind, and how a layer's YAML value maps onto them."""

    items: tuple[Option, ...] = ()
    shorthand: str | None = None  # the option a plain value fills: {dense: 8}
    by_name: Mapping[str, Option] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {o.name: o for o in self.items})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.items)

    @property
    def bare(self) -> bool:
        """The kind may be written as its name alone (every option has a default)."""
        return not any(o.required for o in self.items)

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.items if not o.required}
