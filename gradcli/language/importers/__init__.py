"""Models from files that other libraries saved: ONNX graphs and Keras
models (docs/networks.md, "Importing models"), read without running any
code from the file.

    models:
      net: {onnx: model.onnx}                    # initializers -> net.<ONNX name>
      cnn: {keras: model.keras}                  # or a legacy .h5
      mlp: {keras: model.h5, weights: new.safetensors}   # other weights, same keys

`read_model` gives what the file declares (`Imported`: layers, weights,
wiring, inputs and outputs); `models.py` turns it into a ModelSpec, and a
spec-less call (`gradcli grad --model model.onnx`) reads the inputs and
outputs from it too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError
from gradcli.language.importers.base import Port
from gradcli.language.layers import Layer

FORMATS = {"onnx": (".onnx",), "keras": (".keras", ".h5", ".hdf5")}


@dataclass(frozen=True)
class Imported:
    """A model file's content: `weights` keyed by the parameter name after
    the model's (`0.kernel`, `fc1.weight`); `graph` None for a chain of
    `layers` (a Keras Sequential model)."""

    fmt: str
    file: str                        # as the user wrote it
    layers: tuple[Layer, ...]
    weights: dict[str, np.ndarray]
    graph: Any
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]


def format_of(path: str, where: Location | str) -> str:
    """"onnx" or "keras", from a file name's suffix (spec-less calls)."""
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    known = ", ".join(s for suffixes in FORMATS.values() for s in suffixes)
    raise SpecError(f"cannot tell the format of model file {path}: its name must end in "
                    f"{known}", where)


def read_model(fmt: str, path: Path, shown: str, where: Location | str,
               limit: int) -> Imported:
    """The model in file `path` (`shown` as the user wrote it)."""
    if fmt == "onnx":
        from gradcli.language.importers.onnx_file import read_onnx
        from gradcli.language.importers.onnx_graph import OnnxGraph

        graph = OnnxGraph(read_onnx(path, shown, where, limit), where)
        return Imported("onnx", shown, (), graph.weights(), graph, graph.inputs, graph.outputs)
    from gradcli.language.importers.keras_file import read_keras
    from gradcli.language.importers.keras_model import read_model as read_keras_model

    found = read_keras_model(read_keras(path, shown, where, limit), where)
    return Imported("keras", shown, found.layers, found.weights, found.graph, found.inputs,
                    found.outputs)
