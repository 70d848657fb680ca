"""The Python API: plans built once, values swapped, nested orders, sources."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli
from gradcli.errors import SpecError

SPEC = {
    "inputs": {"x": [0.5, 1.5], "w": 2.0},
    "let": {"h": "sin(x * w)"},
    "outputs": {"y": "sum(h * h)"},
}


def test_values_swap_without_rebuilding() -> None:
    p = gradcli.load(SPEC)
    first = p.grad(wrt=["x"])["x"]
    plans = dict(p._plans)
    x = np.array([0.1, 0.2])
    again = p.grad(wrt=["x"], values={"x": x})["x"]
    assert p._plans == plans  # nothing new was planned
    np.testing.assert_allclose(again, 2 * np.sin(2 * x) * np.cos(2 * x) * 2, rtol=1e-14)
    assert not np.allclose(first, again)
    with pytest.raises(SpecError):
        p.grad(wrt=["x"], values={"x": np.zeros(3)})


def test_let_source_is_the_adjoint_and_inputs_keep_their_total() -> None:
    p = gradcli.load(SPEC)
    g = p.grad(wrt=["h", "x"])
    h = np.sin(np.array([0.5, 1.5]) * 2)
    np.testing.assert_allclose(g["h"], 2 * h, rtol=1e-15)
    np.testing.assert_allclose(g["x"], 2 * h * np.cos(np.array([0.5, 1.5]) * 2) * 2,
                               rtol=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_nested_orders_of_exp(order: int) -> None:
    p = gradcli.load({"inputs": {"x": [0.3, -0.2]}, "outputs": {"y": "exp(2 * x)"}})
    got = p.grad(order=order)["x"]
    np.testing.assert_allclose(got, 2**order * np.exp(2 * np.array([0.3, -0.2])), rtol=1e-14)


def test_higher_order_of_a_linear_function_is_zero_not_none() -> None:
    p = gradcli.load({"inputs": {"x": [1.0, 2.0]}, "outputs": {"y": "3 * x"}})
    np.testing.assert_array_equal(p.grad(order=2)["x"], [0.0, 0.0])


def test_component_sources_follow_numpy_indexing() -> None:
    p = gradcli.load({"inputs": {"X": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]},
                      "outputs": {"y": "sum(X**2)"}})
    g = p.grad(wrt=["X[:,1]", "X[0,0]", "X"])
    np.testing.assert_array_equal(g["X[:,1]"], [4.0, 8.0, 12.0])
    assert g["X[0,0]"] == 2.0
    assert g["X"].shape == (3, 2)


def test_float32_stays_float32() -> None:
    p = gradcli.load({**SPEC, "dtype": "float32"})
    assert p.evaluate()["y"].dtype == np.float32
    assert p.grad()["x"].dtype == np.float32


def test_random_and_constant_inputs_are_deterministic() -> None:
    spec = {"inputs": {"r": {"random": "normal", "shape": [3], "seed": 7},
                       "c": "linspace(0, 1, 3) * 2"},
            "outputs": {"y": "r + c"}}
    y = gradcli.load(spec).evaluate()["y"]
    expected = np.random.default_rng(7).normal(0, 1, 3) + np.linspace(0, 1, 3) * 2
    np.testing.assert_array_equal(y, expected)
