"""Every layer kind against Keras itself (when Keras is installed): the same
layer with the same weights gives the same numbers in float32, to the
rounding of float32 arithmetic.  The weights go through a `weights:` file
keyed by Keras's own weight names, as an importer would write them.

Keras runs on the backend KERAS_BACKEND names (Keras's default:
tensorflow; jax gives the same numbers).  Keras is not in the `test` extra
(TensorFlow alone is larger than the rest of the suite): without it this
file is skipped and the numpy references of test_layer_kinds.py remain."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gradcli

pytestmark = pytest.mark.skipif(importlib.util.find_spec("keras") is None,
                                reason="Keras is not installed")


@pytest.fixture(scope="module")
def keras() -> Any:
    """Keras, imported when a test here runs (not when pytest collects:
    TensorFlow takes seconds to import and raises the interpreter's
    recursion limit, which other tests of deep nesting depend on)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    limit = sys.getrecursionlimit()
    try:
        return pytest.importorskip("keras")
    finally:
        sys.setrecursionlimit(limit)


class _Layers:
    """`L.Conv2D(...)` in the table below, built once Keras is imported."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: (name, args, kwargs)


L = _Layers()

# (id, input shape without the batch axis, gradcli layers, Keras layers)
CASES: list[tuple[str, tuple[int, ...], list[Any], list[Any]]] = [
    ("dense", (5,), [{"dense": {"units": 4, "activation": "tanh"}}],
     [L.Dense(4, activation="tanh")]),
    ("conv2d-same-stride-odd", (7, 6, 3),
     [{"conv2d": {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}}],
     [L.Conv2D(4, 3, strides=2, padding="same")]),
    ("conv2d-valid-dilated", (8, 7, 2),
     [{"conv2d": {"filters": 3, "kernel_size": [3, 2], "dilation_rate": [2, 1],
                  "activation": "relu"}}],
     [L.Conv2D(3, (3, 2), dilation_rate=(2, 1), activation="relu")]),
    ("conv2d-same-even-kernel", (5, 6, 2),
     [{"conv2d": {"filters": 2, "kernel_size": 2, "padding": "same", "use_bias": False}}],
     [L.Conv2D(2, 2, padding="same", use_bias=False)]),
    ("conv1d-causal-dilated", (9, 2),
     [{"conv1d": {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}}],
     [L.Conv1D(3, 3, padding="causal", dilation_rate=2)]),
    ("conv1d-same-stride", (9, 3),
     [{"conv1d": {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"}}],
     [L.Conv1D(2, 4, strides=2, padding="same")]),
    ("max_pool2d-same-odd", (7, 5, 2), [{"max_pool2d": {"pool_size": 3, "strides": 2,
                                                        "padding": "same"}}],
     [L.MaxPooling2D(3, strides=2, padding="same")]),
    ("max_pool2d-valid", (6, 7, 2), ["max_pool2d"], [L.MaxPooling2D()]),
    ("avg_pool2d-same-odd", (5, 7, 2), [{"avg_pool2d": {"pool_size": [3, 2],
                                                        "padding": "same"}}],
     [L.AveragePooling2D((3, 2), padding="same")]),
    ("avg_pool2d-valid-strides", (6, 6, 1), [{"avg_pool2d": {"pool_size": 3, "strides": 2}}],
     [L.AveragePooling2D(3, strides=2)]),
    ("pool1d", (9, 2), [{"max_pool1d": 2}, {"avg_pool1d": {"pool_size": 2, "padding": "same"}}],
     [L.MaxPooling1D(2), L.AveragePooling1D(2, padding="same")]),
    ("global-pools", (4, 5, 3), ["global_avg_pool"], [L.GlobalAveragePooling2D()]),
    ("global-max", (4, 5, 3), [{"global_max_pool": {"keepdims": True}}],
     [L.GlobalMaxPooling2D(keepdims=True)]),
    ("batch_norm", (4, 3), ["batch_norm"], [L.BatchNormalization()]),
    ("batch_norm-no-scale", (6,), [{"batch_norm": {"scale": False, "epsilon": 1e-5}}],
     [L.BatchNormalization(scale=False, epsilon=1e-5)]),
    ("layer_norm", (3, 6), ["layer_norm"], [L.LayerNormalization()]),
    ("dropout-reshape-flatten", (6,), [{"dropout": 0.5}, {"reshape": [3, -1]}, "flatten"],
     [L.Dropout(0.5), L.Reshape((3, -1)), L.Flatten()]),
    ("small-cnn", (8, 8, 1),
     [{"conv2d": {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "tanh"}},
      {"max_pool2d": 2}, "batch_norm",
      {"conv2d": {"filters": 3, "kernel_size": 2, "activation": "relu"}},
      "global_avg_pool", {"dense": {"units": 2, "activation": "softmax"}}],
     [L.Conv2D(4, 3, padding="same", activation="tanh"), L.MaxPooling2D(),
      L.BatchNormalization(), L.Conv2D(3, 2, activation="relu"), L.GlobalAveragePooling2D(),
      L.Dense(2, activation="softmax")]),
]


def _weights(model: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random weights for every layer (moving variances positive), set in
    Keras and keyed net.INDEX.NAME for gradcli."""
    arrays = {}
    for index, layer in enumerate(model.layers):
        values = []
        for weight in layer.weights:
            name = weight.name.split("/")[-1]
            shape = tuple(weight.shape)
            value = rng.uniform(0.5, 1.5, shape) if name == "moving_variance" else \
                rng.standard_normal(shape) * (0.5 if name != "embeddings" else 1.0)
            values.append(value.astype(np.float32))
            arrays[f"net.{index}.{name}"] = values[-1]
        layer.set_weights(values)
    return arrays


def _compare(keras: Any, tmp_path: Path, layers: list[Any], keras_layers: list[Any],
             x: np.ndarray, input_dtype: str = "float32") -> None:
    built = [getattr(keras.layers, name)(*args, **kwargs) for name, args, kwargs in keras_layers]
    model = keras.Sequential([keras.Input(shape=x.shape[1:], dtype=input_dtype), *built])
    arrays = _weights(model, np.random.default_rng(1))
    expected = np.asarray(model(x, training=False))
    np.savez(tmp_path / "w.npz", **arrays)
    spec = {"inputs": {"x": {"value": x.tolist(), "dtype": "int64"} if input_dtype != "float32"
                       else x.tolist()},
            "models": {"net": {"layers": layers, "weights": "w.npz"}},
            "outputs": {"y": "net(x)"}}
    (tmp_path / "s.yaml").write_text(_yaml(spec))
    got = gradcli.load(tmp_path / "s.yaml", dtype="float32").evaluate()["y"]
    assert got.dtype == np.float32 and got.shape == expected.shape
    # float32 rounding of sums of up to ~30 products of numbers of order 1
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)


def _yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_keras(keras: Any, tmp_path: Path, case) -> None:
    _, shape, layers, keras_layers = case
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    _compare(keras, tmp_path, layers, keras_layers, x)


def test_embedding_matches_keras(keras: Any, tmp_path: Path) -> None:
    x = np.array([[0, 3, 3, 9], [1, 2, 0, 4]], dtype=np.int64)
    _compare(keras, tmp_path, [{"embedding": {"input_dim": 10, "output_dim": 3}}, "flatten",
                        {"dense": 2}],
             [L.Embedding(10, 3), L.Flatten(), L.Dense(2)], x, input_dtype="int64")
