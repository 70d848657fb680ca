"""ONNX import: models built with `onnx.helper` against onnxruntime (values)
and finite differences (first and second derivatives), the files exported
by PyTorch in tests/data/models against torch's own numbers, and the
errors.  onnx and onnxruntime are in the `test` extra; torch is not (one
test exports a model on the fly where it is installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from importcheck import DATA, assert_fd, call_model

import gradcli
from gradcli.errors import SpecError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(7)
REFS = np.load(DATA / "references.npz")


def build(tmp: Path, nodes: list[Any], inputs: dict[str, tuple[int, ...]], outputs: list[str],
          inits: dict[str, np.ndarray] | None = None, opset: int = 18,
          shape: tuple[int, ...] | None = None) -> Path:
    """A model file; the output's shape from ONNX's shape inference (or `shape`)."""
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in outputs],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if shape is None:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    path = tmp / "m.onnx"
    onnx.save(model, path)
    return path


def runtime(path: Path, xs: list[np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, [x.astype(np.float32) for x in xs])))[0]


def f32(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return RNG.uniform(low, high, shape).astype(np.float32)


N = helper.make_node
# (id, nodes, input shapes, initializers, opset, second derivatives, positive inputs)
CASES: list[tuple[str, list[Any], dict[str, tuple[int, ...]], dict[str, Any], int, bool,
                  bool]] = [
    ("gemm", [N("Gemm", ["x", "W", "C"], ["y"], transB=1, alpha=0.5, beta=2.0)],
     {"x": (3, 4)}, {"W": f32(2, 4), "C": f32(2)}, 13, True, False),
    ("matmul-broadcast", [N("MatMul", ["x", "W"], ["y"])], {"x": (2, 3, 4)},
     {"W": f32(4, 2)}, 13, True, False),
    ("arithmetic", [N("Constant", [], ["one"], value_float=1.0), N("Mul", ["x", "x"], ["xx"]),
                    N("Add", ["xx", "one"], ["den"]), N("Add", ["x", "c"], ["a"]),
                    N("Mul", ["a", "x"], ["b"]), N("Sub", ["b", "c"], ["num"]),
                    N("Div", ["num", "den"], ["y"])],
     {"x": (3, 4)}, {"c": f32(4)}, 13, True, False),
    ("pow-sqrt-exp-log", [N("Pow", ["x", "p"], ["a"]), N("Sqrt", ["a"], ["b"]),
                          N("Log", ["b"], ["c"]), N("Exp", ["c"], ["d"]),
                          N("Pow", ["d", "two"], ["y"])],
     {"x": (2, 3)}, {"p": np.float32(3.0), "two": np.float32(2.0)}, 13, True, True),
    *[(op.lower(), [N(op, ["x"], ["y"], **attrs)], {"x": (3, 5)}, {}, opset, smooth, False)
      for op, attrs, opset, smooth in [
          ("Erf", {}, 13, True), ("Tanh", {}, 13, True), ("Sigmoid", {}, 13, True),
          ("Softplus", {}, 13, True), ("Relu", {}, 13, False),
          ("LeakyRelu", {"alpha": 0.1}, 13, False), ("Elu", {"alpha": 0.7}, 13, False),
          ("Gelu", {}, 20, True), ("Gelu", {"approximate": "tanh"}, 20, True),
          ("Softmax", {"axis": 0}, 13, True), ("LogSoftmax", {}, 13, True),
          ("Identity", {}, 13, True)]],
    ("conv2d-pads-strides-dilations-groups",
     [N("Conv", ["x", "W", "B"], ["y"], pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2],
        group=2)], {"x": (2, 4, 7, 6)}, {"W": f32(6, 2, 3, 2), "B": f32(6)}, 13, True, False),
    ("conv2d-same-upper", [N("Conv", ["x", "W"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
     {"x": (1, 2, 5, 6)}, {"W": f32(3, 2, 2, 3)}, 13, True, False),
    ("conv3d", [N("Conv", ["x", "W"], ["y"], pads=[1, 0, 0, 0, 1, 1])], {"x": (1, 2, 3, 3, 4)},
     {"W": f32(2, 2, 2, 2, 2)}, 13, True, False),
    ("conv1d-same-lower", [N("Conv", ["x", "W"], ["y"], auto_pad="SAME_LOWER")],
     {"x": (2, 3, 7)}, {"W": f32(2, 3, 4)}, 13, True, False),
    ("maxpool-ceil", [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2],
                        pads=[1, 0, 1, 1], ceil_mode=1)], {"x": (2, 2, 6, 5)}, {}, 13, False,
     False),
    ("avgpool-exclude-pad-ceil", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                                    strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
     {"x": (1, 2, 6, 5)}, {}, 13, True, False),
    ("avgpool-include-pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[2, 3], pads=[1, 1, 0, 1],
                               count_include_pad=1)], {"x": (1, 2, 4, 5)}, {}, 13, True, False),
    ("global-average-pool", [N("GlobalAveragePool", ["x"], ["y"])], {"x": (2, 3, 4, 5)}, {},
     13, True, False),
    ("batchnorm", [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
     {"x": (2, 3, 4, 2)}, {"s": f32(3), "b": f32(3), "m": f32(3), "v": f32(3, low=0.5)},
     15, True, False),
    ("layernorm-axis1", [N("LayerNormalization", ["x", "s", "b"], ["y"], axis=1)],
     {"x": (2, 3, 4)}, {"s": f32(3, 4), "b": f32(3, 4)}, 17, True, False),
    ("layout", [N("Transpose", ["x"], ["t"], perm=[0, 2, 1]), N("Concat", ["t", "c"], ["u"],
                                                                  axis=1),
                N("Slice", ["u", "st", "en", "ax", "sp"], ["s"]),
                N("Flatten", ["s"], ["y"], axis=1)],
     {"x": (2, 3, 4)}, {"c": f32(2, 2, 3), "st": np.array([-1, 0], np.int64),
                        "en": np.array([-100, 99], np.int64), "ax": np.array([1, 2], np.int64),
                        "sp": np.array([-2, 2], np.int64)}, 13, True, False),
    ("gather-squeeze-unsqueeze", [
        N("Gather", ["x", "i"], ["g"], axis=1), N("Unsqueeze", ["g", "a0"], ["u"]),
        N("Squeeze", ["u", "a0"], ["s"]), N("Gather", ["s", "k"], ["y"], axis=0)],
     {"x": (3, 4, 2)}, {"i": np.array([[3, -1], [0, 0]], np.int64),
                        "a0": np.array([0], np.int64), "k": np.array(1, np.int64)},
     13, True, False),
    ("reductions", [N("ReduceSum", ["x", "ax"], ["a"], keepdims=0),
                    N("ReduceMean", ["x", "ax"], ["b"]), N("Mul", ["a", "a"], ["c"]),
                    N("ReduceSum", ["b"], ["d"]), N("Add", ["c", "d"], ["y"])],
     {"x": (2, 3, 4)}, {"ax": np.array([-1], np.int64)}, 18, True, False),
    ("reducemean-opset13-attribute", [N("ReduceMean", ["x"], ["y"], axes=[0, 2], keepdims=0)],
     {"x": (2, 3, 4)}, {}, 13, True, False),
    ("shape-folding", [  # x.view(x.size(0), -1), as PyTorch exports it
        N("Shape", ["x"], ["sh"]), N("Gather", ["sh", "zero"], ["n"], axis=0),
        N("Unsqueeze", ["n", "axes"], ["n1"]), N("Concat", ["n1", "minus1"], ["target"], axis=0),
        N("Reshape", ["x", "target"], ["r"]), N("Expand", ["r", "big"], ["y"])],
     {"x": (2, 3, 2)}, {"zero": np.array(0, np.int64), "axes": np.array([0], np.int64),
                        "minus1": np.array([-1], np.int64),
                        "big": np.array([3, 1, 6], np.int64)}, 13, True, False),
    ("softplus-threshold", [  # torch's Softplus: linear above the threshold
        N("Softplus", ["x"], ["s"]), N("Greater", ["x", "th"], ["m"]),
        N("Where", ["m", "x", "s"], ["y"])], {"x": (3, 4)}, {"th": np.float32(0.5)}, 13,
     False, False),
]


OUT_SHAPES = {"shape-folding": (3, 2, 6)}  # beyond ONNX's shape inference


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_operators_match_onnxruntime_and_finite_differences(tmp_path: Path, case: Any) -> None:
    name, nodes, inputs, inits, opset, smooth, positive = case
    path = build(tmp_path, nodes, inputs, ["y"], inits, opset, OUT_SHAPES.get(name))
    xs = [f32(*shape, low=0.5 if positive else -2.0) for shape in inputs.values()]
    expected = runtime(path, xs)
    p32 = call_model(path, xs, "float32")
    np.testing.assert_allclose(p32.evaluate()["y"], expected, rtol=1e-5, atol=1e-6)
    p = call_model(path, xs)
    np.testing.assert_allclose(p.evaluate()["y"], expected, rtol=1e-5, atol=1e-6)
    assert_fd(p, second=smooth)


def test_every_float_initializer_is_a_parameter_named_by_its_onnx_name(tmp_path: Path) -> None:
    case = next(c for c in CASES if c[0] == "batchnorm")
    path = build(tmp_path, case[1], case[2], ["y"], case[3], case[4])
    p = call_model(path, [f32(2, 3, 4, 2)])
    listed = {q.name: q.trainable for q in p.parameters()}
    assert listed == {"net.s": True, "net.b": True, "net.m": False, "net.v": False}
    grads = p.grad(wrt=["net", "net.m"])
    assert set(grads) == {"net.s", "net.b", "net.m"}   # net: the trainable ones
    # d/dm of sum((x - m) * s / sqrt(v + eps) + b): -s / sqrt(v + eps) per element of a channel
    s, v = (p.values[f"net.{k}"] for k in "sv")
    np.testing.assert_allclose(grads["net.m"], -16 * s / np.sqrt(v + 1e-3), rtol=1e-6)


def test_the_pytorch_exports_match_torch(tmp_path: Path) -> None:
    for file, key in (("torch_mlp.onnx", "torch_mlp"), ("torch_mlp_legacy.onnx", "torch_mlp"),
                      ("torch_cnn.onnx", "torch_cnn")):
        p32 = call_model(DATA / file, [REFS[f"{key}.x"]], "float32")
        np.testing.assert_allclose(p32.evaluate()["y"], REFS[f"{key}.y"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(p32.grad()["x0"], REFS[f"{key}.grad"], rtol=1e-5, atol=1e-7)
        # float64: torch ran the same float32 weights in float64
        p = call_model(DATA / file, [REFS[f"{key}.x64"]])
        np.testing.assert_allclose(p.evaluate()["y"], REFS[f"{key}.y64"], rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(p.grad()["x0"], REFS[f"{key}.grad64"], rtol=1e-11,
                                   atol=1e-14)


@pytest.mark.parametrize("file", ["torch_mlp.onnx", "torch_cnn.onnx"])
def test_input_hessians_of_the_exports_match_finite_differences(file: str) -> None:
    key = file.removesuffix(".onnx")
    x = REFS[f"{key}.x64"][:1] if key == "torch_mlp" else REFS[f"{key}.x64"]  # a fixed batch
    assert_fd(call_model(DATA / file, [x]))


def test_torch_mlp_on_the_fly_matches_autograd(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.GELU(), torch.nn.Linear(5, 2),
                              torch.nn.LayerNorm(2)).double().eval()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    path = tmp_path / "mlp.onnx"
    import importlib.util
    import warnings

    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but still there
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        dynamo = importlib.util.find_spec("onnxscript") is not None  # the default exporter's
        torch.onnx.export(mlp, (x,), path, dynamo=dynamo, opset_version=18,
                          input_names=["x"], external_data=False)
    y = mlp(x)
    (grad,) = torch.autograd.grad((y ** 2).sum(), x)
    p = gradcli.load({"inputs": {"x": {"value": x.detach().numpy().tolist()}},
                      "models": {"net": {"onnx": str(path)}}, "outputs": {"y": "net(x)**2"}})
    # the exporter writes GELU's constants (1/sqrt(2), 0.5) as float32 numbers
    np.testing.assert_allclose(p.grad(wrt=["x"])["x"], grad.numpy(), rtol=1e-6, atol=1e-12)


# ---- errors ---------------------------------------------------------------------------

def _message(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        gradcli.load(spec).evaluate()
    return str(info.value)


def _spec(path: Path, call: str = "net(x)") -> dict[str, Any]:
    return {"inputs": {"x": {"value": [[1.0, 2.0]]}}, "models": {"net": {"onnx": str(path)}},
            "outputs": {"y": call}}


def test_an_unsupported_operator_is_named_with_its_node_and_the_supported_list(
        tmp_path: Path) -> None:
    path = build(tmp_path, [N("Hardmax", ["x"], ["h"], name="head/hardmax"),
                            N("Tanh", ["h"], ["y"])], {"x": (1, 2)}, ["y"])
    text = _message(_spec(path))
    assert "Hardmax (node 'head/hardmax')" in text
    assert "Supported operators: " in text and "Conv, " in text and "Gemm, " in text


def test_old_opsets_external_data_and_wrong_arity_are_refused(tmp_path: Path) -> None:
    path = build(tmp_path, [N("Relu", ["x"], ["y"])], {"x": (1, 2)}, ["y"], opset=11)
    assert "opset 11" in _message(_spec(path)) and "13" in _message(_spec(path))
    path = build(tmp_path, [N("Add", ["x", "w"], ["y"])], {"x": (1, 2)}, ["y"],
                 {"w": f32(2)})
    model = onnx.load(path)
    onnx.save(model, tmp_path / "ext.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    assert "external data" in _message(_spec(tmp_path / "ext.onnx"))
    path = build(tmp_path, [N("Relu", ["x"], ["y"])], {"x": (1, 2)}, ["y"])
    assert "takes 1 input (x (1, 2)), got 2" in _message(_spec(path, "net(x, x)"))
    assert "has shape (1, 2) in the ONNX file; got shape (2,)" in \
        _message(_spec(path, "net(x[0])"))


def test_a_reshape_to_a_computed_shape_says_why(tmp_path: Path) -> None:
    path = build(tmp_path, [N("Cast", ["x"], ["s"], to=TensorProto.INT64),
                            N("Reshape", ["x", "s"], ["y"])], {"x": (1, 2)}, ["y"],
                 shape=(1, 2))
    text = _message(_spec(path))
    assert "Cast node" in text and "not differentiable" in text


def test_model_keys_are_checked(tmp_path: Path) -> None:
    path = build(tmp_path, [N("Relu", ["x"], ["y"])], {"x": (1, 2)}, ["y"])
    spec = _spec(path)
    spec["models"]["net"]["layers"] = ["flatten"]
    assert "'layers' cannot go with onnx" in _message(spec)
    spec["models"]["net"] = {"onnx": str(tmp_path / "missing.onnx")}
    assert "ONNX file not found" in _message(spec)


def test_an_initializer_above_max_elements_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = build(tmp_path, [N("MatMul", ["x", "W"], ["y"])], {"x": (1, 40)}, ["y"],
                 {"W": np.zeros((40, 40), np.float32)})
    with pytest.raises(SpecError, match="initializer 'W' .* 1600 elements, more than the limit"):
        gradcli.load(_spec(path), max_elements=1000)


# ---- spec-less calls: --model ---------------------------------------------------------------

def _cli(*args: str) -> Any:
    from click.testing import CliRunner

    from gradcli.cli.group import cli

    return CliRunner().invoke(cli, list(args))


def test_model_option_calls_the_file_without_a_spec(tmp_path: Path) -> None:
    import json

    x = REFS["torch_mlp.x64"]
    np.save(tmp_path / "x.npy", x)
    file = str(DATA / "torch_mlp.onnx")
    result = _cli("grad", "--model", file, "--set", f"x=@{tmp_path / 'x.npy'}", "--format",
                  "json")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(json.loads(result.stdout)["grad"]["x"], REFS["torch_mlp.grad64"],
                               rtol=1e-11, atol=1e-14)
    result = _cli("eval", "--model", file, "--set", f"x=@{tmp_path / 'x.npy'}", "--format",
                  "json")
    assert list(json.loads(result.stdout)["outputs"]) == ["u"]  # the file's output name
    result = _cli("grad", "--model", f"u={file}", "-e", "sum(u(x)**2)", "--set",
                  f"x=@{tmp_path / 'x.npy'}", "--wrt", "u.4.bias", "--format", "json")
    assert result.exit_code == 0, result.stderr
    expected = 2 * np.sum(REFS["torch_mlp.y64"])
    assert json.loads(result.stdout)["grad"]["u.4.bias"] == pytest.approx([expected], rel=1e-12)
    result = _cli("hessian", "--model", file, "--set", f"x=@{tmp_path / 'x.npy'}",
                  "--batch-axis", "0", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert np.asarray(json.loads(result.stdout)["hessian"]["x"]["x"]).shape == (5, 2, 2)


def test_model_option_errors() -> None:
    file = str(DATA / "torch_mlp.onnx")
    result = _cli("grad", "--model", file)
    assert result.exit_code == 2
    assert "give the model's inputs with --set (--set x=@x.npy); its inputs are: x (batch, 2)" \
        in result.stderr
    result = _cli("grad", "--model", str(DATA / "make_models.py"), "--set", "x=[[1.0, 2.0]]")
    assert result.exit_code == 2 and "must end in .onnx, .keras, .h5" in result.stderr
    spec = str(Path(__file__).parent.parent / "specs" / "quickstart.yaml")
    result = _cli("grad", spec, "--model", file)
    assert result.exit_code == 2 and "not both" in result.stderr


def test_docs_list_every_operator() -> None:
    import re

    from gradcli.language.importers.onnx_graph import SUPPORTED

    text = (Path(__file__).parent.parent / "docs" / "networks.md").read_text()
    section = text[text.index("#### ONNX"):text.index("#### Keras")]
    listed = {name for cell in re.findall(r"`([A-Za-z ]+)`", section) for name in cell.split()}
    assert set(SUPPORTED) <= listed, set(SUPPORTED) - listed
