"""`gradcli params`: a spec's model parameters as a table (text, csv), a
document (json, yaml) or the arrays themselves (npz).

The npz archive holds exactly one array per parameter, keyed by its name
(`net.1.kernel`) and nothing else, so it is a `weights:` file as it stands:
export, edit or train elsewhere, and load it back.  Parameters whose shape
is not known (a model no expression calls) are left out of it and listed
in `ParamTable.missing` for the CLI to say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .defaults import DEFAULT_THRESHOLD
from .textarray import array_text
from .tree import array_to_python, as_array

FORMATS = ("text", "json", "yaml", "csv", "npz")


@dataclass(frozen=True, eq=False)
class ParamRow:
    name: str
    model: str
    shape: tuple[int | None, ...]    # None: not known before the model is called
    dtype: str
    trainable: bool
    source: str                      # init, npz, onnx, keras, ...
    origin: str                      # the initializer and seed, or the file
    value: np.ndarray | None


@dataclass(frozen=True, eq=False)
class ParamTable:
    rows: tuple[ParamRow, ...]
    dtype: str
    values: bool = False             # text/json/yaml: print the arrays too

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rows if r.value is None)


def shape_text(shape: tuple[int | None, ...]) -> str:
    parts = ["in" if d is None else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _size(shape: tuple[int | None, ...]) -> int | None:
    return None if None in shape else int(np.prod(shape, dtype=np.int64))


def _summary(table: ParamTable) -> str:
    models = list(dict.fromkeys(r.model for r in table.rows))
    trainable = sum(r.trainable for r in table.rows)
    known = [_size(r.shape) for r in table.rows]
    count = f"{sum(s for s in known if s is not None):,} numbers" + \
        ("" if None not in known else " (and the ones of models never called)")
    return (f"params: {len(table.rows)} parameters ({trainable} trainable, {count}) of "
            f"{'model' if len(models) == 1 else 'models'} {', '.join(models) or '(none)'}; "
            f"{table.dtype}")


def _text(table: ParamTable, precision: int | None) -> str:
    header = ("name", "shape", "dtype", "trainable", "source", "from")
    cells = [header] + [(r.name, shape_text(r.shape), r.dtype, "yes" if r.trainable else "no",
                         r.source, r.origin) for r in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = [_summary(table), ""] if table.rows else [_summary(table)]
    for row in cells if table.rows else []:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    if table.values:
        for r in table.rows:
            lines += ["", f"{r.name}  shape {shape_text(r.shape)} {r.dtype}"]
            text = "None" if r.value is None else array_text(as_array(r.value), precision,
                                                             DEFAULT_THRESHOLD)
            lines += ["  " + line for line in text.splitlines()]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _document(table: ParamTable, leaf: Callable[[np.ndarray | None], Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for r in table.rows:
        entry = {"model": r.model, "shape": list(r.shape), "dtype": r.dtype,
                 "trainable": r.trainable, "source": r.source, "from": r.origin}
        if table.values:
            entry["value"] = leaf(r.value)
        params[r.name] = entry
    return {"command": "params", "dtype": table.dtype, "params": params}


def _csv(table: ParamTable) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "model", "shape", "dtype", "trainable", "source", "from"])
    for r in table.rows:
        shape = ";".join("" if d is None else str(d) for d in r.shape)
        writer.writerow([r.name, r.model, shape, r.dtype, str(r.trainable).lower(), r.source,
                         r.origin])
    return out.getvalue()


def render_params(table: ParamTable, fmt: str, precision: int | None = None) -> bytes:
    """The bytes of `table` in `fmt` (one of FORMATS)."""
    if fmt == "text":
        return _text(table, precision).encode("utf-8")
    if fmt == "csv":
        return _csv(table).encode("utf-8")
    if fmt == "json":
        from .jsonfmt import dumps  # arrays as nested lists, nan/inf as strings

        return (dumps(_document(table, lambda v: v)) + "\n").encode("utf-8")
    if fmt == "yaml":
        import yaml

        doc = _document(table, lambda v: None if v is None else array_to_python(as_array(v)))
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, allow_unicode=True,
                              width=100).encode("utf-8")
    if fmt == "npz":
        from .npz import archive

        return archive({r.name: as_array(r.value) for r in table.rows if r.value is not None})
    raise ValueError(f"unknown format {fmt!r}")
