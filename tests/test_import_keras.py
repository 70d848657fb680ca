"""Keras import: the files Keras saved in tests/data/models (a Sequential
CNN as .keras and legacy .h5, a functional PINN) against Keras's own
outputs and gradients (references.npz, see make_models.py), second
derivatives against finite differences, and the files gradcli refuses.
Needs h5py (the `test` extra), never Keras or TensorFlow."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from importcheck import DATA, assert_fd, call_model

import gradcli
from gradcli.errors import SpecError

h5py = pytest.importorskip("h5py")
REFS = np.load(DATA / "references.npz")
ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("file, key, count", [
    ("keras_cnn.keras", "keras_cnn", 1), ("keras_cnn.h5", "keras_cnn", 1),
    ("keras_pinn.keras", "keras_pinn", 2)])
def test_saved_models_match_keras(file: str, key: str, count: int) -> None:
    xs = [REFS[f"{key}.x{i}"] for i in range(count)]
    p32 = call_model(DATA / file, xs, "float32")
    np.testing.assert_allclose(p32.evaluate()["y"], REFS[f"{key}.y"], rtol=0, atol=1e-6)
    p = call_model(DATA / file, xs)
    np.testing.assert_allclose(p.evaluate()["y"], REFS[f"{key}.y"], rtol=0, atol=1e-6)
    grads = p.grad()
    for i in range(count):  # jax.grad in float32: its own rounding, ~1e-7 relative
        np.testing.assert_allclose(grads[f"x{i}"], REFS[f"{key}.grad{i}"], rtol=1e-5,
                                   atol=1e-6)


def test_parameters_are_named_by_the_keras_layer_index() -> None:
    p = call_model(DATA / "keras_cnn.keras", [REFS["keras_cnn.x0"]])
    names = [(q.name, q.shape, q.trainable, q.source) for q in p.parameters()]
    assert names[:2] == [("net.0.kernel", (3, 3, 2, 4), True, "keras"),
                         ("net.0.bias", (4,), True, "keras")]
    assert ("net.2.moving_variance", (4,), False, "keras") in names
    # a functional model counts its InputLayers, as model.layers does
    pinn = call_model(DATA / "keras_pinn.keras", [REFS["keras_pinn.x0"], REFS["keras_pinn.x1"]])
    assert [q.name for q in pinn.parameters()] == [
        "net.3.kernel", "net.3.bias", "net.4.kernel", "net.4.bias", "net.6.kernel",
        "net.6.bias"]
    assert set(pinn.grad(wrt=["net"])) == {q.name for q in pinn.parameters()}


@pytest.mark.parametrize("file, count", [("keras_cnn.keras", 1), ("keras_pinn.keras", 2)])
def test_input_hessians_match_finite_differences(file: str, count: int) -> None:
    key = file.removesuffix(".keras")
    xs = [REFS[f"{key}.x{i}"][:1].astype(np.float64) for i in range(count)]
    assert_fd(call_model(DATA / file, xs))


def test_seed003_ships_as_a_keras_file() -> None:
    spec = ROOT / "specs" / "partial-derivatives-of-a-saved-keras-model.yaml"
    p = gradcli.load(spec)
    np.testing.assert_allclose(p.evaluate()["f"], [[0.2242327287729473]], rtol=1e-14)
    hessian = p.hessian()
    assert hessian["inp[0,0]"]["inp[0,1]"][0, 0] == pytest.approx(0.00031731361397404874,
                                                                  rel=1e-12)


def test_reading_keras_files_imports_neither_keras_nor_tensorflow() -> None:
    code = ("import sys, gradcli; p = gradcli.load(sys.argv[1]); p.grad();"
            "bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    spec = ROOT / "specs" / "partial-derivatives-of-a-saved-keras-model.yaml"
    done = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# ---- files gradcli refuses --------------------------------------------------------------

def _config(file: str = "keras_pinn.keras") -> dict[str, Any]:
    with zipfile.ZipFile(DATA / file) as archive:
        return json.loads(archive.read("config.json"))


def _weights(file: str = "keras_pinn.keras") -> bytes:
    with zipfile.ZipFile(DATA / file) as archive:
        return archive.read("model.weights.h5")


def write_keras(path: Path, config: dict[str, Any], weights: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights if weights is not None else _weights())
    return path


def _message(path: Path, count: int = 2) -> str:
    xs = [np.zeros((1, 1))] * count
    with pytest.raises(SpecError) as info:
        call_model(path, xs).evaluate()
    return str(info.value)


def _insert(config: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["config"]["layers"].insert(3, entry)
    return config


def test_lambda_layers_and_custom_objects_are_refused(tmp_path: Path) -> None:
    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
           "config": {"name": "square", "function": {"class_name": "__lambda__",
                                                     "config": {"code": "4wEAAAAA"}}}}
    text = _message(write_keras(tmp_path / "l.keras", _insert(_config(), lam)))
    assert "Lambda" in text and "'square'" in text and "never runs code" in text
    custom = {"module": "__main__", "class_name": "Scale", "registered_name": "Custom>Scale",
              "config": {"name": "scale"}}
    text = _message(write_keras(tmp_path / "c.keras", _insert(_config(), custom)))
    assert "custom object 'Scale'" in text and "never runs code" in text
    config = _config()
    config["config"]["layers"][3]["config"]["activation"] = {
        "module": "my_activations", "class_name": "function", "config": "swoosh",
        "registered_name": "function"}
    assert "custom object" in _message(write_keras(tmp_path / "a.keras", config))


def test_subclassed_models_and_unmodelled_options_are_refused(tmp_path: Path) -> None:
    config = _config()
    config["class_name"], config["module"] = "MyModel", "keras.src.models.model"
    text = _message(write_keras(tmp_path / "s.keras", config))
    assert "MyModel model" in text and "Sequential and functional" in text
    config = _config("keras_cnn.keras")
    config["config"]["layers"][1]["config"]["data_format"] = "channels_first"
    text = _message(write_keras(tmp_path / "f.keras", config, _weights("keras_cnn.keras")), 1)
    assert "layer 0 'conv2d' (Conv2D) has data_format='channels_first'" in text
    config = _config("keras_cnn.keras")
    config["config"]["layers"][1]["class_name"] = "SeparableConv2D"
    text = _message(write_keras(tmp_path / "u.keras", config, _weights("keras_cnn.keras")), 1)
    assert "is not a layer gradcli reads" in text and "Conv2D" in text


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_dataset("layers/dense/vars/0", data=np.zeros((2, 8), np.float32))
    text = _message(write_keras(tmp_path / "w.keras", _config(), buffer.getvalue()))
    assert "layer 3 " in text and "(Dense) has 1 weights in the file, expected 2" in text


def test_legacy_keras2_inbound_nodes_are_read(tmp_path: Path) -> None:
    """Keras 2 wrote [[name, node, tensor, kwargs], ...] per call and no modules."""
    config = _config()
    for entry in config["config"]["layers"]:
        entry.pop("module", None)
        nodes = []
        for node in entry.get("inbound_nodes", []):
            args = node["args"][0] if isinstance(node["args"][0], list) else node["args"]
            nodes.append([[*a["config"]["keras_history"], {}] for a in args])
        entry["inbound_nodes"] = nodes
    xs = [REFS["keras_pinn.x0"], REFS["keras_pinn.x1"]]
    path = write_keras(tmp_path / "old.keras", config)
    np.testing.assert_allclose(call_model(path, xs).evaluate()["y"], REFS["keras_pinn.y"],
                               atol=1e-6)


def test_an_h5_file_of_weights_only_is_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "w.h5", "w") as file:
        file.create_dataset("dense/kernel", data=np.zeros((2, 2)))
    assert "holds weights only" in _message(tmp_path / "w.h5")


def test_docs_list_every_keras_layer() -> None:
    import re

    from gradcli.language.importers.keras_layers import SUPPORTED

    text = (ROOT / "docs" / "networks.md").read_text()
    section = text[text.index("#### Keras"):text.index("#### safetensors")]
    # `MaxPooling1D/2D` stands for MaxPooling1D and MaxPooling2D
    section = re.sub(r"(\w+?)1D((?:/[23]D)+)", lambda m: " ".join(
        [m[1] + "1D"] + [m[1] + d[1:] for d in re.findall(r"/[23]D", m[2])]), section)
    missing = [name for name in SUPPORTED if not re.search(rf"\b{name}\b", section)]
    assert not missing, missing
