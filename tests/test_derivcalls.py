"""grad(), jacobian() and hessian() inside expressions: values against
closed forms, the outer derivative of an inner derivative against finite
differences (to third order on a small network), and located errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from exact import assert_rounded
from fdcheck import directional_fd

import gradcli
from gradcli.cli.group import main
from gradcli.errors import SpecError

X = [0.3, -1.2, 2.0]


def value(expr: str, inputs: dict[str, Any] | None = None, lets: dict[str, str] | None = None,
          **extra: Any) -> np.ndarray:
    p = gradcli.load({"inputs": inputs or {"x": X}, "let": lets or {}, "outputs": {"y": expr},
                      **extra})
    return p.evaluate()["y"]


def test_grad_is_the_gradient_of_the_sum() -> None:
    x = np.array(X)
    # cos(x) x + sin(x) cancels at x = 2 (0.077 from terms of 0.83 and 0.91)
    assert_rounded(value("grad(sin(x) * x, x)"), np.cos(x) * x + np.sin(x),
                   np.abs(np.cos(x) * x) + np.abs(np.sin(x)), 4, what="grad")
    np.testing.assert_allclose(value("grad(expr=sum(x**3), wrt=x)"), 3 * x**2, rtol=1e-15)


def test_jacobian_keeps_every_partial() -> None:
    x = np.array(X)
    jac = value("jacobian(sin(x) * x[0], x)")
    expected = np.diag(np.cos(x) * x[0])
    expected[:, 0] += np.sin(x)
    np.testing.assert_allclose(jac, expected, rtol=1e-15)
    assert value("jacobian(x[0] * x[1], x)").shape == (3,)
    assert value("jacobian(outer(x, x), x[1:])").shape == (3, 3, 2)


def test_hessian_of_the_sum() -> None:
    x = np.array(X)
    hess = value("hessian(x**3 + x[0] * x[1], x)")
    expected = np.diag(6 * x)
    expected[0, 1] = expected[1, 0] = 3.0  # x[0] * x[1] is broadcast over 3 elements
    np.testing.assert_allclose(hess, expected, rtol=1e-15)
    assert value("hessian(sum(x**4), x[1:])").shape == (2, 2)


def test_component_wrt_is_that_part_of_the_full_gradient() -> None:
    inputs = {"X": [[0.5, 1.0], [2.0, -0.5], [1.5, 0.25]]}
    full = value("grad(sin(X[:, 0] * X[:, 1]), X)", inputs)
    column = value("grad(sin(X[:, 0] * X[:, 1]), X[:, 1])", inputs)
    assert column.shape == (3,)
    np.testing.assert_array_equal(column, full[:, 1])
    Xa = np.array(inputs["X"])
    np.testing.assert_allclose(column, np.cos(Xa[:, 0] * Xa[:, 1]) * Xa[:, 0], rtol=1e-15)


def test_let_wrt_is_the_adjoint_at_that_node() -> None:
    x = np.array(X)
    got = value("grad(sum(h**2) + sum(x), h)", lets={"h": "sin(x)"})
    np.testing.assert_allclose(got, 2 * np.sin(x), rtol=1e-15)


def test_unconnected_gives_zeros_of_the_result_shape() -> None:
    inputs = {"x": X, "z": [[1.0, 2.0]]}
    np.testing.assert_array_equal(value("grad(x**2, z)", inputs), [[0.0, 0.0]])
    assert value("jacobian(x**2, z)", inputs).shape == (3, 1, 2)
    np.testing.assert_array_equal(value("hessian(2 * z, z)", inputs), np.zeros((1, 2, 1, 2)))


def test_seed003_hessian_inside_an_expression_matches_tensorflow() -> None:
    spec = Path(__file__).parent.parent / "specs" / "second-derivatives-of-a-keras-network.yaml"
    p = gradcli.load(spec)
    models = {"net": {"layers": ["flatten", {"dense": {"units": 28, "activation": "sigmoid"}},
                                 {"dense": {"units": 1, "activation": "sigmoid"}}],
                      "weights": str(spec.parent / "data" / "seed003_weights.npz")}}
    inputs = {"inp": p.values["inp"].tolist()}
    hess = value("hessian(net(inp), inp)", inputs, models=models).reshape(2, 2)
    tf = [[0.0002982859032813494, 0.00031731361397404874],
          [0.00031731361397404874, 0.000741455499734774]]
    np.testing.assert_allclose(hess, tf, rtol=1e-12)
    grads = value("grad(net(inp), inp)", inputs, models=models).reshape(2)
    np.testing.assert_allclose(grads, [0.005358850303744006, -0.010795005929643843], rtol=1e-12)


# ---- third order on a small network --------------------------------------------------

SMALL = {
    "inputs": {"x": {"random": "uniform", "shape": [4, 1], "seed": 4, "low": -1, "high": 1},
               "t": {"random": "uniform", "shape": [4, 1], "seed": 5}},
    "models": {"u": {"layers": ["concat", {"dense": {"units": 5, "activation": "tanh"}},
                                {"dense": 1}],
                     "init": {"seed": 9, "bias": {"normal": {"stddev": 0.5}}}}},
    "let": {"U": "u(x, t)", "u_x": "grad(U, x)", "u_xx": "grad(u_x, x)",
            "u_xxx": "grad(u_xx, x)", "u_t": "grad(U, t)"},
}


def _by_hand(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """u and its x-derivatives for a tanh layer, derived by hand."""
    w, v = values["u.1.kernel"][0], values["u.1.kernel"][1]
    a = values["u.2.kernel"][:, 0]
    s = np.tanh(values["x"] * w + values["t"] * v + values["u.1.bias"])
    s1 = 1 - s**2
    s2 = -2 * s * s1
    s3 = -2 * s1 * (1 - 3 * s**2)
    return {"U": s @ a + values["u.2.bias"], "u_x": (s1 * w) @ a, "u_xx": (s2 * w**2) @ a,
            "u_xxx": (s3 * w**3) @ a, "u_t": (s1 * v) @ a}


def test_nested_grads_of_a_network_match_hand_derivatives() -> None:
    p = gradcli.load({**SMALL, "outputs": {"y": "U"}})
    got = p.evaluate(outputs=["U", "u_x", "u_xx", "u_xxx", "u_t"])
    expected = _by_hand(p.values)
    for key, want in expected.items():
        np.testing.assert_allclose(got[key][:, 0], want, rtol=1e-12, atol=1e-14, err_msg=key)


def _directional(p: gradcli.Problem, wrt: list[str], h: float = 1e-5,
                 seed: int = 2) -> tuple[float, float]:
    """(engine, central difference of the outputs' sum) along a random direction."""
    # an unconnected source (the output bias of u_xx) counts as zero, and the
    # difference quotient along it must agree
    grads = {k: np.zeros(p.values[k].shape) if g is None else g
             for k, g in p.grad(wrt=wrt).items()}
    return directional_fd(p, grads, h, seed)


@pytest.mark.parametrize("output", [
    "mean((u_t - 0.1 * u_xx)**2)",          # the PINN residual: 3rd order w.r.t. weights
    "sum(u_xxx * x)",                       # 4th order w.r.t. x
    "sum(jacobian(u_x, t)**2)",             # a Jacobian inside, differentiated again
    "sum(hessian(U, x) * 0.5)",
])
@pytest.mark.parametrize("wrt", [["u"], ["x", "t"]])
def test_outer_grad_of_inner_derivatives_matches_finite_differences(output: str,
                                                                    wrt: list[str]) -> None:
    p = gradcli.load({**SMALL, "outputs": {"q": output}})
    engine, numeric = _directional(p, wrt)
    assert engine == pytest.approx(numeric, rel=2e-8, abs=1e-10)


def test_nested_order_of_an_inner_grad_matches_hand_derivative() -> None:
    # d/dx of sum(u_xx), nested once more by --order 2: the 4th x-derivative
    p = gradcli.load({**SMALL, "outputs": {"q": "u_xx"}})
    w, v = p.values["u.1.kernel"]
    a = p.values["u.2.kernel"][:, 0]
    s = np.tanh(p.values["x"] * w + p.values["t"] * v + p.values["u.1.bias"])
    s1 = 1 - s**2
    s3 = -2 * s1 * (1 - 3 * s**2)
    s4 = 8 * s * s1 * (2 - 3 * s**2)  # d/dz of s3
    got = p.grad(wrt=["x"], order=2)["x"][:, 0]
    np.testing.assert_allclose(got, (s4 * w**4) @ a, rtol=1e-12)
    np.testing.assert_allclose(p.grad(wrt=["x"])["x"][:, 0], (s3 * w**3) @ a, rtol=1e-12)


def test_float32_runs_the_pinn() -> None:
    spec = Path(__file__).parent.parent / "specs" / "heat-equation-pinn.yaml"
    p32, p64 = gradcli.load(spec, dtype="float32"), gradcli.load(spec)
    g32, g64 = p32.grad(), p64.grad()
    for key in g64:
        assert g32[key].dtype == np.float32
        np.testing.assert_allclose(g32[key], g64[key], rtol=1e-4, atol=1e-6)


# ---- errors ------------------------------------------------------------------------

ERRORS = [
    ("expression-wrt", "grad(x, x * 2)", "5:14", "wrt must be an input or let name"),
    ("unknown-wrt", "grad(x, xx)", "5:14", "unknown name 'xx' (did you mean 'x'?)"),
    ("integer-wrt", "grad(x * k, k)", "5:18", "integer inputs are never differentiated"),
    ("bad-index", "grad(x, x[7])", "5:14", "'x[7]'"),
    ("three-args", "jacobian(x, x, x)", "5:21", "takes two arguments"),
    ("missing-wrt", "hessian(x)", "5:6", "needs 'wrt'"),
    ("bad-keyword", "grad(x, of=x)", "5:17", "no argument 'of='"),
    ("model-wrt", "grad(x, net)", "5:14", "'net' is a model"),
    ("bare-name", "grad", "5:6", "'grad' is a function"),
    ("misspelt", "gard(x, x)", "5:6", "did you mean 'grad'"),
    ("integer-expr", "grad(k, x)", "5:11", "has no derivative"),
    ("error-inside", "grad(sin(q), x)", "5:15", "unknown name 'q'"),
]


@pytest.mark.parametrize("name,expr,where,fragment", ERRORS, ids=[e[0] for e in ERRORS])
def test_derivative_call_errors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            name: str, expr: str, where: str,
                                            fragment: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs:\n  x: [1.0, 2.0]\n  k: {value: [1, 2], dtype: int64}\n"
                    f"outputs:\n  y: {expr}\nmodels:\n  net: {{layers: [{{dense: 1}}]}}\n")
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(spec)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert "Traceback" not in err
    assert f"{spec}:{where}: " in err, err
    assert fragment in err, err


def test_api_error_for_a_later_let() -> None:
    with pytest.raises(SpecError, match="unknown name 'later'"):
        gradcli.load({"inputs": {"x": [1.0]}, "let": {"g": "grad(x, later)", "later": "x * 2"},
                      "outputs": {"y": "g"}})
