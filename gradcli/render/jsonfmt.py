"""`--format json`: the stable interface scripts rely on (DESIGN §2).

Written by hand rather than with `json.dumps` because the stdlib cannot spell
float32 numbers with their own shortest digits and writes NaN/Infinity, which
is not JSON. Layout: the whole document on one line (`{"command": "grad", ...}`),
like `json.dumps` with its default separators, so a script can read it line by
line and `jq` pretty-prints it when a human wants that.
`--precision` never applies here: full precision is the contract.

The document is written to a binary stream as it is walked: keys and meta
as small strings, each array by `arrays.JsonArray` in chunks (spell.py
spells a chunk of numbers with numpy, digit for digit as `repr` would), so
a 40M-element gradient never exists as one string or as Python floats.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from .arrays import JsonArray, Progress, write_array
from .model import Result
from .tree import as_array, nested_sections, plain, spell_float


class _Leaf:
    """An entry's value in the document tree, written by `JsonArray` when reached."""

    def __init__(self, value: np.ndarray | None) -> None:
        self.value = value


def write_array_json(stream: BinaryIO, value: np.ndarray | None,
                     progress: Progress | None = None) -> None:
    """An entry value as JSON: nested lists, a plain number for 0-d, null for None."""
    if value is None:
        stream.write(b"null")
        return
    arr = as_array(value)
    write_array(JsonArray(stream, arr.shape, arr.dtype), arr, progress=progress)


def array_json(value: np.ndarray | None) -> str:
    """`write_array_json` as a string (for small arrays)."""
    buffer = io.BytesIO()
    write_array_json(buffer, value)
    return buffer.getvalue().decode("ascii")


def _quote_nonfinite(token: str) -> str:
    return f'"{token}"' if token in ("nan", "inf", "-inf") else token


def _scalar(value: Any) -> str:
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


def _write(stream: BinaryIO, node: Any, progress: Progress | None) -> None:
    if isinstance(node, _Leaf):
        write_array_json(stream, node.value, progress)
    elif isinstance(node, Mapping):
        stream.write(b"{")
        for i, (key, value) in enumerate(node.items()):
            head = ", " if i else ""
            stream.write(f"{head}{json.dumps(str(key), ensure_ascii=False)}: ".encode())
            _write(stream, value, progress)
        stream.write(b"}")
    else:  # meta, already plain
        stream.write(_dump(node, "").encode("utf-8"))


def write_json(result: Result, stream: BinaryIO, progress: Progress | None = None) -> None:
    """The whole result as one JSON document, UTF-8, with a trailing newline."""
    _write(stream, nested_sections(result, _Leaf), progress)
    stream.write(b"\n")


def render_json(result: Result) -> bytes:
    """`write_json` as bytes."""
    buffer = io.BytesIO()
    write_json(result, buffer)
    return buffer.getvalue()
