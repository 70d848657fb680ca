"""models: every weights-file mistake and every mistake in a models: block or
in a model call, as an error located at FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gradcli
from gradcli.cli.group import main
from gradcli.errors import SpecError


def _fails(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
           where: str, fragment: str | list[str], args: tuple[str, ...] = ()) -> str:
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["grad", str(spec), *args])
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("gradcli: error: ")
    assert f"{spec}:{where}: " in err, err
    for part in [fragment] if isinstance(fragment, str) else fragment:
        assert part in err, err
    return err


NET = ("inputs:\n  x: [[1.0, 2.0]]\nmodels:\n  net:\n"
       "    layers: [flatten, {dense: 3}, {dense: {units: 1, use_bias: false}}]\n")
WEIGHTS_LINE = "    weights: w.npz\n"
CALL = "outputs:\n  y: net(x)\n"
GOOD = {"net.1.kernel": np.ones((2, 3)), "net.1.bias": np.zeros(3),
        "net.2.kernel": np.ones((3, 1))}


def test_good_weights_file_loads(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", **GOOD, x_data=np.zeros(4))  # other keys are ignored
    (tmp_path / "s.yaml").write_text(NET + WEIGHTS_LINE + CALL)
    p = gradcli.load(tmp_path / "s.yaml")
    np.testing.assert_array_equal(p.evaluate()["y"], [[9.0]])


@pytest.mark.parametrize("change,fragments", [
    ({"drop": "net.1.bias"}, ["missing net.1.bias"]),
    ({"add": ("net.2.bias", np.zeros(1))}, ["extra net.2.bias"]),
    ({"add": ("net.0.kernel", np.zeros((2, 2)))}, ["extra net.0.kernel"]),
    ({"add": ("net.1.kernel", np.ones((2, 4)))},
     ["wrong shape: net.1.kernel has shape (2, 4), expected (in, 3)"]),
    ({"add": ("net.2.kernel", np.ones((4, 1)))},
     ["net.2.kernel has shape (4, 1), expected (3, 1)"]),
    ({"drop": "net.2.kernel", "add": ("net.1.bias", np.zeros((3, 1)))},
     ["missing net.2.kernel", "net.1.bias has shape (3, 1), expected (3,)"]),
])
def test_weights_that_do_not_fit_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            change: dict[str, Any],
                                            fragments: list[str]) -> None:
    arrays = dict(GOOD)
    if "drop" in change:
        del arrays[change["drop"]]
    if "add" in change:
        key, value = change["add"]
        arrays[key] = value
    np.savez(tmp_path / "w.npz", **arrays)
    err = _fails(tmp_path, capsys, NET + WEIGHTS_LINE + CALL, "6:14",
                 ["weights file w.npz does not fit model 'net'", *fragments])
    assert "The model's parameters are: net.1.kernel (in, 3), net.1.bias (3,), " \
           "net.2.kernel (3, 1)" in err


@pytest.mark.parametrize("content,fragment", [
    (b"this is not a zip archive", "cannot read weights file w.npz as .npz"),
    (None, "holds a single array (.npy)"),
])
def test_weights_file_that_is_not_an_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         content: bytes | None, fragment: str) -> None:
    target = tmp_path / "w.npz"
    if content is None:
        with open(target, "wb") as handle:
            np.save(handle, np.ones(3))
    else:
        target.write_bytes(content)
    _fails(tmp_path, capsys, NET + WEIGHTS_LINE + CALL, "6:14", fragment)


def test_pickled_weights_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "w.npz", **GOOD, evil=np.array([object()], dtype=object))
    _fails(tmp_path, capsys, NET + WEIGHTS_LINE + CALL, "6:14", "cannot read array 'evil'")


def test_weights_file_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(tmp_path, capsys, NET + WEIGHTS_LINE + CALL, "6:14", "weights file not found: w.npz")


def test_features_that_do_not_fit_the_loaded_kernel(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "w.npz", **GOOD)
    text = NET.replace("[[1.0, 2.0]]", "[[1.0, 2.0, 3.0]]") + WEIGHTS_LINE + CALL
    _fails(tmp_path, capsys, text, "8:6", "net layer 1 (dense) gets 3 features")


def test_weights_prefix_renames_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", **{k.replace("net.", "old."): v for k, v in GOOD.items()})
    text = NET + "    weights: {file: w.npz, prefix: old}\n" + CALL
    (tmp_path / "s.yaml").write_text(text)
    p = gradcli.load(tmp_path / "s.yaml")
    assert sorted(p.models.parameters) == ["net.1.bias", "net.1.kernel", "net.2.kernel"]


MODEL_ERRORS = [
    ("unknown-model-key", "    layres: [{dense: 1}]\n", "5:5", "did you mean 'layers'"),
    ("unknown-layer", "    layers: [{dense: 1}, {Dense: 2}]\n", "5:27", "did you mean 'dense'"),
    ("activation-as-layer", "    layers: [tanh]\n", "5:14", "write {activation: tanh}"),
    ("bad-units", "    layers: [{dense: 0}]\n", "5:22", "positive number of units"),
    ("unknown-activation", "    layers: [{dense: {units: 2, activation: sigmod}}]\n", "5:45",
     "did you mean 'sigmoid'"),
    ("unknown-dense-key", "    layers: [{dense: {units: 2, activaton: tanh}}]\n", "5:33",
     "did you mean 'activation'"),
    ("concat-not-first", "    layers: [{dense: 2}, concat]\n", "5:26", "first layer"),
    ("unknown-initializer", "    layers: [{dense: 2}]\n    init: {kernel: glorot}\n", "6:20",
     "did you mean 'glorot_normal'"),
    ("bad-initializer-param",
     "    layers: [{dense: 2}]\n    init: {kernel: {normal: {sd: 0.1}}}\n", "6:30",
     "unknown key 'sd' in initializer 'normal'"),
    ("negative-seed", "    layers: [{dense: 2}]\n    init: {seed: -1}\n", "6:18", "seed"),
    ("init-and-weights", "    layers: [{dense: 2}]\n    init: {seed: 1}\n    weights: w.npz\n",
     "7:5", "both 'init:' and 'weights:'"),
    ("empty-layers", "    layers: []\n", "5:13", "non-empty"),
    ("dense-options-outside", "    layers: [{dense: 8, activation: tanh}]\n", "5:14",
     "options go inside it"),
    ("dense-without-units", "    layers: [dense]\n", "5:14", "positive number of units"),
]


@pytest.mark.parametrize("name,body,where,fragment", MODEL_ERRORS,
                         ids=[e[0] for e in MODEL_ERRORS])
def test_model_block_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                              body: str, where: str, fragment: str) -> None:
    text = "inputs:\n  x: [[1.0, 2.0]]\nmodels:\n  net:\n" + body + CALL
    _fails(tmp_path, capsys, text, where, fragment)


@pytest.mark.parametrize("text,where,fragment", [
    ("inputs:\n  x: [[1.0]]\nmodels:\n  x:\n    layers: [{dense: 1}]\n" + CALL, "4:3",
     "already an input"),
    ("inputs:\n  x: [[1.0]]\nmodels:\n  sin:\n    layers: [{dense: 1}]\n" + CALL, "4:3",
     "catalogue function"),
    ("inputs:\n  x: [[1.0]]\nmodels:\n  net:\n    layers: [{dense: 1}]\n"
     "outputs:\n  y: net(x, x)\n", "7:6", "make its first layer concat"),
    ("inputs:\n  x: [[1.0]]\n  t: [1.0]\nmodels:\n  net:\n    layers: [concat, {dense: 1}]\n"
     "outputs:\n  y: net(x, t)\n", "8:6", "same shape apart from it"),
    ("inputs:\n  x: [[1.0, 2.0]]\nmodels:\n  net:\n    layers: [{dense: 1000000000}]\n"
     + CALL, "7:6", "more than the limit"),
    ("inputs:\n  x: [[1.0]]\nmodels:\n  net:\n    layers: [{dense: 1}]\n"
     "  other:\n    layers: [{dense: 1}]\n" + CALL + "wrt: [other]\n", "10:7", "never called"),
])
def test_model_use_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                            where: str, fragment: str) -> None:
    _fails(tmp_path, capsys, text, where, fragment)


def test_unknown_parameter_source_suggests(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", **GOOD)
    (tmp_path / "s.yaml").write_text(NET + WEIGHTS_LINE + CALL)
    p = gradcli.load(tmp_path / "s.yaml")
    with pytest.raises(SpecError, match="did you mean 'net.2.kernel'"):
        p.grad(wrt=["net.2.kernal"])
