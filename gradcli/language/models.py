"""The `models:` block (DESIGN §5): sequential networks validated into
`ModelSpec`s, every mistake named with its FILE:LINE:COL.

    models:
      u:
        layers: [concat, {dense: {units: 16, activation: tanh}}, {dense: 1}]
        init: {seed: 0, kernel: glorot_uniform, bias: zeros}
      net:
        layers: [flatten, {dense: {units: 28, activation: sigmoid}}, {dense: 1}]
        weights: data/weights.npz        # or {file: ..., prefix: other_name}

Each entry of `layers:` is read by its kind in the layer registry
(`layers/`).  Parameters are named MODEL.INDEX.PART (net.1.kernel,
net.2.gamma), INDEX being the 0-based position in `layers:`.  A weights
file is read and checked here, when the spec is loaded, so a file that does
not fit fails with one message listing every missing, extra and mis-shaped
array.  Turning a ModelSpec into graph nodes is `network.py`'s job;
`model_spec` builds one from Python (model importers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError, shortlist
from gradcli.language import initializers as inits
from gradcli.language.layers import REGISTRY, Layer, ParamSpec, parse_layer
from gradcli.language.limits import MAX_ELEMENTS
from gradcli.language.names import check_name
from gradcli.language.yamldoc import Document

MODEL_KEYS = ("layers", "init", "weights", "onnx", "keras")
INIT_KEYS = ("seed", "kernel", "bias")
WEIGHTS_KEYS = ("file", "prefix")


@dataclass(frozen=True)
class Init:
    seed: int = 0
    kernel: inits.Initializer = inits.Initializer("glorot_uniform")
    bias: inits.Initializer = inits.Initializer("zeros")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    layers: tuple[Layer, ...]
    init: Init
    where: Location
    # Loaded parameters by parameter name (None: initialise from `init`),
    # with the file name as the user wrote it and its format (npz; an
    # importer sets onnx, keras, safetensors), for messages and `params`.
    weights: Mapping[str, np.ndarray] | None = None
    weights_file: str = ""
    weights_format: str = "npz"
    # An imported model's own wiring (importers/base.py ModelGraph): an ONNX
    # graph, a Keras functional model; None: `layers` is a chain.
    graph: Any = None

    def parameters(self, features: int | None = None) -> list[tuple[str, ParamSpec]]:
        """Every parameter (name, spec) in layer order, the kind's order within
        a layer; shapes as far as they are known before a call (None where
        only the input can tell: `features` is the width of the model's input)."""
        if self.graph is not None:
            return self.graph.parameters(self.name)
        found = []
        for layer in self.layers:
            kind = REGISTRY[layer.kind]
            found += [(f"{self.name}.{layer.index}.{p.part}", p)
                      for p in kind.params(layer.options, features)]
            features = kind.features(layer.options, features)
        return found

    def parameter_names(self) -> list[str]:
        return [name for name, _ in self.parameters()]


def model_spec(name: str, layers: Sequence[Layer], where: Location, init: Init | None = None,
               weights: Mapping[str, np.ndarray] | None = None, weights_file: str = "",
               weights_format: str = "npz", prefix: str | None = None,
               graph: Any = None) -> ModelSpec:
    """A ModelSpec built in Python (a model importer), its weights checked as
    a `weights:` file's are: every parameter present with its shape, nothing
    else under the prefix (default: the model's name)."""
    model = ModelSpec(name, tuple(layers), init or Init(), where, graph=graph)
    if weights is None:
        return model
    checked = check_weights(model, weights, prefix or name, weights_file or "<arrays>", where)
    return replace(model, weights=checked, weights_file=weights_file,
                   weights_format=weights_format)


def parse_models(doc: Document, raw: Any, folder: Path, reserved: Mapping[str, str],
                 limit: int = MAX_ELEMENTS) -> dict[str, ModelSpec]:
    """Validate the `models:` mapping; `reserved` maps names already taken
    (inputs, expressions, functions) to what they are."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError("models: must be a mapping of name: {layers: [...], ...}",
                        doc.at(("models",)))
    models = {}
    for name, body in raw.items():
        where = doc.key_at(("models", name))
        check_name(name, where, "model")
        if name in reserved:
            raise SpecError(f"model name '{name}' is already {reserved[name]}", where)
        models[name] = _model(doc, ("models", name), name, body, folder, limit)
    return models


def _keys(doc: Document, path: tuple[Any, ...], body: dict[str, Any], allowed: tuple[str, ...],
          what: str) -> None:
    from gradcli.errors import suggest

    for key in body:
        if key not in allowed:
            raise SpecError(f"unknown key '{key}' in {what}{suggest(key, allowed)} "
                            f"(allowed: {', '.join(allowed)})", doc.key_at(path + (key,)))


def _model(doc: Document, path: tuple[Any, ...], name: str, body: Any,
           folder: Path, limit: int = MAX_ELEMENTS) -> ModelSpec:
    if not isinstance(body, dict):
        raise SpecError(f"model '{name}' must be a mapping with a 'layers:' list",
                        doc.at(path))
    _keys(doc, path, body, MODEL_KEYS, f"model '{name}'")
    if "onnx" in body or "keras" in body:  # a model file: importers/
        return _from_file(doc, path, name, body, folder, limit)
    if "layers" not in body:
        raise SpecError(f"model '{name}' has no 'layers:' list", doc.key_at(path))
    layers = _layers(doc, path + ("layers",), body["layers"])
    if "init" in body and "weights" in body:
        raise SpecError(f"model '{name}' has both 'init:' and 'weights:'; weights from a "
                        "file are not initialised: keep one of them",
                        doc.key_at(path + ("weights",)))
    init = _init(doc, path + ("init",), body.get("init"))
    model = ModelSpec(name, layers, init, doc.key_at(path))
    if "weights" in body:
        return _with_weights(doc, path + ("weights",), model, body["weights"], folder, limit)
    return model


def _layers(doc: Document, path: tuple[Any, ...], raw: Any) -> tuple[Layer, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError("layers: must be a non-empty list, like [flatten, {dense: 8}]",
                        doc.at(path))
    return tuple(parse_layer(doc, path + (index,), index, item)
                 for index, item in enumerate(raw))


def _init(doc: Document, path: tuple[Any, ...], raw: Any) -> Init:
    if raw is None:
        return Init()
    if not isinstance(raw, dict):
        raise SpecError("init: must be a mapping like {seed: 0, kernel: glorot_uniform, "
                        "bias: zeros}", doc.at(path))
    _keys(doc, path, raw, INIT_KEYS, "init")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError("seed must be a non-negative integer", doc.at(path + ("seed",)))
    kernel = _initializer(doc, path + ("kernel",), raw.get("kernel", "glorot_uniform"))
    bias = _initializer(doc, path + ("bias",), raw.get("bias", "zeros"))
    return Init(seed, kernel, bias)


def _initializer(doc: Document, path: tuple[Any, ...], raw: Any) -> inits.Initializer:
    """`name`, or `{name: {param: value}}`, or `{constant: value}`."""
    from gradcli.errors import suggest

    where = doc.at(path)
    params: Any = None
    name = raw
    if isinstance(raw, dict) and len(raw) == 1:
        name, params = next(iter(raw.items()))
        where = doc.key_at(path + (name,))
        if name == "constant" and not isinstance(params, dict):
            params = {"value": params}
        elif params is not None and not isinstance(params, dict):
            raise SpecError(f"the parameters of '{name}' must be a mapping like "
                            "{stddev: 0.1}", doc.at(path + (name,)))
        if isinstance(params, dict) and name in inits.PLAIN:
            _keys(doc, path + (name,), params, tuple(inits.PLAIN[name]) or ("(none)",),
                  f"initializer '{name}'")
    if not isinstance(name, str) or name not in inits.NAMES:
        raise SpecError(f"unknown initializer {name!r}{suggest(name, inits.NAMES)}; "
                        f"initializers are {', '.join(inits.NAMES)}", where)
    try:
        return inits.make(name, params)
    except ValueError as exc:
        raise SpecError(str(exc), where) from None


# ---- model files (importers/) ----------------------------------------------------

IMPORT_KEYS = ("onnx", "keras", "weights")


def imported_model(found: Any, name: str, where: Location) -> ModelSpec:
    """The ModelSpec of an importers.Imported (a model file's content)."""
    weights = {f"{name}.{key}": array for key, array in found.weights.items()}
    return model_spec(name, found.layers, where, weights=weights, weights_file=found.file,
                      weights_format=found.fmt, graph=found.graph)


def _from_file(doc: Document, path: tuple[Any, ...], name: str, body: dict[str, Any],
               folder: Path, limit: int) -> ModelSpec:
    """`{onnx: FILE}` or `{keras: FILE}`, optionally with `weights:`."""
    # lazy-for-speed: the importers load only for specs with model files
    from gradcli.language.importers import read_model

    fmt = "onnx" if "onnx" in body else "keras"
    if "onnx" in body and "keras" in body:
        raise SpecError(f"model '{name}' names both an ONNX and a Keras file: keep one",
                        doc.key_at(path + ("keras",)))
    for key in body:
        if key not in IMPORT_KEYS:
            why = ("the file describes the layers" if key == "layers" else
                   "the file holds the weights (replace them with weights:)")
            raise SpecError(f"'{key}' cannot go with {fmt}: in model '{name}': {why}",
                            doc.key_at(path + (key,)))
    file, where = body[fmt], doc.at(path + (fmt,))
    if not isinstance(file, str) or not file:
        raise SpecError(f"{fmt}: must be the path of a model file (relative to the spec)",
                        where)
    model = imported_model(read_model(fmt, folder / file, file, where, limit), name,
                           doc.key_at(path))
    if "weights" in body:
        return _with_weights(doc, path + ("weights",), model, body["weights"], folder, limit)
    return model


# ---- weights files ------------------------------------------------------------------

def _with_weights(doc: Document, path: tuple[Any, ...], model: ModelSpec, raw: Any,
                  folder: Path, limit: int = MAX_ELEMENTS) -> ModelSpec:
    where = doc.at(path)
    if isinstance(raw, dict):
        _keys(doc, path, raw, WEIGHTS_KEYS, "weights")
        file, prefix = raw.get("file"), raw.get("prefix", model.name)
    else:
        file, prefix = raw, model.name
    if not isinstance(file, str) or not file:
        raise SpecError("weights: must be the path of an .npz or .safetensors file (relative "
                        "to the spec), or {file: PATH, prefix: NAME}", where)
    if not isinstance(prefix, str) or not prefix:
        raise SpecError("prefix must be the model name the file's keys start with",
                        doc.at(path + ("prefix",)))
    arrays, fmt = read_weights(folder / file, file, where, limit)
    weights = check_weights(model, arrays, prefix, file, where)
    return replace(model, weights=weights, weights_file=file, weights_format=fmt)


def read_weights(path: Path, shown: str, where: Location,
                 limit: int = MAX_ELEMENTS) -> tuple[dict[str, np.ndarray], str]:
    """The arrays of a weights file and its format: .safetensors (by its
    suffix) or .npz."""
    if path.suffix.lower() == ".safetensors":
        # lazy-for-speed: an optional extra, only for .safetensors files
        from gradcli.language.importers.safetensors_file import read_safetensors

        return read_safetensors(path, shown, where, limit), "safetensors"
    return read_npz(path, shown, where, limit), "npz"


def read_npz(path: Path, shown: str, where: Location,
             limit: int = MAX_ELEMENTS) -> dict[str, np.ndarray]:
    """Every array of an .npz archive, never unpickling anything, each sized
    from its header before it is read."""
    from gradcli.language.inputs import open_arrays, read_member

    loaded = open_arrays(path, where, shown, limit, kind="weights ", fmt=".npz")
    if isinstance(loaded, np.ndarray):
        raise SpecError(f"weights file {shown} holds a single array (.npy); weights: needs "
                        "an .npz archive with one array per parameter, keyed like "
                        "net.1.kernel", where)
    with loaded:
        return {key: read_member(loaded, key, f"weights file {shown}", where, limit)
                for key in loaded.files}


def expected_shapes(model: ModelSpec) -> dict[str, tuple[int | None, ...]]:
    """Shape each parameter must have; None where only a call can tell (the
    input width of a dense layer fed by the model's input or a flatten)."""
    return {name: spec.shape for name, spec in model.parameters()}


def _fits(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(shape) == len(expected) and all(
        e is None or e == s for s, e in zip(shape, expected))


def _shape_text(shape: tuple[int | None, ...]) -> str:
    parts = ["in" if d is None else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_weights(model: ModelSpec, arrays: Mapping[str, np.ndarray], prefix: str,
                  shown: str, where: Location) -> dict[str, np.ndarray]:
    """The model's parameters from a file's arrays (keys PREFIX.INDEX.PART).

    Keys that do not start with `PREFIX.` belong to something else (the
    inputs, other models) and are ignored; among the others every parameter
    must be present with its shape, and nothing else may be there."""
    rename = {f"{prefix}{name[len(model.name):]}": name for name in model.parameter_names()}
    ours = {key: array for key, array in arrays.items() if key.startswith(prefix + ".")}
    by_param = {rename[k]: a for k, a in ours.items() if k in rename}
    shapes = expected_shapes(model)
    missing = [key for key, name in rename.items() if key not in ours]
    extra = sorted(key for key in ours if key not in rename)
    wrong = []
    for key, name in rename.items():
        array = ours.get(key)
        if array is None:
            continue
        if array.dtype.kind not in "fiu":
            wrong.append(f"{key} holds {array.dtype}, not numbers")
        elif not _fits(array.shape, shapes[name]):
            wrong.append(f"{key} has shape {array.shape}, expected {_shape_text(shapes[name])}")
    problems = []
    if missing:
        problems.append("missing " + shortlist(missing))
    if extra:
        problems.append("extra " + shortlist(extra) + " (not a parameter of these layers)")
    if wrong:
        problems.append("wrong shape: " + shortlist(wrong, sep="; "))
    if problems:
        expected = shortlist(f"{k} {_shape_text(shapes[n])}" for k, n in rename.items())
        raise SpecError(f"weights file {shown} does not fit model '{model.name}': "
                        + "; ".join(problems) + f". The model's parameters are: {expected}",
                        where)
    return {name: np.asarray(array) for name, array in by_param.items()}
