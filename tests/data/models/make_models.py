"""Regenerate the model fixtures of tests/test_import_*.py and their
references, saved by the real libraries and computed by them:

    pip install torch==2.13.0 onnx onnxscript keras 'jax[cpu]' h5py
    KERAS_BACKEND=jax python tests/data/models/make_models.py

writes, next to this script,

    torch_mlp.onnx         nn.Sequential(Linear, Tanh, Linear, Softplus, Linear), 2 -> 1,
                           torch.onnx.export (the default exporter), opset 18
    torch_mlp_legacy.onnx  the same network, the TorchScript exporter (dynamo=False), opset 13
    torch_cnn.onnx         Conv2d, ReLU, BatchNorm2d (eval), MaxPool2d, AvgPool2d, Flatten,
                           Linear, LogSoftmax; 1x6x6 images
    keras_cnn.keras        Sequential: Conv2D, MaxPooling2D, BatchNormalization, Flatten,
    keras_cnn.h5           Dense(tanh), Dense; 6x6x2 images (.h5: Keras's legacy format)
    keras_pinn.keras       functional u(x, t): Concatenate, Dense(tanh) x2 with an Add
                           (a residual), Dense
    references.npz         per fixture: the input (float32), the output of its own runtime
                           (torch / Keras on JAX, float32), and d(sum of output)/d(input)
                           by torch.autograd / jax.grad; torch also in float64

and ../../../specs/data/seed003.keras (seed 003's network with the weights of
seed003_weights.npz).  The weights are seeded, so the files only change when
the libraries do.  Keras needs a backend: its numpy backend still imports
jax, so this uses KERAS_BACKEND=jax."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = Path(__file__).parent
SPECS_DATA = HERE.parent.parent.parent / "specs" / "data"


def torch_fixtures(refs: dict[str, np.ndarray]) -> None:
    import torch

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8),
                              torch.nn.Softplus(), torch.nn.Linear(8, 1)).eval()
    x = torch.randn(5, 2)
    batch = torch.export.Dim("batch")
    torch.onnx.export(mlp, (x,), HERE / "torch_mlp.onnx", input_names=["x"],
                      output_names=["u"], dynamic_shapes=({0: batch},), opset_version=18,
                      external_data=False)
    torch.onnx.export(mlp, (x,), HERE / "torch_mlp_legacy.onnx", dynamo=False,
                      input_names=["x"], output_names=["u"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "u": {0: "batch"}})
    _torch_refs(refs, "torch_mlp", mlp, x)

    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.BatchNorm2d(4),
        torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(2, stride=1, padding=1,
                                                  count_include_pad=False),
        torch.nn.Flatten(), torch.nn.Linear(64, 3), torch.nn.LogSoftmax(dim=1))
    with torch.no_grad():  # trained-looking running statistics
        cnn[2].running_mean.uniform_(-0.5, 0.5)
        cnn[2].running_var.uniform_(0.5, 2.0)
        cnn[2].weight.uniform_(0.5, 1.5)
        cnn[2].bias.uniform_(-0.2, 0.2)
    cnn.eval()
    images = torch.randn(2, 1, 6, 6)
    torch.onnx.export(cnn, (images,), HERE / "torch_cnn.onnx", input_names=["image"],
                      output_names=["logp"], opset_version=18, external_data=False)
    _torch_refs(refs, "torch_cnn", cnn, images)


def _torch_refs(refs: dict[str, np.ndarray], key: str, model: object, x: object) -> None:
    import torch

    for dtype, suffix in ((torch.float32, ""), (torch.float64, "64")):
        m = model.to(dtype)  # type: ignore[attr-defined]
        xi = x.to(dtype).clone().requires_grad_(True)  # type: ignore[attr-defined]
        y = m(xi)
        (grad,) = torch.autograd.grad(y.sum(), xi)
        refs[f"{key}.x{suffix}"] = xi.detach().numpy()
        refs[f"{key}.y{suffix}"] = y.detach().numpy()
        refs[f"{key}.grad{suffix}"] = grad.numpy()
    model.to(torch.float32)  # type: ignore[attr-defined]


def keras_fixtures(refs: dict[str, np.ndarray]) -> None:
    import jax
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    cnn = keras.Sequential([
        keras.Input((6, 6, 2)), L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(), L.BatchNormalization(), L.Flatten(), L.Dense(8, activation="tanh"),
        L.Dense(2)])
    bn = cnn.layers[2]
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.uniform(-0.2, 0.2, 4),
                    rng.uniform(-0.5, 0.5, 4), rng.uniform(0.5, 2.0, 4)])
    cnn.save(HERE / "keras_cnn.keras")
    cnn.save(HERE / "keras_cnn.h5")
    _keras_refs(refs, "keras_cnn", cnn, [rng.normal(size=(2, 6, 6, 2))], jax)

    x, t = keras.Input((1,), name="x"), keras.Input((1,), name="t")
    h = L.Dense(8, activation="tanh")(L.Concatenate()([x, t]))
    h = L.Add()([h, L.Dense(8, activation="tanh")(h)])
    pinn = keras.Model([x, t], L.Dense(1)(h))
    pinn.save(HERE / "keras_pinn.keras")
    _keras_refs(refs, "keras_pinn", pinn, [rng.uniform(size=(4, 1)), rng.uniform(size=(4, 1))],
                jax)

    weights = np.load(SPECS_DATA / "seed003_weights.npz")
    seed = keras.Sequential([keras.Input((2, 1), name="inp"), L.Flatten(name="flatten"),
                             L.Dense(28, activation="sigmoid", name="hidden"),
                             L.Dense(1, activation="sigmoid", name="f")], name="seed003")
    for i in (1, 2):
        seed.layers[i].set_weights([weights[f"net.{i}.kernel"], weights[f"net.{i}.bias"]])
    seed.save(SPECS_DATA / "seed003.keras")


def _keras_refs(refs: dict[str, np.ndarray], key: str, model: object, xs: list[np.ndarray],
                jax: object) -> None:
    xs32 = [np.asarray(x, dtype=np.float32) for x in xs]
    y = np.asarray(model(xs32 if len(xs32) > 1 else xs32[0]))  # type: ignore[operator]

    def total(*inputs: object) -> object:
        return model(list(inputs) if len(inputs) > 1 else inputs[0]).sum()  # type: ignore

    grads = jax.grad(total, argnums=tuple(range(len(xs32))))(*xs32)  # type: ignore
    refs[f"{key}.y"] = y
    for i, (x, g) in enumerate(zip(xs32, grads)):
        refs[f"{key}.x{i}"] = x
        refs[f"{key}.grad{i}"] = np.asarray(g)


def main() -> None:
    refs: dict[str, np.ndarray] = {}
    torch_fixtures(refs)
    keras_fixtures(refs)
    np.savez(HERE / "references.npz", **refs)
    for path in sorted(HERE.glob("*")) + [SPECS_DATA / "seed003.keras"]:
        print(f"{path.name:24} {path.stat().st_size:8} bytes")


if __name__ == "__main__":
    main()
