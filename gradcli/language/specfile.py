"""A spec file (or dict) validated into a `Spec`: every key checked, every
input value materialised, every expression kept with its location."""

from __future__ import annotations

from collections.abc import Iterator, KeysView, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError, suggest
from gradcli.language.files import MAX_SPEC_BYTES, read_text
from gradcli.language.inputs import FLOAT_DTYPES, MAX_ELEMENTS, from_mapping, literal_array
from gradcli.language.names import check_name, is_name
from gradcli.language.tolerances import tolerance_error
from gradcli.language.yamldoc import Document
from gradcli.language.yamlread import read_yaml

TOP_KEYS = ("name", "description", "dtype", "inputs", "let", "models", "outputs", "wrt",
            "expect")
EXPECT_KEYS = ("value", "grad", "orders", "jacobian", "hessian", "rtol", "atol")


@dataclass(frozen=True)
class Expr:
    """One named expression of `let:` or `outputs:`, with its location."""

    name: str
    text: str
    where: Location
    # `a, b: split(x, 2)` binds several names to one expression's list of
    # arrays: each name is its own Expr with (position, count) here.
    unpack: tuple[int, int] | None = None


@dataclass(frozen=True)
class ConstExpr:
    """A constant-expression input (`t: "ones((4, 1)) * 2"`), built later."""

    text: str
    where: Location


@dataclass(frozen=True)
class Spec:
    file: str
    folder: Path
    name: str
    dtype: str
    inputs: dict[str, np.ndarray | ConstExpr]
    input_at: Mapping[str, Location]
    lets: tuple[Expr, ...]
    outputs: tuple[Expr, ...]
    wrt: tuple[tuple[str, Location], ...] | None
    expect: dict[str, Any] | None
    expect_at: Location | None
    models: dict[str, Any] = field(default_factory=dict)
    doc: Document | None = None


def _parse_models(doc: Document, raw: Any, folder: Path, taken: dict[str, str],
                  limit: int = MAX_ELEMENTS) -> Any:
    if raw is None:
        return {}
    from gradcli.language.models import parse_models  # lazy-for-speed: specs with models

    return parse_models(doc, raw, folder, _reserved(taken), limit)


def load_file(path: str, dtype: str | None = None, limit: int = MAX_ELEMENTS) -> Spec:
    # a regular file of bounded size, never a FIFO or a device (files.py)
    text = read_text(path, "spec file", None, MAX_SPEC_BYTES)
    doc = read_yaml(text, path)
    return from_document(doc, Path(path).resolve().parent, dtype, limit)


def load_dict(data: dict[str, Any], folder: Path | None = None, dtype: str | None = None,
              limit: int = MAX_ELEMENTS) -> Spec:
    doc = Document(data, "<dict>")
    return from_document(doc, folder or Path.cwd(), dtype, limit)


def from_document(doc: Document, folder: Path, dtype: str | None = None,
                  limit: int = MAX_ELEMENTS) -> Spec:
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError("a spec must be a mapping with inputs/outputs keys", doc.at(()))
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(f"unknown key '{key}'{suggest(key, TOP_KEYS)}", doc.key_at((key,)))
    spec_dtype = data.get("dtype", "float64")
    if spec_dtype not in FLOAT_DTYPES:
        raise SpecError(f"dtype must be float64 or float32, got {spec_dtype!r}",
                        doc.at(("dtype",)))
    dtype = dtype or spec_dtype
    inputs, input_at = _inputs(doc, data.get("inputs", {}), dtype, folder, limit)
    lets = _exprs(doc, "let", data.get("let", {}))
    outputs = _exprs(doc, "outputs", data.get("outputs", {}))
    if not outputs:
        raise SpecError("the spec has no outputs: add an 'outputs:' mapping", doc.at(()))
    taken: dict[str, str] = {n: "input" for n in inputs}
    for expr in lets + outputs:
        if expr.name in taken:
            raise SpecError(f"'{expr.name}' is defined twice (already an {taken[expr.name]})",
                            expr.where)
        taken[expr.name] = "expression"
    models = _parse_models(doc, data.get("models"), folder, taken, limit)
    expect = data.get("expect")
    if expect is not None:
        if not isinstance(expect, dict):
            raise SpecError("expect: must be a mapping", doc.at(("expect",)))
        for key in expect:
            if key not in EXPECT_KEYS:
                raise SpecError(f"unknown key '{key}' in expect{suggest(key, EXPECT_KEYS)}",
                                doc.key_at(("expect", key)))
            reason = tolerance_error(expect[key]) if key in ("rtol", "atol") else None
            if reason:  # as check's --rtol/--atol (tolerances.py)
                raise SpecError(f"expect: {key} {reason}", doc.at(("expect", key)))
    name = data.get("name", Path(doc.file).stem)
    return Spec(doc.file, folder, str(name), dtype, inputs, input_at, lets, outputs,
                _wrt(doc, data.get("wrt")), expect, doc.at(("expect",)) if expect else None,
                models, doc)


def _reserved(taken: dict[str, str]) -> dict[str, str]:
    """Names a model may not take: what expressions already mean by them."""
    from gradcli.language.expr import CONSTANTS, DERIVATIVES
    from gradcli.language.functions import CATALOGUE

    reserved = {name: f"an {what}" for name, what in taken.items()}
    reserved.update({name: "a catalogue function" for name in CATALOGUE})
    reserved.update({name: "a derivative function" for name in DERIVATIVES})
    reserved.update({name: "a constant" for name in CONSTANTS})
    return reserved


def _inputs(doc: Document, raw: Any, dtype: str, folder: Path,
            limit: int) -> tuple[dict[str, np.ndarray | ConstExpr], Mapping[str, Location]]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError("inputs: must be a mapping of name: value", doc.at(("inputs",)))
    # The common scalar, where nothing can fail (an int of up to 18 digits
    # cannot overflow a float), in one pass with no Location made: a spec of
    # 200,000 scalar inputs must load in a second or two.
    floats: dict[str, np.ndarray] = {}
    if dtype in FLOAT_DTYPES and all(map(is_name, raw)):
        kind = np.dtype(dtype)
        floats = {name: np.array(value, kind) for name, value in raw.items()
                  if type(value) is float or (type(value) is int and -10**18 < value < 10**18)}
    if len(floats) == len(raw):
        return floats, InputLocations(doc, floats.keys())
    values: dict[str, np.ndarray | ConstExpr] = {}
    for name, value in raw.items():
        made = floats.get(name)
        if made is None:
            check_name(name, doc.key_at(("inputs", name)), "input")
            made = input_value(value, dtype, folder, doc.at(("inputs", name)), limit,
                               quoted=doc.quoted.get(("inputs", name), False))
        values[name] = made
    return values, InputLocations(doc, values.keys())


class InputLocations(Mapping[str, Location]):
    """Where each input is written, made when asked for."""

    def __init__(self, doc: Document, names: KeysView[str]) -> None:
        self.doc, self.names = doc, names

    def __getitem__(self, name: str) -> Location:
        if name not in self.names:
            raise KeyError(name)
        return self.doc.at(("inputs", name))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def input_value(value: Any, dtype: str, folder: Path, where: Location,
                limit: int = MAX_ELEMENTS, quoted: bool = False) -> np.ndarray | ConstExpr:
    """One input value in any of its forms (also used for `--set`)."""
    if isinstance(value, str):
        return ConstExpr(value, where.shifted(1) if quoted else where)
    if isinstance(value, dict):
        return from_mapping(value, dtype, folder, where, limit)
    if value is None:
        raise SpecError("input has no value", where)
    return literal_array(value, dtype, where)


def _exprs(doc: Document, key: str, raw: Any) -> tuple[Expr, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise SpecError(f"{key}: must be a mapping of name: expression", doc.at((key,)))
    out = []
    for name, text in raw.items():
        names = _let_names(name) if key == "let" else [name]
        for one in names:
            check_name(one, doc.key_at((key, name)), "expression")
        where = doc.at((key, name))
        if doc.quoted.get((key, name)):
            where = where.shifted(1)
        if isinstance(text, bool) or not isinstance(text, (str, int, float)):
            raise SpecError(f"'{name}' must be an expression string", where)
        text = text if isinstance(text, str) else repr(text)
        if len(names) == 1 and names[0] == name:
            out.append(Expr(name, text, where))
        else:
            out += [Expr(one, text, where, (k, len(names))) for k, one in enumerate(names)]
    return tuple(out)


def _let_names(key: Any) -> list[Any]:
    """`a, b` (or `a,` for one) as a let key: several names unpacking one
    list of arrays, as Python's `a, b = split(x, 2)`."""
    if not isinstance(key, str) or "," not in key:
        return [key]
    names = [n.strip() for n in key.split(",")]
    return names[:-1] if names[-1] == "" and len(names) > 1 else names


def _wrt(doc: Document, raw: Any) -> tuple[tuple[str, Location], ...] | None:
    if raw is None:
        return None
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise SpecError("wrt: must be a name or a list of names", doc.at(("wrt",)))
    return tuple((item, doc.at(("wrt", i)) if not isinstance(raw, str) else doc.at(("wrt",)))
                 for i, item in enumerate(items))
