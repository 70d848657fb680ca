"""Shared by the importer tests: a Problem that calls a model file, and
first and second derivatives of it against central differences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import gradcli

DATA = Path(__file__).parent / "data" / "models"


def call_model(path: Path | str, xs: list[np.ndarray], dtype: str = "float64",
               **model: Any) -> gradcli.Problem:
    """`y: net(x0, x1, ...)` with the model file at `path` (format from its suffix)."""
    kind = "onnx" if str(path).endswith(".onnx") else "keras"
    names = [f"x{i}" for i in range(len(xs))]
    spec = {"inputs": {n: {"value": np.asarray(x, dtype=np.float64).tolist()}
                       for n, x in zip(names, xs)},
            "models": {"net": {kind: str(path), **model}},
            "outputs": {"y": f"net({', '.join(names)})"}, "wrt": names}
    return gradcli.load(spec, dtype=dtype)


def first_order(p: gradcli.Problem, h: float = 1e-6, seed: int = 0) -> tuple[float, float]:
    """(gradient . v, central difference of sum(y) along v) for a random v."""
    grads = p.grad()
    rng = np.random.default_rng(seed)
    v = {k: rng.standard_normal(p.values[k].shape) for k in grads}
    engine = sum(float(np.sum(g * v[k])) for k, g in grads.items())

    def at(sign: float) -> float:
        moved = {k: p.values[k] + sign * h * d for k, d in v.items()}
        return float(sum(np.sum(y) for y in p.evaluate(values=moved).values()))

    return engine, (at(1) - at(-1)) / (2 * h)


def second_order(p: gradcli.Problem, h: float = 1e-5, seed: int = 1
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(H v, central difference of the gradient along v) for the first
    source and a random v: the Hessian block of that source."""
    (name,) = p.default_wrt()[:1]
    x = p.values[name]
    v = np.random.default_rng(seed).standard_normal(x.shape)
    block = p.hessian(wrt=[name])[name][name]
    engine = np.tensordot(block, v, axes=x.ndim)
    plus = p.grad(wrt=[name], values={name: x + h * v})[name]
    minus = p.grad(wrt=[name], values={name: x - h * v})[name]
    return engine, (plus - minus) / (2 * h)


def assert_fd(p: gradcli.Problem, second: bool = True, rtol: float = 1e-6) -> None:
    engine, numeric = first_order(p)
    assert abs(engine - numeric) <= rtol * max(1.0, abs(numeric)), (engine, numeric)
    if second:
        hv, numeric_hv = second_order(p)
        scale = max(1.0, float(np.abs(numeric_hv).max()))
        assert np.abs(hv - numeric_hv).max() <= 1e2 * rtol * scale, (hv, numeric_hv)
