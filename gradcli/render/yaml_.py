"""`--format yaml`: the JSON document's structure as YAML.

Same keys, same order and the same digits as json (float32 with its own
shortest digits); non-finite numbers use YAML's native .nan/.inf/-.inf since
YAML, unlike JSON, has them, and a number written with an exponent and no
point gets ".0" (`1.0e-300`: PyYAML would read `1e-300` as a string).
Full precision, like json: `--precision` applies only to the human formats
(text, csv).

Layout, as PyYAML's `safe_dump(default_flow_style=None)` writes it: block
mappings; an array as a flow sequence (`[1.0, 2.0]`) when 1-D, else block
sequences of flow rows, so a matrix reads as one row per line.  The meta
keys are dumped by PyYAML itself; the sections are written here, each array
by `arrays.YamlArray` in chunks, so a large result is never one string.
A row longer than 8 numbers continues on the next line (PyYAML wraps at a
width of 100 characters instead).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np
import yaml

from .arrays import Progress, YamlArray, write_array
from .model import Result
from .tree import array_to_python, as_array, nested_sections

_DUMP = {"sort_keys": False, "default_flow_style": None, "allow_unicode": True, "width": 100}


class _Leaf:
    def __init__(self, value: np.ndarray | None) -> None:
        self.value = value


def _has_leaf(node: Any) -> bool:
    return isinstance(node, _Leaf) or (isinstance(node, Mapping)
                                       and any(_has_leaf(v) for v in node.values()))


def _dump_block(pairs: Mapping[str, Any], width: float = 100) -> str:
    """`pairs` as PyYAML writes them at the top of the whole document: a
    block mapping (alone, a mapping of scalars would come out in flow style)."""
    out = io.StringIO()
    dumper = yaml.SafeDumper(out, **{**_DUMP, "width": width})
    try:
        dumper.open()
        node = dumper.represent_data(dict(pairs))
        node.flow_style = False
        dumper.serialize(node)
        dumper.close()
    finally:
        dumper.dispose()
    return out.getvalue()


def _key(key: str) -> str:
    """A mapping key as PyYAML writes it (quoted when it would read as
    something else: 'on', 'null', '1'); JSON quoting for a key PyYAML would
    make complex (over 128 characters)."""
    text = _dump_block({key: None}, width=float("inf"))
    if text.startswith("? ") or not text.endswith(": null\n"):
        return json.dumps(key, ensure_ascii=False)
    return text[: -len(": null\n")]


def _scalars(node: Any) -> bool:
    """A non-empty mapping of null or 0-d values, which PyYAML writes in flow style."""
    return isinstance(node, Mapping) and bool(node) and all(
        isinstance(v, _Leaf) and (v.value is None or np.ndim(v.value) == 0)
        for v in node.values())


def _by_pyyaml(path: tuple[str, ...], node: Mapping[str, Any]) -> str:
    """The lines PyYAML writes for the mapping of scalars at `path` in the
    whole document (same indentation, quoting and wrapping as before)."""
    value: Any = {k: None if v.value is None else array_to_python(as_array(v.value))
                  for k, v in node.items()}
    for key in reversed(path):
        value = {key: value}
    lines = _dump_block(value).splitlines(keepends=True)
    return "".join(lines[len(path) - 1:])  # the ancestors are one line each


def _write_mapping(stream: BinaryIO, node: Mapping[str, Any], path: tuple[str, ...],
                   progress: Progress | None) -> None:
    indent = "  " * len(path)
    for key, value in node.items():
        if _scalars(value):
            stream.write(_by_pyyaml(path + (key,), value).encode("utf-8"))
            continue
        stream.write(f"{indent}{_key(key)}:".encode())
        if isinstance(value, _Leaf):
            if value.value is None:
                stream.write(b" null")
            else:
                arr = as_array(value.value)
                write_array(YamlArray(stream, arr.shape, arr.dtype, indent=indent), arr,
                            progress=progress)
            stream.write(b"\n")
        elif value:
            stream.write(b"\n")
            _write_mapping(stream, value, path + (key,), progress)
        else:
            stream.write(b" {}\n")


def write_yaml(result: Result, stream: BinaryIO, progress: Progress | None = None) -> None:
    """The whole result as one YAML document, UTF-8, ending in a newline."""
    doc = nested_sections(result, _Leaf)
    if not any(_has_leaf(v) for v in doc.values()):  # no arrays: PyYAML writes it all
        stream.write(yaml.safe_dump(doc, **_DUMP).encode("utf-8"))
        return
    for key, value in doc.items():
        if _has_leaf(value):
            _write_mapping(stream, {key: value}, (), progress)
        else:  # meta (and empty sections): PyYAML's own spelling
            stream.write(_dump_block({key: value}).encode("utf-8"))


def render_yaml(result: Result) -> bytes:
    """`write_yaml` as bytes."""
    buffer = io.BytesIO()
    write_yaml(result, buffer)
    return buffer.getvalue()
