"""An .onnx file read into plain data (`OnnxModel`): nodes with their
attributes as Python values, initializers as numpy arrays, the graph's
inputs and outputs.

The file is protobuf, parsed by the `onnx` package (the `gradcli[onnx]`
extra): nothing in it is executed.  Before anything is converted the file
size is bounded, the model is validated by `onnx.checker`, the opset must be
13 or later, and every tensor (initializers, Constant values) is sized from
its dims (and its byte length checked) before numpy holds it.  Weights in
external files are refused: a model is one file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError
from gradcli.language.importers.base import Port, identifier
from gradcli.language.importers.files import byte_limit, read_file
from gradcli.language.limits import size_error

MIN_OPSET = 13
# ONNX element types gradcli reads (TensorProto.DataType) -> numpy dtype
DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
          7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}


@dataclass(frozen=True)
class OnnxNode:
    op: str
    name: str           # the node's name, or "#INDEX" when the file gives none
    inputs: tuple[str, ...]   # "" for an optional input left out
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any]
    domain: str = ""

    @property
    def label(self) -> str:
        return f"{self.op} node '{self.name}'"


@dataclass(frozen=True)
class OnnxModel:
    file: str
    opset: int
    producer: str
    nodes: tuple[OnnxNode, ...]
    initializers: Mapping[str, np.ndarray]
    inputs: tuple[Port, ...]      # the graph's inputs that are not initializers
    outputs: tuple[Port, ...]


def _onnx(where: Location | str) -> Any:
    try:
        import onnx
    except ImportError:
        raise SpecError("reading .onnx files needs the onnx package: pip install "
                        "'gradcli[onnx]'", where) from None
    return onnx


def read_onnx(path: Path, shown: str, where: Location | str, limit: int) -> OnnxModel:
    onnx = _onnx(where)
    from google.protobuf.message import DecodeError

    data = read_file(path, shown, where, "ONNX file", byte_limit(limit))
    label = f"ONNX file {shown}"
    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise SpecError(f"cannot read {label}: not an ONNX model ({_short(exc)})",
                        where) from None
    for tensor in proto.graph.initializer:  # before the checker looks for the files
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise SpecError(f"{label} keeps initializer '{tensor.name}' in an external data "
                            "file; gradcli reads self-contained models (torch.onnx.export("
                            "..., external_data=False), or onnx.save(model, path, "
                            "save_as_external_data=False))", where)
    if proto.graph.sparse_initializer:
        raise SpecError(f"{label} has sparse initializers, which gradcli does not read", where)
    try:
        onnx.checker.check_model(proto)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        raise SpecError(f"{label} is not a valid ONNX model: {_short(exc)}", where) from None
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset < MIN_OPSET:
        raise SpecError(f"{label} uses ONNX opset {opset}; gradcli reads opset {MIN_OPSET} and "
                        f"later: export again with opset_version={MIN_OPSET} or more, or "
                        "convert it with onnx.version_converter", where)
    graph = proto.graph
    initializers = {t.name: tensor_array(t, f"initializer '{t.name}' of {label}", where, limit)
                    for t in graph.initializer}
    nodes = tuple(_node(n, i, label, where, limit) for i, n in enumerate(graph.node))
    taken: set[str] = set()
    inputs = tuple(_port(v, taken) for v in graph.input if v.name not in initializers)
    outputs = tuple(_port(v, taken) for v in graph.output)
    return OnnxModel(shown, int(opset), proto.producer_name, nodes,
                     MappingProxyType(initializers), inputs, outputs)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def tensor_array(tensor: Any, label: str, where: Location | str, limit: int) -> np.ndarray:
    """A TensorProto as a numpy array, sized from its dims before conversion."""
    from onnx import numpy_helper

    dims = tuple(int(d) for d in tensor.dims)
    reason = size_error(dims, limit)
    if reason:
        raise SpecError(f"{label}: {reason}", where)
    dtype = DTYPES.get(tensor.data_type)
    if dtype is None:
        raise SpecError(f"{label} has element type {tensor.data_type}, which gradcli does not "
                        f"read (numbers: {', '.join(sorted(set(DTYPES.values())))})", where)
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if tensor.raw_data and len(tensor.raw_data) != count * np.dtype(dtype).itemsize:
        raise SpecError(f"{label} holds {len(tensor.raw_data)} bytes, but shape {dims} of "
                        f"{dtype} needs {count * np.dtype(dtype).itemsize}", where)
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise SpecError(f"{label} is malformed: {_short(exc)}", where) from None
    if array.shape != dims:
        raise SpecError(f"{label} is malformed: its data do not fill shape {dims}", where)
    return array.astype("float32") if dtype == "float16" else array


def _node(proto: Any, index: int, label: str, where: Location | str, limit: int) -> OnnxNode:
    name = proto.name or f"#{index}"
    attrs = {a.name: _attribute(a, f"attribute '{a.name}' of {proto.op_type} node '{name}' in "
                                   f"{label}", where, limit) for a in proto.attribute}
    return OnnxNode(proto.op_type, name, tuple(proto.input), tuple(proto.output),
                    MappingProxyType(attrs), proto.domain)


def _attribute(attr: Any, label: str, where: Location | str, limit: int) -> Any:
    kind = attr.type
    if kind == 1:   # FLOAT
        return float(attr.f)
    if kind == 2:   # INT
        return int(attr.i)
    if kind == 3:   # STRING
        return attr.s.decode("utf-8", "replace")
    if kind == 4:   # TENSOR
        return tensor_array(attr.t, label, where, limit)
    if kind == 6:   # FLOATS
        return tuple(float(v) for v in attr.floats)
    if kind == 7:   # INTS
        return tuple(int(v) for v in attr.ints)
    if kind == 8:   # STRINGS
        return tuple(v.decode("utf-8", "replace") for v in attr.strings)
    return _Unread(kind)  # graphs, sparse tensors, types: no op gradcli lowers takes them


@dataclass(frozen=True)
class _Unread:
    kind: int


def _port(value: Any, taken: set[str]) -> Port:
    tensor = value.type.tensor_type if value.type.HasField("tensor_type") else None
    if tensor is None:
        return Port(value.name, identifier(value.name, taken), None, "unknown")
    dims: tuple[int | str | None, ...] | None = None
    if tensor.HasField("shape"):
        dims = tuple(int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None)
                     for d in tensor.shape.dim)
    return Port(value.name, identifier(value.name, taken), dims,
                DTYPES.get(tensor.elem_type, "unknown"))
