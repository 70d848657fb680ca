"""Jacobians, Hessians and JVPs: rev == fwd == central finite differences,
Hessian identities, per-sample blocks against a loop over samples, chunking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from exact import assert_rounded

import gradcli
from gradcli.cli.group import cli
from gradcli.errors import SpecError

SPECS = Path(__file__).parent.parent / "specs"

rng = np.random.default_rng(42)
A = rng.normal(size=(3, 3)) + 3 * np.eye(3)
INPUTS = {
    "x": rng.uniform(0.5, 1.5, size=3).tolist(),
    "M": rng.normal(size=(2, 3)).tolist(),
    "A": A.tolist(),
    "labels": {"value": [0, 2], "dtype": "int64"},
}
# One expression per op family; each is differentiated w.r.t. x and M.
FAMILIES = {
    "elementwise": "sin(x) * exp(-x) + sqrt(x) * tanh(M)",
    "broadcasting": "M * x + x**2 / (1 + M**2)",
    "reductions": "concat([sum(M * x, axis=1), max(M, axis=0), logsumexp(M * x, axis=1), "
                  "norm(x)[None], var(M)[None], prod(x)[None]])",
    "matmul-einsum-tensordot": "concat([M @ x, einsum('ij,j->i', M, x**2), "
                               "tensordot(M, x, axes=1), flatten(outer(x, x))])",
    "indexing-and-at": "M.at[0, 1:].set(x[:2] * 3).at[1].add(x)[:, ::-1] * M[0, 0]",
    "concat-stack-pad-reshape": "reshape(pad(stack([x, M[0]]), ((1, 0), (0, 2))), (3, 5)) "
                                "* tile(x, 1)[0]",
    "softmax-cross-entropy": "concat([flatten(softmax(M * x, axis=-1)), "
                             "sparse_cross_entropy(labels, M * x), "
                             "cross_entropy(softmax(M), M * x)])",
    "linear-algebra": "concat([flatten(inv(A + outer(x, x) + M.T @ M)), solve(A, x) * det(A * x), "
                      "trace(A * x)[None]])",
}


def _numeric_jacobian(problem: gradcli.api.Problem, out: str, src: str,
                      h: float = 1e-6) -> np.ndarray:
    base = problem.values[src]
    y = problem.evaluate(outputs=[out])[out]
    jac = np.zeros(y.shape + base.shape)
    for index in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += h
        minus[index] -= h
        yp = problem.evaluate(values={src: plus}, outputs=[out])[out]
        ym = problem.evaluate(values={src: minus}, outputs=[out])[out]
        jac[(...,) + index] = (yp - ym) / (2 * h)
    return jac


@pytest.mark.parametrize("family", FAMILIES)
def test_rev_equals_fwd_equals_finite_differences(family: str) -> None:
    problem = gradcli.load({"inputs": INPUTS, "outputs": {"y": FAMILIES[family]}})
    rev = problem.jacobian(mode="rev", wrt=["x", "M"])["y"]
    fwd = problem.jacobian(mode="fwd", wrt=["x", "M"])["y"]
    for src in ("x", "M"):
        y = problem.evaluate()["y"]
        assert rev[src].shape == y.shape + problem.values[src].shape
        np.testing.assert_allclose(rev[src], fwd[src], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rev[src], _numeric_jacobian(problem, "y", src),
                                   rtol=1e-6, atol=1e-7)


def test_component_sources_give_columns() -> None:
    problem = gradcli.load({"inputs": INPUTS, "outputs": {"y": FAMILIES["broadcasting"]}})
    full = problem.jacobian(wrt=["M"])["y"]["M"]
    # d y[i,j] / d M[i,j] = x_j - 2 M x_j² / (1 + M²)²: two programs may round
    # that difference differently, by a few roundings of its terms' sizes
    x, M = np.array(INPUTS["x"]), np.array(INPUTS["M"])
    terms = np.zeros(full.shape)
    for i, j in np.ndindex(M.shape):
        terms[i, j, i, j] = abs(x[j]) + abs(2 * M[i, j] * x[j] ** 2 / (1 + M[i, j] ** 2) ** 2)
    for mode in ("rev", "fwd"):
        part = problem.jacobian(mode=mode, wrt=["M[0,1]", "M[:,2]"])["y"]
        assert_rounded(part["M[0,1]"], full[..., 0, 1], terms[..., 0, 1], 12, what=mode)
        assert_rounded(part["M[:,2]"], full[..., :, 2], terms[..., :, 2], 12, what=mode)


def _numeric_hessian(problem: gradcli.api.Problem, src: str, h: float = 1e-5) -> np.ndarray:
    base = problem.values[src]
    out = np.zeros(base.shape + base.shape)
    for index in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += h
        minus[index] -= h
        gp = problem.grad(wrt=[src], values={src: plus})[src]
        gm = problem.grad(wrt=[src], values={src: minus})[src]
        out[(...,) + index] = (gp - gm) / (2 * h)
    return out


@pytest.mark.parametrize("family", ["elementwise", "reductions", "softmax-cross-entropy",
                                    "linear-algebra", "indexing-and-at"])
def test_hessian_is_symmetric_and_the_jacobian_of_the_gradient(family: str) -> None:
    problem = gradcli.load({"inputs": INPUTS, "outputs": {"y": FAMILIES[family]}})
    blocks = problem.hessian(wrt=["x", "M"])
    np.testing.assert_allclose(blocks["x"]["x"], blocks["x"]["x"].T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(blocks["x"]["M"], np.moveaxis(blocks["M"]["x"], 2, 0),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(blocks["x"]["x"], _numeric_hessian(problem, "x"),
                               rtol=1e-6, atol=1e-6)


def test_quadratic_form_hessian_is_a_plus_a_transpose() -> None:
    problem = gradcli.load({"inputs": {"x": [1.0, -2.0, 0.5], "A": A.tolist()},
                            "outputs": {"q": "x @ A @ x"}})
    np.testing.assert_allclose(problem.hessian(wrt=["x"])["x"]["x"], A + A.T, rtol=1e-14)


def test_seed_002_x4_hessian_is_diagonal_12x2() -> None:
    problem = gradcli.load(SPECS / "nested-gradient-wrt-concatenated-tensor.yaml")
    H = problem.hessian(wrt=["x"])["x"]["x"]
    # y = X**4 with X = [x, 2x]: d²(sum y)/dx² = 12 x² + 16 * 12 x²
    x = np.array([4.0, 1.0])
    np.testing.assert_allclose(H.reshape(2, 2), np.diag(12 * x**2 * (1 + 16)), rtol=1e-14)


def test_seed_003_mixed_partials_are_equal() -> None:
    problem = gradcli.load(SPECS / "partial-derivatives-of-a-network.yaml")
    H = problem.hessian(wrt=["inp[0,0]", "inp[0,1]"])
    assert H["inp[0,0]"]["inp[0,1]"] == pytest.approx(H["inp[0,1]"]["inp[0,0]"], rel=1e-13)
    assert H["inp[0,0]"]["inp[0,1]"].item() == pytest.approx(0.00031731361397404874, rel=1e-10)


MLP = {
    "inputs": {
        "P": {"random": "uniform", "shape": [7, 2], "seed": 3, "low": -1, "high": 1},
        "W1": {"random": "normal", "shape": [2, 16], "seed": 4},
        "W2": {"random": "normal", "shape": [16, 16], "seed": 5},
        "W3": {"random": "normal", "shape": [16, 1], "seed": 6},
    },
    "outputs": {"u": "tanh(tanh(P @ W1) @ W2) @ W3"},
    "wrt": ["P"],
}


def test_batch_axis_equals_a_loop_over_samples() -> None:
    problem = gradcli.load(MLP)
    per_j = problem.jacobian(batch_axis=0)["u"]["P"]
    per_h = problem.hessian(batch_axis=0)["P"]["P"]
    assert per_j.shape == (7, 1, 2) and per_h.shape == (7, 2, 2)
    points = problem.values["P"]
    for n in range(7):
        one = gradcli.load({**MLP, "inputs": {**MLP["inputs"], "P": points[n:n + 1].tolist()}})
        np.testing.assert_allclose(per_j[n], one.jacobian()["u"]["P"][0, :, 0], rtol=1e-13)
        np.testing.assert_allclose(per_h[n], one.hessian()["P"]["P"][0, :, 0, :], rtol=1e-12,
                                   atol=1e-14)
    assert np.allclose(per_h, np.swapaxes(per_h, 1, 2))


def test_batch_axis_refuses_coupled_samples() -> None:
    problem = gradcli.load({"inputs": {"X": [[1.0, 2.0], [3.0, 4.0]]},
                            "outputs": {"y": "X - mean(X, axis=0)"}})
    with pytest.raises(SpecError, match="depends only on"):
        problem.jacobian(batch_axis=0)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_chunked_equals_unchunked(mode: str) -> None:
    problem = gradcli.load({"inputs": INPUTS, "outputs": {"y": FAMILIES["reductions"]}})
    whole = problem.jacobian(mode=mode, wrt=["M"])["y"]["M"]
    for chunk in (1, 2, 5):
        part = problem.jacobian(mode=mode, wrt=["M"], chunk_size=chunk)["y"]["M"]
        np.testing.assert_array_equal(part, whole)
    hess = problem.hessian(wrt=["M"])["M"]["M"]
    np.testing.assert_array_equal(problem.hessian(wrt=["M"], chunk_size=4)["M"]["M"], hess)


def test_memory_budget_chunks_automatically() -> None:
    problem = gradcli.load({"inputs": {"x": {"random": "normal", "shape": [300], "seed": 1}},
                            "outputs": {"y": "tanh(x) * sum(x)"}})
    free = problem.jacobian(wrt=["x"])["y"]["x"]
    tight = problem.jacobian(wrt=["x"], max_memory=2_000_000)["y"]["x"]
    np.testing.assert_array_equal(free, tight)


def test_too_large_a_request_fails_with_the_size() -> None:
    problem = gradcli.load({"inputs": {"x": {"value": 0.5, "shape": [20000]}},
                            "outputs": {"y": "x * 2"}})
    with pytest.raises(SpecError, match=r"400000000 elements .*--max-memory"):
        problem.jacobian(max_memory=1_000_000_000)


def test_jvp_is_the_directional_derivative() -> None:
    problem = gradcli.load({"inputs": INPUTS, "outputs": {"y": FAMILIES["elementwise"]}})
    v = rng.normal(size=3)
    jac = problem.jacobian(wrt=["x"])["y"]["x"]
    # forward and reverse mode round d/dx [sin(x) exp(-x) + sqrt(x) tanh(M)] =
    # (cos x - sin x) exp(-x) + tanh(M) / (2 sqrt x) differently (it cancels near x = pi/4)
    x, M = np.array(INPUTS["x"]), np.array(INPUTS["M"])
    terms = (np.abs(np.cos(x) * np.exp(-x)) + np.abs(np.sin(x) * np.exp(-x))
             + np.abs(np.tanh(M) / (2 * np.sqrt(x)))) * np.abs(v)
    assert_rounded(problem.jvp({"x": v})["y"], jac @ v, terms, 16, what="jvp")


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_json_contracts() -> None:
    spec = str(SPECS / "gradient-of-a-list-of-losses-sums.yaml")
    doc = _cli("jacobian", spec, "--wrt", "b", "--format", "json")
    assert doc["command"] == "jacobian"
    np.testing.assert_allclose(doc["jacobian"]["xentropy"]["b"],
                               [[-0.49750002083312506, 0.497500020833125],
                                [0.5112231145707493, -0.5112231145707493]], rtol=1e-12)
    doc = _cli("hessian", str(SPECS / "partial-derivatives-of-a-network.yaml"), "--format",
               "json")
    assert set(doc["hessian"]) == {"inp[0,0]", "inp[0,1]"}
    doc = _cli("jvp", "-e", "x * y", "--set", "x=2.0", "--set", "y=3.0", "--tangent", "x=1.0",
               "--format", "json")
    assert doc == {"command": "jvp", "dtype": "float64", "outputs": {"y": 6.0},
                   "jvp": {"y": 3.0}}


def test_cli_refuses_too_large_with_exit_2() -> None:
    result = CliRunner().invoke(cli, ["jacobian", "-e", "x * 2", "--set",
                                      "x={value: 0.5, shape: [20000]}", "--max-memory", "1G"])
    assert result.exit_code == 2
    assert "elements" in result.stderr and "Traceback" not in result.stderr


def _cli_raw(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_unconnected_blocks_follow_the_policy() -> None:
    base = ["-e", "sum(a**3) + stop_gradient(b)", "--set", "a=[1.0, 2.0]", "--set", "b=2.0",
            "--format", "json"]
    code, out, err = _cli_raw("hessian", *base)
    assert code == 0
    blocks = json.loads(out)["hessian"]
    assert blocks["a"]["a"] == [[6.0, 0.0], [0.0, 12.0]]
    assert blocks["a"]["b"] is None and blocks["b"]["a"] is None and blocks["b"]["b"] is None
    assert err.count("b is unconnected") == 1 and "stop_gradient" in err
    code, out, _ = _cli_raw("hessian", *base, "--unconnected", "zero")
    assert json.loads(out)["hessian"]["b"] == {"a": [0.0, 0.0], "b": 0.0}
    code, out, err = _cli_raw("jacobian", *base, "--unconnected", "error")
    assert code == 2 and out == "" and "unconnected source b" in err
    code, out, _ = _cli_raw("jacobian", *base, "--unconnected", "zero")
    assert json.loads(out)["jacobian"]["y"]["b"] == 0.0


def test_text_shows_blocks_as_matrices() -> None:
    code, out, _ = _cli_raw("jacobian", "-e", "tanh(W @ x)", "--set", "W=[[1.0, 2.0], [3.0, 4.0]]",
                            "--set", "x=[0.1, 0.2]", "--wrt", "W", "--wrt", "x")
    assert code == 0
    assert "d y / d W  shape (2, 2, 2)" in out
    assert "as a 2 x 4 matrix" in out          # out flattened to rows, src to columns
    assert out.count("as a") == 1              # the (2, 2) block d y / d x already is one
    assert "layout: y shape + W shape; never summed" in out
