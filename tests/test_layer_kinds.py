"""The layer kinds of the registry (language/layers/): every kind against a
numpy reference written from its definition (loops, TensorFlow's padding
formula), derivatives through every kind w.r.t. inputs and parameters
against finite differences (first and second order), and what the
registry promises: one entry per kind that parses its examples, states its
schema and parameters, and imports no numpy (shell completion)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from fdcheck import directional_fd

import gradcli
from gradcli.errors import SpecError
from gradcli.language.layers import REGISTRY, make_layer

RNG = np.random.default_rng(11)
X4 = RNG.standard_normal((2, 7, 6, 3))     # (B, H, W, C): odd and even sizes
X3 = RNG.standard_normal((2, 9, 2))        # (B, L, C)


def run(layers: list[Any], x: np.ndarray, seed: int = 3, **init: Any) -> gradcli.Problem:
    return gradcli.load({"inputs": {"x": x.tolist()},
                         "models": {"net": {"layers": layers,
                                            "init": {"seed": seed, **init}}},
                         "outputs": {"y": "net(x)"}})


def tf_same(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding, written out again from its documentation."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def windows(x: np.ndarray, window, strides, dilation, pads):
    """The output sizes, and per output position (b, o) the values of its
    window's taps (None for a padded cell); x is (B, *S, C)."""
    n = len(window)
    sizes = x.shape[1:1 + n]
    out = [(sz + lo + hi - ((k - 1) * d + 1)) // s + 1
           for sz, k, s, d, (lo, hi) in zip(sizes, window, strides, dilation, pads)]
    found = []
    for b in range(x.shape[0]):
        for o in itertools.product(*map(range, out)):
            taps = []
            for k in itertools.product(*map(range, window)):
                cell = [oi * s + ki * d - lo for oi, ki, s, d, (lo, _) in
                        zip(o, k, strides, dilation, pads)]
                inside = all(0 <= c < sz for c, sz in zip(cell, sizes))
                taps.append(x[(b, *cell)] if inside else None)
            found.append(((b, *o), taps))
    return out, found


def conv_ref(x, kernel, bias, strides, dilation, pads):
    n = kernel.ndim - 2
    flat = kernel.reshape(-1, *kernel.shape[-2:])
    out, found = windows(x, kernel.shape[:n], strides, dilation, pads)
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]))
    for at, taps in found:
        y[at] = sum(t @ flat[i] for i, t in enumerate(taps) if t is not None) + bias
    return y


def pool_ref(x, window, strides, pads, how):
    out, found = windows(x, window, strides, (1,) * len(window), pads)
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for at, taps in found:
        real = np.array([t for t in taps if t is not None])
        y[at] = real.max(0) if how == "max" else real.mean(0)
    return y


# ---- values against numpy -----------------------------------------------------------

@pytest.mark.parametrize("options,strides,dilation,same", [
    ({"kernel_size": 3}, (1, 1), (1, 1), False),
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, (2, 2), (1, 1), True),
    ({"kernel_size": [2, 3], "padding": "same", "dilation_rate": [2, 1]}, (1, 1), (2, 1), True),
    ({"kernel_size": 2, "strides": [3, 2]}, (3, 2), (1, 1), False),
])
def test_conv2d_matches_numpy(options, strides, dilation, same) -> None:
    p = run([{"conv2d": {"filters": 4, **options}}], X4, bias={"normal": {"stddev": 1.0}})
    kernel, bias = p.values["net.0.kernel"], p.values["net.0.bias"]
    assert kernel.shape[2:] == (3, 4)
    pads = [tf_same(n, k, s, d) if same else (0, 0)
            for n, k, s, d in zip(X4.shape[1:3], kernel.shape[:2], strides, dilation)]
    expected = conv_ref(X4, kernel, bias, strides, dilation, pads)
    np.testing.assert_allclose(p.evaluate()["y"], expected, rtol=1e-12, atol=1e-13)


def test_conv1d_causal_and_same_match_numpy() -> None:
    p = run([{"conv1d": {"filters": 3, "kernel_size": 3, "padding": "causal",
                         "dilation_rate": 2}},
             {"conv1d": {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same",
                         "activation": "tanh"}}], X3, bias={"normal": {"stddev": 1.0}})
    v = p.values
    h = conv_ref(X3, v["net.0.kernel"], v["net.0.bias"], (1,), (2,), [(4, 0)])
    expected = np.tanh(conv_ref(h, v["net.1.kernel"], v["net.1.bias"], (2,), (1,),
                                [tf_same(9, 2, 2)]))
    np.testing.assert_allclose(p.evaluate()["y"], expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("how", ["max", "avg"])
@pytest.mark.parametrize("options,window,strides,same", [
    ({}, (2, 2), (2, 2), False),
    ({"pool_size": 3, "strides": 2, "padding": "same"}, (3, 3), (2, 2), True),
    ({"pool_size": [2, 3], "strides": 1, "padding": "same"}, (2, 3), (1, 1), True),
    ({"pool_size": 3, "strides": [1, 2]}, (3, 3), (1, 2), False),
])
def test_pools_match_numpy(how, options, window, strides, same) -> None:
    p = run([{f"{how}_pool2d": options} if options else f"{how}_pool2d"], X4)
    pads = [tf_same(n, k, s) if same else (0, 0)
            for n, k, s in zip(X4.shape[1:3], window, strides)]
    np.testing.assert_allclose(p.evaluate()["y"], pool_ref(X4, window, strides, pads, how),
                               rtol=1e-13, atol=1e-15)


def test_pool1d_and_global_pools_match_numpy() -> None:
    p = run([{"max_pool1d": 3}], X3)
    np.testing.assert_allclose(p.evaluate()["y"], pool_ref(X3, (3,), (3,), [(0, 0)], "max"))
    np.testing.assert_allclose(run(["global_avg_pool"], X4).evaluate()["y"],
                               X4.mean(axis=(1, 2)), rtol=1e-13)
    got = run([{"global_max_pool": {"keepdims": True}}], X4).evaluate()["y"]
    np.testing.assert_array_equal(got, X4.max(axis=(1, 2), keepdims=True))


def test_batch_norm_and_layer_norm_match_numpy() -> None:
    x = RNG.standard_normal((3, 4, 5))
    w = {"net.0.gamma": RNG.uniform(0.5, 2, 5), "net.0.beta": RNG.standard_normal(5),
         "net.0.moving_mean": RNG.standard_normal(5),
         "net.0.moving_variance": RNG.uniform(0.1, 2, 5),
         "net.1.gamma": RNG.uniform(0.5, 2, 5), "net.1.beta": RNG.standard_normal(5)}
    p = run(["batch_norm", {"layer_norm": {"epsilon": 1e-5}}], x)
    got = p.evaluate(values=w)["y"]
    h = (x - w["net.0.moving_mean"]) / np.sqrt(w["net.0.moving_variance"] + 1e-3) \
        * w["net.0.gamma"] + w["net.0.beta"]
    mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
    expected = (h - mu) / np.sqrt(var + 1e-5) * w["net.1.gamma"] + w["net.1.beta"]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    names = [n for n in p.models.parameters]
    assert names == ["net.0.gamma", "net.0.beta", "net.0.moving_mean", "net.0.moving_variance",
                     "net.1.gamma", "net.1.beta"]


def test_embedding_gathers_rows_of_an_integer_input() -> None:
    p = gradcli.load({"inputs": {"i": {"value": [[0, 4, 4], [2, 1, 0]], "dtype": "int64"}},
                      "models": {"emb": {"layers": [{"embedding": {"input_dim": 5,
                                                                   "output_dim": 3}}]}},
                      "outputs": {"y": "emb(i)"}})
    table = p.values["emb.0.embeddings"]
    assert table.shape == (5, 3) and np.all(np.abs(table) <= 0.05)  # Keras's uniform default
    np.testing.assert_array_equal(p.evaluate()["y"], table[[[0, 4, 4], [2, 1, 0]]])
    g = p.grad(wrt=["emb"])["emb.0.embeddings"]
    np.testing.assert_array_equal(g[:, 0], [2, 1, 1, 0, 2])  # repeated rows add up


def test_reshape_and_dropout() -> None:
    x = RNG.standard_normal((2, 12))
    got = run([{"dropout": 0.3}, {"reshape": [2, -1, 3]}], x).evaluate()["y"]
    np.testing.assert_array_equal(got, x.reshape(2, 2, 2, 3))


# ---- derivatives -----------------------------------------------------------------------

CNN = [{"conv2d": {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same",
                   "activation": "tanh"}},
       {"avg_pool2d": {"pool_size": 2, "strides": 1, "padding": "same"}},
       {"batch_norm": {"epsilon": 0.1}}, {"max_pool2d": 2},
       {"layer_norm": {"epsilon": 0.01}}, "flatten", {"dense": {"units": 2, "activation": "gelu"}}]


def _cnn() -> gradcli.Problem:
    return gradcli.load({
        "inputs": {"x": X4.tolist()},
        "models": {"net": {"layers": CNN, "init": {"seed": 5, "bias": {"normal": {}}}}},
        "outputs": {"y": "sum(sin(net(x)))"}})


@pytest.mark.parametrize("wrt", [["x"], ["net"], ["net.0.kernel", "net.2.moving_variance"]])
def test_gradients_through_every_kind_match_finite_differences(wrt) -> None:
    p = _cnn()
    grads = p.grad(wrt=wrt)
    assert all(g is not None for g in grads.values())
    engine, numeric = directional_fd(p, grads)
    assert engine == pytest.approx(numeric, rel=1e-7, abs=1e-10)


def test_wrt_a_model_is_its_trainable_parameters() -> None:
    assert list(_cnn().grad(wrt=["net"])) == [
        "net.0.kernel", "net.0.bias", "net.2.gamma", "net.2.beta", "net.4.gamma", "net.4.beta",
        "net.6.kernel", "net.6.bias"]


def test_second_derivatives_through_conv_and_pools() -> None:
    """A Hessian block (forward over reverse, batched tangents: the conv rows'
    batching rules) against central differences of the gradient."""
    p = _cnn()
    h = p.hessian(wrt=["net.0.kernel"])["net.0.kernel"]["net.0.kernel"]
    k = p.values["net.0.kernel"]
    assert h.shape == k.shape + k.shape
    np.testing.assert_allclose(h, np.moveaxis(h, range(4), range(4, 8)), rtol=1e-9, atol=1e-12)
    direction = np.random.default_rng(2).standard_normal(k.shape)
    step = 1e-5

    def grad_at(sign: float) -> np.ndarray:
        return p.grad(wrt=["net.0.kernel"],
                      values={"net.0.kernel": k + sign * step * direction})["net.0.kernel"]

    numeric = (grad_at(1) - grad_at(-1)) / (2 * step)
    engine = np.tensordot(h, direction, axes=4)
    np.testing.assert_allclose(engine, numeric, rtol=1e-6, atol=1e-8)


# ---- the registry ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_kind_documents_and_parses_its_example(name: str) -> None:
    import yaml

    from gradcli.language.layers import parse_layer
    from gradcli.language.yamldoc import Document

    kind = REGISTRY[name]
    assert kind.summary and kind.example and kind.keras
    assert all(option.doc for option in kind.options.items), name
    layer = parse_layer(Document(None, "<doc>"), (0,), 0, yaml.safe_load(kind.example))
    assert layer.kind == name and set(layer.options) == set(kind.options.names)
    specs = kind.params(layer.options, None)
    assert [p.part for p in specs] == list(kind.parameter_parts(layer.options))
    assert all(p.init for p in specs)


def test_make_layer_validates_like_the_yaml() -> None:
    layer = make_layer("conv2d", 3, filters=8, kernel_size=3, padding="same")
    assert layer.options["kernel_size"] == (3, 3) and layer.options["strides"] == (1, 1)
    shapes = [p.shape for p in REGISTRY["conv2d"].params(layer.options, 5)]
    assert shapes == [(3, 3, 5, 8), (8,)]
    with pytest.raises(SpecError, match="'padding' of conv2d must be one of valid, same, got "
                                        "'causal'"):
        make_layer("conv2d", 0, filters=8, kernel_size=3, padding="causal")


def test_the_registry_imports_no_numpy() -> None:
    """Shell completion reads the registry on every Tab press."""
    code = ("import sys, gradcli.language.layers as l, gradcli.cli.completion;"
            "print('numpy' in sys.modules, len(l.REGISTRY))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", str(len(REGISTRY))]


def test_a_model_built_in_python_runs_like_a_yaml_one() -> None:
    """The importers' path: layers from make_layer, weights from arrays
    (checked as a weights: file is), the source named in `params`."""
    from dataclasses import replace

    from gradcli.api import Problem
    from gradcli.errors import Location
    from gradcli.language.models import model_spec
    from gradcli.language.specfile import load_dict

    where = Location("model.onnx", 1, 1)
    layers = [make_layer("conv2d", 0, where, filters=2, kernel_size=2),
              make_layer("global_max_pool", 1, where), make_layer("dense", 2, where, units=1)]
    weights = {"net.0.kernel": RNG.standard_normal((2, 2, 3, 2)), "net.0.bias": np.zeros(2),
               "net.2.kernel": np.ones((2, 1)), "net.2.bias": np.zeros(1)}
    model = model_spec("net", layers, where, weights=weights, weights_file="model.onnx",
                       weights_format="onnx")
    spec = load_dict({"inputs": {"x": X4.tolist()}, "outputs": {"y": "net(x)"}})
    problem = Problem(replace(spec, models={"net": model}))
    pooled = conv_ref(X4, weights["net.0.kernel"], 0.0, (1, 1), (1, 1), [(0, 0)] * 2)
    np.testing.assert_allclose(problem.evaluate()["y"], pooled.max(axis=(1, 2)).sum(-1)[:, None],
                               rtol=1e-13)
    assert {(p.source, p.origin) for p in problem.parameters()} == {("onnx", "model.onnx")}
    with pytest.raises(SpecError, match="model.onnx:1:1: weights file model.onnx does not fit "
                                        "model 'net': missing net.2.bias"):
        model_spec("net", layers, where, weights={k: v for k, v in weights.items()
                                                  if k != "net.2.bias"},
                   weights_file="model.onnx")
