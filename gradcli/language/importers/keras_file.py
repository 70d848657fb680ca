"""Keras model files read without Keras (and never TensorFlow): the model's
config (JSON) and its weights (HDF5, read with h5py, the `gradcli[keras]`
extra).

- `.keras` (Keras 3): a zip of `config.json`, `model.weights.h5` and
  `metadata.json`.  The weights of the layer at position i of `model.layers`
  are the datasets `layers/NAME/vars/0, 1, ...`, NAME being the snake_case
  of its class with a counter per class (`dense`, `dense_1`), as Keras's
  saving library names them.
- `.h5` (legacy): the config in the root attribute `model_config`, the
  weights of layer NAME under `model_weights/NAME`, in the order of its
  `weight_names` attribute.

Every member, attribute and dataset is sized before it is read; datasets
stored in other files (HDF5 external storage, virtual datasets, external
links) are refused, so a model file can only show its own bytes."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError
from gradcli.language.importers.files import (
    MAX_JSON_BYTES,
    byte_limit,
    open_zip,
    parse_json,
    regular_file,
    zip_member,
)
from gradcli.language.limits import size_error

Where = Location | str
H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError)


@dataclass(frozen=True)
class KerasFile:
    """A Keras model file's config (the top-level {"class_name", "config"})
    and its weights: lists of arrays keyed by the saving name (`.keras`:
    `dense_1`) or the layer's name (`.h5`)."""

    shown: str
    fmt: str                                # "keras" or "h5"
    config: dict[str, Any]
    weights: dict[str, list[np.ndarray]]


def _h5py(where: Where) -> Any:
    try:
        import h5py
    except ImportError:
        raise SpecError("reading Keras files needs the h5py package: pip install "
                        "'gradcli[keras]'", where) from None
    return h5py


def saving_name(class_name: str) -> str:
    """keras.src.utils.naming.to_snake_case: `BatchNormalization` ->
    `batch_normalization`, `Conv2D` -> `conv2d`."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def read_keras(path: Path, shown: str, where: Where, limit: int) -> KerasFile:
    if path.suffix.lower() == ".keras":
        return _read_zip(path, shown, where, limit)
    return _read_h5(path, shown, where, limit)


def _read_zip(path: Path, shown: str, where: Where, limit: int) -> KerasFile:
    h5py = _h5py(where)
    most = byte_limit(limit)
    with open_zip(path, shown, where, "Keras file", most) as archive:
        names = archive.namelist()
        if "config.json" not in names:
            raise SpecError(f"Keras file {shown} has no config.json: not a Keras 3 .keras "
                            "file", where)
        config = parse_json(zip_member(archive, "config.json", shown, where, MAX_JSON_BYTES),
                            f"config.json of {shown}", where)
        if "model.weights.h5" not in names:
            extra = " (sharded weights are not read)" if "model.weights.json" in names else ""
            raise SpecError(f"Keras file {shown} has no model.weights.h5{extra}", where)
        data = zip_member(archive, "model.weights.h5", shown, where, most)
    label = f"model.weights.h5 of {shown}"
    try:
        with h5py.File(io.BytesIO(data), "r") as weights:
            found: dict[str, list[np.ndarray]] = {}
            layers = _group(weights, "layers", label, where, required=False)
            for name in (layers.keys() if layers is not None else ()):
                group = _group(layers, name, label, where)
                values = _group(group, "vars", label, where, required=False)
                count = len(values) if values is not None else 0
                found[name] = [_dataset(values, str(i), f"{label}: layers/{name}/vars", where,
                                        limit) for i in range(count)]
    except H5_ERRORS as exc:
        raise SpecError(f"cannot read {label}: {exc}", where) from None
    return KerasFile(shown, "keras", _top(config, shown, where), found)


def _read_h5(path: Path, shown: str, where: Where, limit: int) -> KerasFile:
    h5py = _h5py(where)
    regular_file(path, shown, where, "Keras file", byte_limit(limit))
    label = f"Keras file {shown}"
    try:
        with open(path, "rb") as handle:
            if handle.read(8) != b"\x89HDF\r\n\x1a\n":
                raise SpecError(f"cannot read {label}: not an HDF5 file", where)
        with h5py.File(path, "r") as file:
            if "model_config" not in file.attrs:
                raise SpecError(f"{label} has no model_config: it holds weights only "
                                "(model.save_weights); save the whole model", where)
            config = parse_json(_attribute(file, "model_config", label, where),
                                f"model_config of {shown}", where)
            top = _group(file, "model_weights", label, where, required=False)
            found = {}
            for name in (top.keys() if top is not None else ()):
                group = _group(top, name, label, where)
                names = _attribute(group, "weight_names", label, where, required=False)
                found[name] = [_dataset(group, _text(n), f"{label}: model_weights/{name}",
                                        where, limit) for n in (names if names is not None
                                                                else ())]
    except H5_ERRORS as exc:
        raise SpecError(f"cannot read {label}: {exc}", where) from None
    return KerasFile(shown, "h5", _top(config, shown, where), found)


def _top(config: Any, shown: str, where: Where) -> dict[str, Any]:
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict) or \
            not isinstance(config.get("class_name"), str):
        raise SpecError(f"Keras file {shown}: the model config is not a mapping with "
                        "'class_name' and 'config'", where)
    return config


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _link(group: Any, name: str, label: str, where: Where) -> None:
    import h5py

    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise SpecError(f"{label}: '{name}' links to another file; gradcli reads only the "
                        "model file itself", where)


def _group(parent: Any, name: str, label: str, where: Where, required: bool = True) -> Any:
    import h5py

    if name not in parent:
        if required:
            raise SpecError(f"{label} has no group '{name}'", where)
        return None
    _link(parent, name, label, where)
    group = parent[name]
    if not isinstance(group, h5py.Group):
        raise SpecError(f"{label}: '{name}' is not a group", where)
    return group


def _dataset(parent: Any, name: str, label: str, where: Where, limit: int) -> np.ndarray:
    import h5py

    if parent is None or name not in parent:
        raise SpecError(f"{label} has no weight '{name}'", where)
    _link(parent, name, label, where)
    item = parent[name]
    if not isinstance(item, h5py.Dataset):
        raise SpecError(f"{label}: '{name}' is not a dataset", where)
    if item.external or item.is_virtual:
        raise SpecError(f"{label}: '{name}' keeps its data in another file; gradcli reads "
                        "only the model file itself", where)
    if item.dtype.kind not in "fiub" or item.shape is None:
        raise SpecError(f"{label}: '{name}' holds {item.dtype}, not numbers", where)
    reason = size_error(item.shape, limit)
    if reason:
        raise SpecError(f"{label}: '{name}': {reason}", where)
    array = np.asarray(item[()])
    return array.astype("float32") if array.dtype == np.float16 else array


def _attribute(obj: Any, name: str, label: str, where: Where, required: bool = True) -> Any:
    if name not in obj.attrs:
        if required:
            raise SpecError(f"{label} has no attribute '{name}'", where)
        return None
    # sized from its header where it can be (a variable-length string's bytes
    # are known only when read; the file's own size bounds them)
    attr = obj.attrs.get_id(name)
    count = int(np.prod(attr.shape or (), dtype=np.int64))
    if count > 100_000 or count * attr.dtype.itemsize > MAX_JSON_BYTES:
        raise SpecError(f"{label}: attribute '{name}' holds {count} values of "
                        f"{attr.dtype}, more than gradcli reads", where)
    value = obj.attrs[name]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return [_text(v) for v in value.reshape(-1)]
    if isinstance(value, np.ndarray) and value.size == 0:
        return []
    return _text(value) if isinstance(value, (bytes, str)) else value
