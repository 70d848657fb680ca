"""`--format json`: the stable interface scripts rely on (DESIGN §2).

Written by hand rather than with `json.dumps` because the stdlib cannot spell
float32 numbers with their own shortest digits and writes NaN/Infinity, which
is not JSON. Layout: the whole document on one line (`{"command": "grad", ...}`),
like `json.dumps` with its default separators, so a script can read it line by
line and `jq` pretty-prints it when a human wants that.
`--precision` never applies here: full precision is the contract.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .model import Result
from .tree import as_array, nested_sections, plain, spell_elements, spell_float


class _Raw(str):
    """Text that is already valid JSON (a rendered array), emitted verbatim."""


def array_json(value: np.ndarray | None) -> _Raw:
    """An entry value as JSON text: nested lists, a plain number for 0-d, null for None."""
    if value is None:
        return _Raw("null")
    arr = as_array(value)
    tokens = [_quote_nonfinite(t) for t in spell_elements(arr)]
    return _Raw(_nest(tokens, arr.shape, 0))


def _quote_nonfinite(token: str) -> str:
    return f'"{token}"' if token in ("nan", "inf", "-inf") else token


def _nest(tokens: list[str], shape: tuple[int, ...], start: int) -> str:
    if not shape:
        return tokens[start]
    step = math.prod(shape[1:])
    inner = shape[1:]
    return "[" + ", ".join(_nest(tokens, inner, start + i * step) for i in range(shape[0])) + "]"


def _scalar(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _quote_nonfinite(spell_float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write a value of type {type(value).__name__} as JSON")


def _dump(value: Any, indent: str) -> str:
    if isinstance(value, Mapping):
        items = [f"{json.dumps(str(k), ensure_ascii=False)}: {_dump(v, indent)}"
                 for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_dump(v, indent) for v in value) + "]"
    return _scalar(value)


def dumps(value: Any) -> str:
    """Any meta-like value (dicts, lists, numbers, strings, numpy values) as JSON text."""
    return _dump(plain(value), "")


def render_json(result: Result) -> bytes:
    """The whole result as one JSON document, UTF-8, with a trailing newline."""
    doc = nested_sections(result, array_json)  # meta already plain, leaves already JSON
    return (_dump(doc, "") + "\n").encode("utf-8")
