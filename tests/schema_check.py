"""Validation against `gradcli schema` with the `jsonschema` package (the
test extra): the verdicts of a maintained Draft 2020-12 validator, as
'path: reason' strings, and a check that the schema uses only keywords
that validator knows (it would silently ignore a misspelled one)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from gradcli.language.schema import spec_schema

ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "default",
               "examples"}
KNOWN = set(Draft202012Validator.VALIDATORS) | ANNOTATIONS
SUBSCHEMAS = ("items", "additionalProperties", "propertyNames", "not", "contains")
SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def errors(instance: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every violation of the schema (default: gradcli's) by `instance`."""
    validator = Draft202012Validator(spec_schema() if schema is None else schema)
    return [f"${''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(instance)]


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """The metaschema's verdict, plus keywords no Draft 2020-12 validator reads."""
    Draft202012Validator.check_schema(schema)  # raises SchemaError
    problems: list[str] = []
    _walk(schema, "#", problems)
    return problems


def _walk(node: Any, path: str, problems: list[str]) -> None:
    if isinstance(node, bool):
        return
    problems += [f"{path}: unknown keyword {key!r}" for key in node if key not in KNOWN]
    for key in SCHEMA_MAPS:
        for name, sub in node.get(key, {}).items():
            _walk(sub, f"{path}/{key}/{name}", problems)
    for key in SCHEMA_LISTS:
        for i, sub in enumerate(node.get(key, [])):
            _walk(sub, f"{path}/{key}/{i}", problems)
    for key in SUBSCHEMAS:
        if key in node:
            _walk(node[key], f"{path}/{key}", problems)
