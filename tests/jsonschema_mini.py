"""A small JSON Schema validator for exactly the keywords gradcli's schema
uses, so the schema tests run without the `jsonschema` package (which is not
a dependency).  An unknown keyword is an error, not silently ignored: if the
schema starts using one, this validator must learn it first, and cannot pass
a document it did not really check.  When `jsonschema` is installed the
tests also run the real validator and require the same verdicts.
"""

from __future__ import annotations

import re
from typing import Any

ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "examples", "$defs",
               "$comment"}
KEYWORDS = {"type", "enum", "const", "properties", "additionalProperties", "required",
            "items", "minItems", "anyOf", "oneOf", "not", "$ref", "propertyNames", "pattern",
            "minimum", "minProperties", "maxProperties"} | ANNOTATIONS
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or isinstance(v, float) and v.is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """Every violation of `schema` by `instance`, as 'path: reason' strings."""
    found: list[str] = []
    _check(schema, instance, schema, "$", found)
    return found


def check_schema(schema: dict[str, Any]) -> list[str]:
    """Structural problems of the schema itself: unknown keywords, bad $refs."""
    problems: list[str] = []
    _walk(schema, schema, "#", problems)
    return problems


def _walk(node: Any, root: dict[str, Any], path: str, problems: list[str]) -> None:
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        problems.append(f"{path}: a schema must be an object or a boolean")
        return
    for key in node:
        if key not in KEYWORDS:
            problems.append(f"{path}: unknown keyword {key!r}")
    if "$ref" in node:
        try:
            _resolve(root, node["$ref"])
        except KeyError:
            problems.append(f"{path}: $ref {node['$ref']} does not resolve")
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        problems += [f"{path}: unknown type {k!r}" for k in kinds if k not in TYPES]
    if "pattern" in node:
        re.compile(node["pattern"])
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            _walk(sub, root, f"{path}/{key}/{name}", problems)
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key, [])):
            _walk(sub, root, f"{path}/{key}/{i}", problems)
    for key in ("items", "additionalProperties", "propertyNames", "not"):
        if key in node:
            _walk(node[key], root, f"{path}/{key}", problems)


def _resolve(root: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _check(schema: Any, value: Any, root: dict[str, Any], path: str,
           found: list[str]) -> None:
    if schema is True:
        return
    if schema is False:
        found.append(f"{path}: not allowed")
        return
    if "$ref" in schema:
        _check(_resolve(root, schema["$ref"]), value, root, path, found)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[k](value) for k in kinds):
            found.append(f"{path}: {value!r} is not of type {' or '.join(kinds)}")
            return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and not _same(value, schema["const"]):
        found.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "minimum" in schema and TYPES["number"](value) and value < schema["minimum"]:
        found.append(f"{path}: {value!r} is less than {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) \
            and not re.search(schema["pattern"], value):
        found.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        _check_object(schema, value, root, path, found)
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                _check(schema["items"], item, root, f"{path}[{i}]", found)
    if "anyOf" in schema:
        if not any(not errors_of(s, value, root) for s in schema["anyOf"]):
            found.append(f"{path}: {value!r} matches none of the allowed forms")
    if "oneOf" in schema:
        matching = sum(1 for s in schema["oneOf"] if not errors_of(s, value, root))
        if matching != 1:
            found.append(f"{path}: {value!r} matches {matching} forms, not exactly one")
    if "not" in schema and not errors_of(schema["not"], value, root):
        found.append(f"{path}: {value!r} matches a form that is not allowed")


def _check_object(schema: dict[str, Any], value: dict[str, Any], root: dict[str, Any],
                  path: str, found: list[str]) -> None:
    for key in schema.get("required", []):
        if key not in value:
            found.append(f"{path}: missing required key {key!r}")
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        found.append(f"{path}: fewer than {schema['minProperties']} keys")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        found.append(f"{path}: more than {schema['maxProperties']} keys")
    properties = schema.get("properties", {})
    for key, item in value.items():
        where = f"{path}.{key}"
        if "propertyNames" in schema:
            _check(schema["propertyNames"], key, root, where, found)
        if key in properties:
            _check(properties[key], item, root, where, found)
        elif "additionalProperties" in schema:
            _check(schema["additionalProperties"], item, root, where, found)


def errors_of(schema: Any, value: Any, root: dict[str, Any]) -> list[str]:
    found: list[str] = []
    _check(schema, value, root, "$", found)
    return found


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b
