"""Reading one entry of `layers:` into a `Layer` through its kind's
options, every mistake located at its FILE:LINE:COL; `make_layer` does
the same for a layer described in Python (model importers), and
`kind_schema` turns a kind's options into its JSON-schema fragment."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gradcli.errors import Location, SpecError, suggest
from gradcli.language.layers.activations import ACTIVATIONS
from gradcli.language.layers.base import Layer, LayerKind
from gradcli.language.layers.options import REQUIRED, Option, Schema
from gradcli.language.layers.registry import REGISTRY
from gradcli.language.yamldoc import Document

Path = tuple[Any, ...]


def parse_layer(doc: Document, path: Path, index: int, item: Any) -> Layer:
    """`name`, or `{name: value}` (the kind's shorthand option), or
    `{name: {option: value, ...}}`."""
    where = doc.at(path)
    if isinstance(item, str):
        name, arg, arg_path = item, None, path
    elif isinstance(item, dict) and len(item) == 1:
        name, arg = next(iter(item.items()))
        arg_path = path + (name,)
        where = doc.key_at(arg_path)
    elif isinstance(item, dict) and (known := [k for k in item if k in REGISTRY]):
        kind = REGISTRY[known[0]]
        raise SpecError(f"a {kind.name} layer's options go inside it: {kind.example}, not "
                        f"{{{kind.name}: ..., {', '.join(k for k in item if k != kind.name)}: "
                        "...}", where)
    else:
        raise SpecError("a layer is a name (flatten, concat, batch_norm) or a one-key mapping "
                        "like {dense: 8}, {dense: {units: 8, activation: tanh}}, "
                        "{conv2d: {filters: 8, kernel_size: 3}}, {activation: relu}", where)
    if not isinstance(name, str) or name not in REGISTRY:
        hint = suggest(name, REGISTRY)
        if isinstance(name, str) and name in ACTIVATIONS:
            hint = f" (write {{activation: {name}}})"
        raise SpecError(f"unknown layer '{name}'{hint}; layers are {', '.join(REGISTRY)}", where)
    kind = REGISTRY[name]
    layer = Layer(name, index, where, read_options(kind, doc, arg_path, arg, where))
    if kind.first_only and index != 0:
        raise SpecError(f"{name} joins the model's inputs (net(x, t)), so it can only be the "
                        "first layer", where)
    return layer


def read_options(kind: LayerKind, doc: Document, path: Path, arg: Any,
                 where: Location) -> Mapping[str, Any]:
    """Every option of `kind` (defaults filled in) from the layer's value."""
    spec = kind.options
    if arg is None and spec.shorthand is not None and spec.by_name[spec.shorthand].required:
        # `dense` alone: its units are missing (the message says so)
        given, paths = {spec.shorthand: None}, {spec.shorthand: path}
    elif arg is None or arg == {}:
        given, paths = {}, {}
    elif isinstance(arg, dict):
        for key in arg:
            if key not in spec.by_name:
                allowed = ", ".join(spec.names) or "no options"
                raise SpecError(f"unknown key '{key}' in {kind.name}{suggest(key, spec.names)} "
                                f"(allowed: {allowed})", doc.key_at(path + (key,)))
        given, paths = dict(arg), {key: path + (key,) for key in arg}
    elif spec.shorthand is not None:
        given, paths = {spec.shorthand: arg}, {spec.shorthand: path}
    elif not spec.items:
        raise SpecError(f"{kind.name} takes no options", doc.at(path))
    else:
        raise SpecError(f"{kind.name} takes its options as a mapping, like {kind.example}",
                        doc.at(path))
    options = {}
    for option in spec.items:
        if option.name in given:
            options[option.name] = _read(kind, option, given[option.name],
                                         doc.at(paths[option.name]))
        elif option.required:
            raise SpecError(_need(kind, option, None), where)
        else:
            options[option.name] = option.default
    return MappingProxyType(options)


def _read(kind: LayerKind, option: Option, value: Any, where: Location) -> Any:
    if value is None and not option.required and option.default is None:
        return None
    try:
        return option.type.read(value)
    except ValueError:
        raise SpecError(_need(kind, option, value), where) from None


def _need(kind: LayerKind, option: Option, value: Any) -> str:
    if option.need:
        return f"{kind.name} needs {option.need}, got {value!r}"
    wanted = option.type.text
    if value is None:
        return f"{kind.name} needs '{option.name}' ({wanted}), like {kind.example}"
    names = getattr(option.type, "names", None) or getattr(option.type, "values", None)
    hint = suggest(value, names) if isinstance(value, str) and names else ""
    return f"'{option.name}' of {kind.name} must be {wanted}, got {value!r}{hint}"


def make_layer(kind: str, index: int, where: Location | None = None,
               **options: Any) -> Layer:
    """A validated Layer built in Python (a model importer): the same checks
    and defaults as the YAML, errors located at `where`."""
    where = where or Location("<python>", 1, 1)
    path = ("layers", index)
    data = {kind: dict(options)} if options else kind
    doc = Document({"layers": {index: data}}, where.file, {path: where})
    return parse_layer(doc, path, index, data)


# ---- JSON schema ------------------------------------------------------------------

def kind_schema(kind: LayerKind) -> list[Schema]:
    """The forms a layer of `kind` may take in YAML (for the layer's anyOf)."""
    spec = kind.options
    body: Schema = {"type": "object",
                    "properties": {o.name: o.schema() for o in spec.items},
                    "additionalProperties": False}
    required = [o.name for o in spec.items if o.default is REQUIRED]
    if required:
        body["required"] = required
    forms: list[Schema] = [body]
    if spec.shorthand is not None:
        forms.insert(0, spec.by_name[spec.shorthand].schema())
    if spec.bare:
        forms.append({"type": "null"})
    value = forms[0] if len(forms) == 1 else {"anyOf": forms}
    return [{"type": "object", "properties": {kind.name: value}, "required": [kind.name],
             "additionalProperties": False, "description": kind.summary}]
