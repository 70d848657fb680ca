"""Keras layer configs read into gradcli layers: each supported Keras class
maps to one registry kind (`make_layer`, so the options are checked as a
YAML layer's), a merge (Add, Concatenate, ... of a functional model) or an
input.  Anything that would change what the layer computes and that gradcli
does not model (channels_first, groups, LoRA, RMS scaling) is refused by
name, and so is every object Keras would need code for: Lambda layers
(their Python bytecode is in the file), custom classes and functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradcli.errors import Location, SpecError
from gradcli.language.layers import ACTIVATIONS, Layer, make_layer

Where = Location | str
MERGES = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
          "Maximum": "maximum", "Minimum": "minimum", "Concatenate": "concatenate"}


@dataclass(frozen=True)
class Merge:
    """A merge layer of a functional model: `how` one of MERGES's values."""

    index: int
    name: str
    how: str
    axis: int = -1


@dataclass(frozen=True)
class Input:
    index: int
    name: str
    dims: tuple[int | None, ...] | None
    dtype: str = "float32"


Converted = Layer | Merge | Input


def refuse_code(value: Any, shown: str, where: Where, depth: int = 0) -> None:
    """Refuse any object of the config that Keras would need code for."""
    if depth > 200:
        raise SpecError(f"Keras file {shown}: the config is nested too deeply", where)
    if isinstance(value, list):
        for item in value:
            refuse_code(item, shown, where, depth + 1)
        return
    if not isinstance(value, dict):
        return
    kind = value.get("class_name")
    if kind in ("Lambda", "__lambda__"):
        raise SpecError(f"Keras file {shown} has a Lambda layer or function "
                        f"('{_name(value)}'): its Python code is stored in the file, and "
                        "gradcli never runs code from a model file. Rebuild the model from "
                        "built-in layers (or write it as a gradcli spec)", where)
    module, registered = value.get("module"), value.get("registered_name")
    custom = isinstance(module, str) and module != "keras" and \
        not module.startswith("keras.") and not (isinstance(kind, str) and kind.startswith("__"))
    if custom or (isinstance(registered, str) and ">" in registered):
        raise SpecError(f"Keras file {shown} has a custom object '{kind}' (module {module}, "
                        f"registered as {registered}): gradcli never runs code from a model "
                        "file and reads only Keras's built-in layers", where)
    for item in value.values():
        refuse_code(item, shown, where, depth + 1)


def _name(entry: dict[str, Any]) -> str:
    config = entry.get("config")
    return str(config.get("name", "?")) if isinstance(config, dict) else "?"


class Reader:
    """Reads one layer entry; errors name the layer and the file."""

    def __init__(self, entry: dict[str, Any], index: int, shown: str, where: Where) -> None:
        self.entry, self.index, self.shown, self.where = entry, index, shown, where
        config = entry.get("config")
        self.config: dict[str, Any] = config if isinstance(config, dict) else {}
        self.kind = str(entry.get("class_name"))
        self.name = str(self.config.get("name", f"#{index}"))

    def fail(self, message: str) -> SpecError:
        return SpecError(f"Keras file {self.shown}: layer {self.index} '{self.name}' "
                         f"({self.kind}) {message}", self.where)

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def only(self, key: str, allowed: tuple[Any, ...], why: str) -> None:
        value = self.config.get(key, allowed[0])
        if value not in allowed:
            raise self.fail(f"has {key}={value!r}, which gradcli does not model ({why})")

    def activation(self, key: str = "activation") -> str:
        value = self.config.get(key, "linear")
        if isinstance(value, dict):  # {"class_name": "function", "config": "relu", ...}
            value = value.get("config")
        name = "linear" if value is None else value
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise self.fail(f"has activation {value!r}; gradcli reads "
                            f"{', '.join(ACTIVATIONS)}")
        return name

    def layer(self, kind: str, **options: Any) -> Layer:
        try:
            return make_layer(kind, self.index, None, **options)
        except SpecError as exc:
            raise self.fail(f"does not fit gradcli's {kind} layer: {exc.message}") from None


def _channels_last(r: Reader) -> None:
    r.only("data_format", ("channels_last", None), "only channels_last")


def _dense(r: Reader) -> Layer:
    if r.get("lora_rank") or r.get("quantization_config"):
        raise r.fail("is a LoRA or quantized layer, which gradcli does not read")
    return r.layer("dense", units=r.get("units"), activation=r.activation(),
                   use_bias=r.get("use_bias", True))


def _conv(rank: int) -> Callable[[Reader], Layer]:
    def convert(r: Reader) -> Layer:
        _channels_last(r)
        r.only("groups", (1,), "grouped convolutions")
        return r.layer(f"conv{rank}d", filters=r.get("filters"),
                       kernel_size=r.get("kernel_size"), strides=r.get("strides", 1),
                       padding=r.get("padding", "valid"),
                       dilation_rate=r.get("dilation_rate", 1), activation=r.activation(),
                       use_bias=r.get("use_bias", True))
    return convert


def _pool(kind: str) -> Callable[[Reader], Layer]:
    def convert(r: Reader) -> Layer:
        _channels_last(r)
        return r.layer(kind, pool_size=r.get("pool_size"), strides=r.get("strides"),
                       padding=r.get("padding", "valid"))
    return convert


def _global(kind: str) -> Callable[[Reader], Layer]:
    def convert(r: Reader) -> Layer:
        _channels_last(r)
        return r.layer(kind, keepdims=bool(r.get("keepdims", False)))
    return convert


def _last_axis(r: Reader) -> None:
    axis = r.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    shape = (r.entry.get("build_config") or {}).get("input_shape")
    last = len(shape) - 1 if isinstance(shape, list) else None
    if axis not in (-1, last):
        raise r.fail(f"normalises axis {r.get('axis')!r}; gradcli normalises the last axis")


def _batch_norm(r: Reader) -> Layer:
    _last_axis(r)
    if r.get("renorm"):
        raise r.fail("uses batch renormalization, which gradcli does not model")
    return r.layer("batch_norm", epsilon=r.get("epsilon", 1e-3), center=r.get("center", True),
                   scale=r.get("scale", True))


def _layer_norm(r: Reader) -> Layer:
    _last_axis(r)
    r.only("rms_scaling", (False, None), "RMS scaling")
    return r.layer("layer_norm", epsilon=r.get("epsilon", 1e-3), center=r.get("center", True),
                   scale=r.get("scale", True))


def _flatten(r: Reader) -> Layer:
    _channels_last(r)
    return r.layer("flatten")


def _activation_layer(r: Reader) -> Layer:
    kind = r.kind
    if kind == "Activation":
        return r.layer("activation", activation=r.activation())
    plain = {"ReLU": ({"max_value": None, "negative_slope": 0.0, "threshold": 0.0}, "relu"),
             "Softmax": ({"axis": -1}, "softmax"), "ELU": ({"alpha": 1.0}, "elu"),
             "LeakyReLU": ({"negative_slope": 0.2}, "leaky_relu")}
    expected, name = plain[kind]
    for key, value in expected.items():
        found = r.get(key, value)
        if found != value and found != [value]:
            raise r.fail(f"has {key}={found!r}; gradcli reads this layer with "
                         f"{key}={value!r} (write the network as a spec for others)")
    return r.layer("activation", activation=name)


CONVERTERS: dict[str, Callable[[Reader], Layer]] = {
    "Dense": _dense, "Conv1D": _conv(1), "Conv2D": _conv(2),
    "MaxPooling1D": _pool("max_pool1d"), "MaxPooling2D": _pool("max_pool2d"),
    "AveragePooling1D": _pool("avg_pool1d"), "AveragePooling2D": _pool("avg_pool2d"),
    **{f"Global{w}Pooling{d}D": _global(f"global_{'avg' if w == 'Average' else 'max'}_pool")
       for w in ("Average", "Max") for d in (1, 2, 3)},
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "Flatten": _flatten, "Reshape": lambda r: r.layer("reshape",
                                                      target_shape=r.get("target_shape")),
    "Dropout": lambda r: r.layer("dropout", rate=r.get("rate", 0.0)),
    "Embedding": lambda r: r.layer("embedding", input_dim=r.get("input_dim"),
                                   output_dim=r.get("output_dim")),
    **{k: _activation_layer for k in ("Activation", "ReLU", "Softmax", "ELU", "LeakyReLU")},
}
SUPPORTED = tuple(sorted([*CONVERTERS, *MERGES, "InputLayer"]))


def convert(entry: Any, index: int, shown: str, where: Where) -> Converted:
    if not isinstance(entry, dict):
        raise SpecError(f"Keras file {shown}: layer {index} is not a mapping", where)
    r = Reader(entry, index, shown, where)
    if r.kind == "InputLayer":
        dims = r.get("batch_shape", r.get("batch_input_shape"))
        dtype = r.get("dtype", "float32")
        dtype = dtype if isinstance(dtype, str) else "float32"
        return Input(index, r.name, tuple(dims) if isinstance(dims, list) else None, dtype)
    if r.kind in MERGES:
        axis = r.get("axis", -1) if r.kind == "Concatenate" else -1
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise r.fail(f"has axis {axis!r}, not an integer")
        return Merge(index, r.name, MERGES[r.kind], axis)
    if r.kind in ("Sequential", "Functional", "Model"):
        raise r.fail("is a model inside the model; gradcli reads flat models (Sequential, "
                     "or functional with layers only)")
    if r.kind not in CONVERTERS:
        raise r.fail(f"is not a layer gradcli reads; it reads {', '.join(SUPPORTED)}")
    return CONVERTERS[r.kind](r)
