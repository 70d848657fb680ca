"""`gradcli params` (every parameter: name, shape, dtype, trainable, source),
its npz export loaded back as `weights:`, and parameters as `--output` of
eval; the mistakes of the new layer kinds, located."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import gradcli
from gradcli.cli.group import cli, main

SPEC = """\
inputs:
  img: {random: normal, shape: [2, 6, 6, 1], seed: 0}
models:
  net:
    layers:
      - {conv2d: {filters: 3, kernel_size: 3, padding: same, activation: tanh}}
      - {max_pool2d: 2}
      - batch_norm
      - flatten
      - {dense: 1}
    init: {seed: 1, kernel: he_normal}
  unused:
    layers: [{dense: 2}]
outputs:
  y: net(img)
"""
NAMES = ["net.0.kernel", "net.0.bias", "net.2.gamma", "net.2.beta", "net.2.moving_mean",
         "net.2.moving_variance", "net.4.kernel", "net.4.bias", "unused.0.kernel",
         "unused.0.bias"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "cnn.yaml"
    path.write_text(SPEC)
    return path


def test_params_lists_every_parameter_as_a_table(spec: Path) -> None:
    code, out, err = run("params", str(spec))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("params: 10 parameters (8 trainable, 72 numbers (and the ones of "
                        "models never called)) of models net, unused; float64")
    assert lines[2].split() == ["name", "shape", "dtype", "trainable", "source", "from"]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert list(rows) == NAMES
    assert rows["net.0.kernel"].split()[1:] == ["(3,", "3,", "1,", "3)", "float64", "yes", "init",
                                                "he_normal,", "seed", "1"]
    assert "no" in rows["net.2.moving_mean"].split() and "ones" in rows["net.2.gamma"]
    assert "(in, 2)" in rows["unused.0.kernel"]
    assert "unused never called" in err


def test_params_json_and_values(spec: Path) -> None:
    code, out, _ = run("params", str(spec), "--format", "json", "--values", "--model", "net")
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "params" and list(doc["params"]) == NAMES[:8]
    kernel = doc["params"]["net.0.kernel"]
    assert kernel["shape"] == [3, 3, 1, 3] and kernel["trainable"] is True
    assert kernel["source"] == "init" and kernel["from"] == "he_normal, seed 1"
    values = gradcli.load(spec).values
    np.testing.assert_array_equal(kernel["value"], values["net.0.kernel"])
    code, out, _ = run("params", str(spec), "--format", "csv")
    assert out.splitlines()[1] == "net.0.kernel,net,3;3;1;3,float64,true,init,\"he_normal, seed 1\""
    code, out, _ = run("params", str(spec), "--format", "yaml", "--model", "unused")
    assert yaml.safe_load(out)["params"]["unused.0.kernel"]["shape"] == [None, 2]


def test_the_npz_export_loads_back_as_weights(spec: Path, tmp_path: Path) -> None:
    target = tmp_path / "w.npz"
    code, out, err = run("params", str(spec), "--format", "npz", "-o", str(target))
    assert code == 0 and out == "" and "left out of the export" in err
    with np.load(target) as data:
        assert sorted(data.files) == sorted(NAMES[:8])  # nothing but the parameters
    before = gradcli.load(spec)
    text = SPEC.replace("    init: {seed: 1, kernel: he_normal}\n", "    weights: w.npz\n")
    reloaded = tmp_path / "again.yaml"
    reloaded.write_text(text.replace("  unused:\n    layers: [{dense: 2}]\n", ""))
    after = gradcli.load(reloaded)
    np.testing.assert_array_equal(after.evaluate()["y"], before.evaluate()["y"])
    code, out, _ = run("params", str(reloaded), "--format", "json")
    assert json.loads(out)["params"]["net.0.kernel"] | {} == {
        "model": "net", "shape": [3, 3, 1, 3], "dtype": "float64", "trainable": True,
        "source": "npz", "from": "w.npz"}


def test_npz_needs_a_file_and_unknown_models_are_named(spec: Path) -> None:
    code, out, err = run("params", str(spec), "--format", "npz")
    assert code == 2 and out == "" and "write it with -o FILE" in err
    code, out, err = run("params", str(spec), "--model", "nett")
    assert code == 2 and out == "" and "did you mean 'net'" in err


def test_float32_parameters(spec: Path) -> None:
    code, out, _ = run("params", str(spec), "--dtype", "float32", "--format", "json",
                       "--values", "--model", "net")
    assert json.loads(out)["params"]["net.4.bias"] == {
        "model": "net", "shape": [1], "dtype": "float32", "trainable": True, "source": "init",
        "from": "zeros", "value": [0.0]}


def test_eval_outputs_a_parameter_or_a_whole_model(spec: Path) -> None:
    code, out, err = run("eval", str(spec), "--output", "net.4.kernel", "--format", "json")
    assert code == 0, err
    value = json.loads(out)["outputs"]["net.4.kernel"]
    np.testing.assert_array_equal(value, gradcli.load(spec).values["net.4.kernel"])
    code, out, _ = run("eval", str(spec), "--output", "net", "--output", "y", "--format", "json")
    assert list(json.loads(out)["outputs"]) == [*NAMES[:8], "y"]
    code, out, err = run("eval", str(spec), "--output", "net.4.kernal")
    assert code == 2 and "did you mean 'net.4.kernel'" in err
    code, out, err = run("eval", str(spec), "--output", "unused")
    assert code == 2 and "model 'unused' is never called" in err


def test_grad_of_a_parameter_output(spec: Path) -> None:
    p = gradcli.load(spec)
    got = p.grad(wrt=["net.4.bias"], outputs=["net.4.bias"])["net.4.bias"]
    np.testing.assert_array_equal(got, [1.0])


LAYER_ERRORS = [
    ("conv-needs-filters", "[{conv2d: {kernel_size: 3}}]", "5:15",
     "conv2d needs a positive number of filters"),
    ("conv-kernel-size", "[{conv2d: {filters: 2, kernel_size: [3, 3, 3]}}]", "5:49",
     "'kernel_size' of conv2d must be a positive integer or a list of 2 of them"),
    ("conv-padding", "[{conv2d: {filters: 2, kernel_size: 3, padding: sam}}]", "5:61",
     "did you mean 'same'"),
    ("conv-on-a-matrix", "[{conv2d: {filters: 2, kernel_size: 1}}]", "7:6",
     "net layer 0 (conv2d) takes (batch, height, width, channels), an array of 4 axes; "
     "got shape (1, 2)"),
    ("pool-too-large", "[{reshape: [2, 1]}, {max_pool1d: 5}]", "7:6", "does not fit"),
    ("dropout-rate", "[{dropout: 1.5}]", "5:24", "'rate' of dropout must be a number >= 0 and < 1"),
    ("reshape-size", "[{reshape: [3]}]", "7:6", "cannot reshape (2,)"),
    ("two-minus-ones", "[{reshape: [-1, -1]}]", "5:24", "at most one of them -1"),
    ("embedding-float", "[{embedding: {input_dim: 3, output_dim: 2}}]", "7:6",
     "takes integer indices"),
    ("batch-norm-key", "[{batch_norm: {momentum: 0.9}}]", "5:28",
     "unknown key 'momentum' in batch_norm"),
    ("flatten-options", "[{flatten: 3}]", "5:24", "flatten takes no options"),
    ("shorthand-refused", "[{conv2d: 3}]", "5:23", "takes its options as a mapping"),
    ("options-outside", "[{conv2d: {filters: 2}, kernel_size: 3}]", "5:14",
     "a conv2d layer's options go inside it"),
]


@pytest.mark.parametrize("name,layers,where,fragment", LAYER_ERRORS,
                         ids=[e[0] for e in LAYER_ERRORS])
def test_layer_mistakes_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    name: str, layers: str, where: str, fragment: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"inputs:\n  x: [[1.0, 2.0]]\nmodels:\n  net:\n    layers: {layers}\n"
                    "outputs:\n  y: net(x)\n")
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(spec)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    assert f"{spec}:{where}: " in err, err
    assert fragment in err, err
