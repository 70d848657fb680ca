"""Hostile and broken model files (.onnx, .keras, .h5, .safetensors), as
tests/test_hostile.py does for specs: each is refused with exit 2, one line
on stderr naming the file and what is wrong, nothing on stdout, no
traceback, and within a bounded amount of memory (workbound.py) however
large an array the file claims.  Nothing in a model file is executed."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_hostile import main
from workbound import MiB, assert_bounded, measured

from gradcli.cli.group import cli

onnx = pytest.importorskip("onnx")
h5py = pytest.importorskip("h5py")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
from onnx import TensorProto, helper  # noqa: E402  (all imported before measuring)

DATA = Path(__file__).parent / "data" / "models"
# Refusals read at most the file (a few KB here) and its JSON; the cases
# claim arrays of 10^12 elements and members of 2^40 bytes.
MEMORY = 64 * MiB
NODES = 1000


def refused(args: list[str], *fragments: str) -> str:
    with measured(MEMORY) as work:
        code, out, err = main(*args)
    assert_bounded(work, args, NODES, err)
    assert code == 2, (code, err)
    assert out == "", out
    assert err.startswith("gradcli: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def spec(folder: Path, kind: str, file: str) -> str:
    key = "weights" if kind == "weights" else kind
    body = (f"{{layers: [{{dense: 1}}], weights: {file}}}" if key == "weights"
            else f"{{{key}: {file}}}")
    path = folder / "spec.yaml"
    path.write_text(f"inputs:\n  x: [[1.0, 2.0]]\nmodels:\n  net: {body}\n"
                    "outputs:\n  y: net(x)\n")
    return str(path)


# ---- .onnx ------------------------------------------------------------------------------

def _onnx_with(tensor: TensorProto) -> bytes:
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 2))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 2))],
                              [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


def _huge_initializer() -> bytes:
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    tensor.raw_data = b"\0" * 8
    return _onnx_with(tensor)


def _short_raw_data() -> bytes:
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 2])
    tensor.raw_data = b"\0" * 5
    return _onnx_with(tensor)


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:  # a sparse file: large, but no disk used
        handle.truncate(size)


MLP = (DATA / "torch_mlp.onnx").read_bytes()
ONNX: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "truncated": (lambda p: p.write_bytes(MLP[: len(MLP) // 2]), ["ONNX file m.onnx"]),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)),
                     ["ONNX file m.onnx"]),
    "empty": (lambda p: p.write_bytes(b""), ["ONNX file m.onnx is not a valid ONNX model"]),
    "a text file": (lambda p: p.write_text("not a model\n" * 50), ["ONNX file m.onnx"]),
    "an initializer of 10^12 elements": (lambda p: p.write_bytes(_huge_initializer()),
                                         ["(tensor name: w)", "4000000000000 bytes"]),
    "raw data shorter than its shape": (lambda p: p.write_bytes(_short_raw_data()),
                                        ["(tensor name: w)", "5 bytes"]),
    "oversized (2 GiB)": (lambda p: _sparse(p, 2 << 30), ["more than the limit"]),
    "a folder": (lambda p: p.mkdir(), ["is a folder"]),
}


@pytest.mark.parametrize("case", sorted(ONNX))
def test_hostile_onnx_files(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, fragments = ONNX[case]
    make(tmp_path / "m.onnx")
    monkeypatch.chdir(tmp_path)
    refused(["grad", spec(tmp_path, "onnx", "m.onnx")], *fragments)
    refused(["eval", "--model", "m.onnx", "--set", "x=[[1.0, 2.0]]"], *fragments)


# ---- .keras and .h5 ------------------------------------------------------------------------

CNN = (DATA / "keras_cnn.keras").read_bytes()


def _members(path: Path, **members: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name.replace("__", "."), data)


def _config() -> bytes:
    with zipfile.ZipFile(DATA / "keras_cnn.keras") as archive:
        return archive.read("config.json")


def _claims_huge_member(path: Path) -> None:
    """A zip whose central directory says config.json is 2^40 bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", b"{}")
    data = bytearray(buffer.getvalue())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = struct.pack("<I", 0xFFFFFFFF)  # uncompressed size
    path.write_bytes(bytes(data))


def _huge_dataset(path: Path) -> None:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:  # chunked, never written: a few KB on disk
        file.create_dataset("layers/conv2d/vars/0", shape=(10**6, 10**6), dtype="float32",
                            chunks=(1, 1000))
    _members(path, config__json=_config(), model__weights__h5=buffer.getvalue())


def _external_dataset(path: Path) -> None:
    outside = path.parent / "secret.bin"
    outside.write_bytes(np.arange(36, dtype=np.float32).tobytes())
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_dataset("layers/conv2d/vars/0", shape=(3, 3, 2, 2), dtype="float32",
                            external=[(str(outside), 0, 144)])
    _members(path, config__json=_config(), model__weights__h5=buffer.getvalue())


def _nested_json(path: Path) -> None:
    _members(path, config__json=b"[" * 100_000 + b"]" * 100_000)


KERAS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "truncated": (lambda p: p.write_bytes(CNN[: len(CNN) // 2]), ["Keras file m.keras"]),
    "not a zip": (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 100), ["not a zip archive"]),
    "no config.json": (lambda p: _members(p, metadata__json=b"{}"), ["has no config.json"]),
    "config.json is not JSON": (lambda p: _members(p, config__json=b"{oops"),
                                ["config.json of m.keras is not valid JSON"]),
    "config.json nested 10^5 deep": (_nested_json, ["nested too deeply"]),
    "a member claiming 2^32 bytes": (_claims_huge_member, ["config.json in m.keras would be"]),
    "weights are not HDF5": (lambda p: _members(p, config__json=_config(),
                                                model__weights__h5=b"\0" * 64),
                             ["cannot read model.weights.h5 of m.keras"]),
    "a dataset of 10^12 elements": (_huge_dataset, ["1000000000000 elements"]),
    "a dataset stored in another file": (_external_dataset, ["keeps its data in another file"]),
}


@pytest.mark.parametrize("case", sorted(KERAS))
def test_hostile_keras_files(tmp_path: Path, case: str) -> None:
    make, fragments = KERAS[case]
    make(tmp_path / "m.keras")
    refused(["grad", spec(tmp_path, "keras", "m.keras")], *fragments)


def test_hostile_h5_files(tmp_path: Path) -> None:
    (tmp_path / "m.h5").write_bytes((DATA / "keras_cnn.h5").read_bytes()[:5000])
    refused(["grad", spec(tmp_path, "keras", "m.h5")], "Keras file m.h5")
    (tmp_path / "m.h5").write_bytes(b"GIF89a" * 100)
    refused(["grad", spec(tmp_path, "keras", "m.h5")], "not an HDF5 file")
    with h5py.File(tmp_path / "m.h5", "w") as file:
        file.attrs["model_config"] = "[" * 100_000
    refused(["grad", spec(tmp_path, "keras", "m.h5")], "model_config of m.h5")


# ---- .safetensors ----------------------------------------------------------------------------

def _safetensors(header: object, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


GOOD = {"net.0.kernel": {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]}}
SAFETENSORS: dict[str, tuple[bytes, list[str]]] = {
    "shorter than 8 bytes": (b"\x01\x02", ["shorter than its 8-byte header length"]),
    "a header length of 2^60": (_safetensors(GOOD, length=1 << 60),
                                ["claims 1152921504606846976 bytes"]),
    "truncated data": (_safetensors(GOOD, b"\0" * 4), ["spans bytes 0..8 of 4"]),
    "a tensor of 10^12 elements": (_safetensors({"net.0.kernel": {
        "dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 8]}}, b"\0" * 8),
        ["1000000000000 elements"]),
    "bfloat16": (_safetensors({"net.0.kernel": {"dtype": "BF16", "shape": [2, 1],
                                                "data_offsets": [0, 4]}}, b"\0" * 4),
                 ["dtype 'BF16'", "convert bfloat16"]),
    "a header that is not JSON": (struct.pack("<Q", 5) + b"{oops", ["not valid JSON"]),
    "a header that is a list": (_safetensors([1, 2]), ["not a JSON object"]),
    "negative offsets": (_safetensors({"net.0.kernel": {
        "dtype": "F32", "shape": [2, 1], "data_offsets": [-8, 0]}}, b"\0" * 8), ["spans"]),
}


@pytest.mark.parametrize("case", sorted(SAFETENSORS))
def test_hostile_safetensors_files(tmp_path: Path, case: str) -> None:
    data, fragments = SAFETENSORS[case]
    (tmp_path / "w.safetensors").write_bytes(data)
    refused(["grad", spec(tmp_path, "weights", "w.safetensors")], "w.safetensors", *fragments)


def test_safetensors_weights_work_like_npz(tmp_path: Path) -> None:
    kernel = np.array([[0.5], [-1.0]], dtype=np.float32)
    safetensors_numpy.save_file({"net.0.kernel": kernel, "net.0.bias": np.array([0.25],
                                                                                np.float32)},
                                str(tmp_path / "w.safetensors"))
    path = spec(tmp_path, "weights", "w.safetensors")
    result = CliRunner().invoke(cli, ["eval", path, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["y"] == [[1.0 * 0.5 + 2.0 * -1.0 + 0.25]]
    result = CliRunner().invoke(cli, ["params", path, "--format", "json"])
    assert result.exit_code == 0 and '"safetensors"' in result.stdout, result.stderr
