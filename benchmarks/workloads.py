"""The fixed workloads: each returns {implementation name: zero-argument call}
with the data built once; every call computes the same quantity."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import gradcli

Calls = dict[str, Callable[[], object]]
RNG = np.random.default_rng(0)

SEED000 = {"a": np.array([[1.0, 3.0], [2.0, 6.0]]), "b": np.array([[1.0], [2.0]])}
MLP_SIZES = (784, 256, 256, 10)
MLP = {
    "X": RNG.normal(size=(64, 784)),
    "labels": RNG.integers(0, 10, size=64),
    "W1": RNG.normal(size=(784, 256)) / 28, "b1": np.zeros(256),
    "W2": RNG.normal(size=(256, 256)) / 16, "b2": np.zeros(256),
    "W3": RNG.normal(size=(256, 10)) / 16, "b3": np.zeros(10),
}
JAC = {"W": RNG.normal(size=(256, 256)) / 16, "x": RNG.normal(size=256)}
HESS = {"A": RNG.normal(size=(300, 100)) / 10, "x": RNG.normal(size=100)}
PINN = {"P": RNG.uniform(-1, 1, size=(1000, 2)),
        "W1": RNG.normal(size=(2, 64)), "b1": np.zeros(64),
        "W2": RNG.normal(size=(64, 64)) / 8, "b2": np.zeros(64),
        "W3": RNG.normal(size=(64, 1)) / 8, "b3": np.zeros(1)}
PARAMS = ["W1", "b1", "W2", "b2", "W3", "b3"]


def _inputs(values: dict[str, np.ndarray]) -> dict[str, object]:
    return {k: ({"value": v.tolist(), "dtype": "int64"} if v.dtype.kind == "i" else v.tolist())
            for k, v in values.items()}


def gradcli_calls() -> dict[str, Callable[[], object]]:
    seed = gradcli.load({"inputs": _inputs(SEED000), "outputs": {"y": "matmul(sin(a), b)"}})
    mlp = gradcli.load({"inputs": _inputs(MLP), "let": {
        "h1": "tanh(X @ W1 + b1)", "h2": "tanh(h1 @ W2 + b2)"},
        "outputs": {"loss": "mean(sparse_cross_entropy(labels, h2 @ W3 + b3))"},
        "wrt": PARAMS})
    jac = gradcli.load({"inputs": _inputs(JAC), "outputs": {"y": "tanh(W @ x)"}, "wrt": ["x"]})
    hess = gradcli.load({"inputs": _inputs(HESS), "outputs": {
        "f": "logsumexp(A @ x) + 0.5 * sum(x * x)"}, "wrt": ["x"]})
    pinn = gradcli.load({"inputs": _inputs(PINN), "outputs": {
        "u": "tanh(tanh(P @ W1 + b1) @ W2 + b2) @ W3 + b3"}, "wrt": ["P"]})
    return {
        "a_seed000_grad": seed.grad,
        "b_mlp_grad": mlp.grad,
        "c_jacobian_tanh_256": lambda: jac.jacobian(),
        "d_hessian_logsumexp": lambda: hess.hessian(),
        "e_per_point_hessians": lambda: pinn.hessian(batch_axis=0),
    }


def numpy_mlp_forward() -> Callable[[], object]:
    m = MLP

    def forward() -> float:
        h1 = np.tanh(m["X"] @ m["W1"] + m["b1"])
        h2 = np.tanh(h1 @ m["W2"] + m["b2"])
        z = h2 @ m["W3"] + m["b3"]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(64), m["labels"]].mean())

    return forward
