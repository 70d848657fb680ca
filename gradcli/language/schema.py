"""A JSON Schema (draft 2020-12) of the spec file, for editors.

`gradcli schema > spec.schema.json` and a line in the editor's settings give
validation, completion of keys and hover help while writing a spec (see
docs/spec.md).  The schema is built from the loader's own tables (top-level
keys, input forms, dtypes, layers, activations, initializers), so a key the
loader learns appears here without a second edit where possible;
tests/test_reference.py checks that the schema names exactly the keys the
loader accepts, that every shipped spec validates and that broken ones do not.

The schema describes shape, not meaning: an expression is any string, and
whether `x` exists or shapes fit is the loader's job (with FILE:LINE:COL).
It is meant to be no stricter than the loader: a spec that loads validates
(the tests hold every shipped spec and every example of docs/spec.md to it).
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
IDENTIFIER = "^(?!__)[A-Za-z_][A-Za-z0-9_]*$"
# a let key may bind several names to a list of arrays: "a, b" (or "a," for one)
_NAME = "(?!__)[A-Za-z_][A-Za-z0-9_]*"
LET_NAMES = f"^{_NAME}(\\s*,\\s*{_NAME})*(\\s*,)?$"
NON_FINITE = ["nan", "inf", "-inf"]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _object(properties: dict[str, Schema], required: tuple[str, ...] = (),
            description: str = "") -> Schema:
    """A closed mapping: unknown keys are errors, as in the loader."""
    schema: Schema = {"type": "object", "properties": properties,
                      "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def _one_key(key: str, value: Schema, description: str) -> Schema:
    return _object({key: value}, (key,), description)


def _shape() -> Schema:
    return {"description": "Array shape: a list of sizes, or one size for 1-D.",
            "anyOf": [{"type": "integer", "minimum": 0},
                      {"type": "array", "items": {"type": "integer", "minimum": 0}}]}


def _input_forms() -> list[Schema]:
    from gradcli.language.inputs import DTYPES

    dtype = {"enum": list(DTYPES), "description": "Element type. Float inputs follow the "
             "spec's dtype (and --dtype); integer and bool inputs are never sources."}
    number = {"type": "number"}
    return [
        {"type": "number", "description": "A scalar literal (a float of the spec's dtype)."},
        {"type": "array", "items": _ref("literal"),
         "description": "A literal array: nested lists of numbers, row-major."},
        {"type": "string", "description": 'A constant expression, e.g. "ones((4, 1)) * 2" or '
                                          '"linspace(0, 1, 5)"; it is a float input.'},
        _object({"value": _ref("literal_or_bool"), "dtype": dtype, "shape": _shape()},
                ("value",), "A literal with options: {value: [0, 1], dtype: int64}; a "
                "scalar value with a shape fills it, a flat list is reshaped."),
        _object({"random": {"enum": ["uniform", "normal", "integers"],
                            "description": "Distribution (numpy.random.default_rng(seed))."},
                 "shape": _shape(),
                 "seed": {"type": "integer", "minimum": 0, "default": 0},
                 "low": {**number, "description": "uniform/integers lower bound (0)."},
                 "high": {**number, "description": "uniform upper bound (1), integers "
                                                   "exclusive upper bound (2)."},
                 "mean": {**number, "description": "normal mean (0)."},
                 "std": {**number, "minimum": 0, "description": "normal standard deviation "
                                                                "(1)."},
                 "dtype": dtype},
                ("random",), "Reproducible random values: {random: uniform, shape: [4, 1], "
                "seed: 0, low: 0, high: 1}."),
        _object({"file": {"type": "string", "description": ".npy or .npz path, relative to "
                                                             "the spec file."},
                 "key": {"type": "string", "description": "The array's name in an .npz "
                                                          "(optional when it holds one)."},
                 "dtype": dtype},
                ("file",), "An array from a file, never unpickled: {file: data.npz, key: W}."),
    ]


def _initializer() -> Schema:
    from gradcli.language import initializers as inits

    forms: list[Schema] = [{"enum": list(inits.NAMES)}]
    for name in inits.VARIANCE_SCALING:
        forms.append(_one_key(name, {"type": ["object", "null"], "maxProperties": 0},
                              f"{name} (no parameters)"))
    for name, params in inits.PLAIN.items():
        body = _object({p: {"type": "number", "default": d} for p, d in params.items()})
        value = {"anyOf": [body, {"type": "null"}]}
        if name == "constant":
            value = {"anyOf": [body, {"type": "number"}]}
        listed = ", ".join(params) or "no parameters"
        forms.append(_one_key(name, value, f"{name} ({listed})"))
    return {"description": "A Keras initializer: a name, {name: {param: value}} or "
                           "{constant: v}.", "anyOf": forms}


def _layer() -> Schema:
    from gradcli.language.layers import REGISTRY, kind_schema

    bare = [name for name, kind in REGISTRY.items() if kind.options.bare]
    return {
        "description": "A layer: a name alone (" + ", ".join(bare) + ") or a one-key mapping "
                       "{kind: options}, e.g. {dense: 8}, {conv2d: {filters: 8, kernel_size: 3}} "
                       "(docs/networks.md lists every kind).",
        "anyOf": [{"enum": bare},
                  *(form for kind in REGISTRY.values() for form in kind_schema(kind))]}


def _model() -> Schema:
    model = _object({
        "layers": {"type": "array", "minItems": 1, "items": _ref("layer"),
                   "description": "The sequential layers; parameters are named "
                                  "MODEL.INDEX.PART (net.1.kernel, net.2.gamma)."},
        "init": _object({"seed": {"type": "integer", "minimum": 0, "default": 0},
                         "kernel": _ref("initializer"), "bias": _ref("initializer")},
                        description="Deterministic initialisation (default glorot_uniform "
                                    "kernels, zero biases, seed 0)."),
        "weights": {"description": "An .npz or .safetensors file of the parameters keyed "
                                   "MODEL.INDEX.PART (gradcli params --format npz writes "
                                   "one), relative to the spec file; with onnx: or keras:, "
                                   "it replaces the file's weights.",
                    "anyOf": [{"type": "string"},
                              _object({"file": {"type": "string"},
                                       "prefix": {"type": "string", "description":
                                                  "The model name the file's keys use."}},
                                      ("file",))]},
        "onnx": {"type": "string", "description": "An ONNX model file (opset 13+), relative "
                                                  "to the spec; its float initializers are "
                                                  "the parameters, MODEL.<ONNX name>."},
        "keras": {"type": "string", "description": "A Keras model file (.keras or legacy "
                                                   ".h5), Sequential or functional, relative "
                                                   "to the spec; parameters MODEL.INDEX.PART."},
    }, (), "A network, called like a function: net(x), u(x, t): a list of layers, or a "
           "model file (docs/networks.md).")
    model["oneOf"] = [{"required": ["layers"]}, {"required": ["onnx"]}, {"required": ["keras"]}]
    model["not"] = {"anyOf": [{"required": ["init", "weights"]}, {"required": ["init", "onnx"]},
                              {"required": ["init", "keras"]}]}
    return model


def _blocks(what: str, inner: Schema) -> Schema:
    return {"type": "object", "additionalProperties": inner, "description": what}


def _expect() -> Schema:
    golden = {"anyOf": [_ref("expected"), {"type": "null"}]}
    properties = {
        "value": _blocks("Values of outputs or let names.", _ref("expected")),
        "grad": _blocks("d(sum of outputs)/d(source), keyed by source as written "
                        "('inp[0,0]', net.1.kernel); null = unconnected.", golden),
        "orders": {"type": "object", "propertyNames": {"pattern": "^[1-9][0-9]*$"},
                   "additionalProperties": _blocks("source: value", golden),
                   "description": "Nested gradients by order (2: {x: ...}), as grad --order."},
        "jacobian": _blocks("output: {source: d(output)/d(source)}",
                            _blocks("source: value", golden)),
        "hessian": _blocks("source_i: {source_j: block}", _blocks("source: value", golden)),
        "rtol": {"type": "number", "minimum": 0, "description": "Relative tolerance (default "
                                                                "1e-7 in float64)."},
        "atol": {"type": "number", "minimum": 0, "description": "Absolute tolerance (default "
                                                                "1e-10 in float64)."},
    }
    return _object(properties, description="Golden values that `gradcli check` compares "
                                           "with the engine.")


def spec_schema() -> Schema:
    """The whole schema as a plain dict (json.dumps-able)."""
    named = {"type": "object", "propertyNames": {"pattern": IDENTIFIER}}
    properties: dict[str, Schema] = {
        "name": {"type": ["string", "number"], "description": "Shown in reports (default: "
                                                              "the file name)."},
        "description": {"description": "Free text; ignored by gradcli."},
        "dtype": {"enum": ["float64", "float32"], "default": "float64",
                  "description": "Float dtype of the computation; --dtype overrides it."},
        "inputs": {**named, "additionalProperties": _ref("input"),
                   "description": "The leaves; any float input can be a source (wrt)."},
        "let": {"type": "object", "propertyNames": {"pattern": LET_NAMES},
                "additionalProperties": _ref("expression"),
                "description": "Ordered intermediate definitions; each can use the ones "
                               "above it, and can be a source. A key 'a, b' unpacks a "
                               "list of arrays (split(x, 2)) into several names."},
        "models": {**named, "additionalProperties": _ref("model"),
                   "description": "Networks: layers, or ONNX/Keras files (docs/networks.md)."},
        "outputs": {**named, "additionalProperties": _ref("expression"), "minProperties": 1,
                    "description": "The targets; grad differentiates their sum."},
        "wrt": {"description": "Default sources: names, components like 'inp[0,0]', "
                               "model names (all parameters) or parameter names.",
                "anyOf": [{"type": "string"},
                          {"type": "array", "items": {"type": "string"}}]},
        "expect": _expect(),
    }
    number = {"type": "number"}
    return {
        "$schema": DRAFT,
        "title": "gradcli spec",
        "description": "A gradcli spec: inputs, intermediate expressions, models and "
                       "outputs to differentiate (docs/spec.md).",
        **_object(properties, ("outputs",)),
        "$defs": {
            "literal": {"anyOf": [number, {"type": "array", "items": _ref("literal")}]},
            "literal_or_bool": {"anyOf": [number, {"type": "boolean"},
                                          {"type": "array", "items": _ref("literal_or_bool")}]},
            "expected": {"description": "A golden array: nested lists of numbers (\"nan\", "
                                        "\"inf\" and \"-inf\" as in --format json).",
                         "anyOf": [number, {"enum": NON_FINITE},
                                   {"type": "array", "items": _ref("expected")}]},
            "expression": {"description": "An expression over inputs and let names above "
                                          "(docs/ops.md), e.g. matmul(sin(a), b).",
                           "type": ["string", "number"]},
            "input": {"description": "An input value in one of its forms.",
                      "anyOf": _input_forms()},
            "model": _model(),
            "layer": _layer(),
            "initializer": _initializer(),
        },
    }


def render() -> str:
    """The schema as the text `gradcli schema` prints (stable key order)."""
    return json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"
