"""models: blocks - layers against a hand-written numpy forward, the Keras
initializers' statistics and seeding, derivatives w.r.t. inputs and
parameters against finite differences (weights-file and model-block
mistakes: test_models_errors.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from exact import assert_rounded, assert_sum_of_products
from fdcheck import directional_fd

import gradcli
from gradcli.cli.group import cli
from gradcli.errors import SpecError
from gradcli.language import initializers as inits

SPECS = Path(__file__).parent.parent / "specs"
SEED003 = SPECS / "data" / "seed003_weights.npz"


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def softplus(z: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)


def erf(z: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(z)


NUMPY_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True),
    "log_softmax": lambda z: z - np.log(np.exp(z).sum(-1, keepdims=True)),
    "softplus": softplus,
    "softsign": lambda z: z / (1 + np.abs(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
    "gelu": lambda z: 0.5 * z * (1 + erf(z / np.sqrt(2))),
    "silu": lambda z: z * sigmoid(z),
    "swish": lambda z: z * sigmoid(z),
    "mish": lambda z: z * np.tanh(softplus(z)),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
    "exponential": np.exp,
    "sin": np.sin,
}


# Both the engine and the numpy forward round every dense layer (a sum of
# fan-in products, added in an order that differs between BLAS builds) and
# every activation.  `dense` and `activate` carry an error bound along, in
# units of eps: the input's bound through the layer, plus the layer's own
# rounding (fan-in + 2 operations on Σ|terms|), or a few roundings of the
# activation relative to |z| + |f(z)| (where it cancels: gelu's 1 + erf,
# log_softmax's z - logsumexp).
ROWWISE = {"softmax", "log_softmax"}


def dense(x: np.ndarray, bound: Any, kernel: np.ndarray,
          bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    bias = np.zeros(kernel.shape[-1]) if bias is None else bias
    terms = np.abs(x) @ np.abs(kernel) + np.abs(bias)
    carried = np.broadcast_to(np.asarray(bound, dtype=float), x.shape) @ np.abs(kernel)
    return x @ kernel + bias, carried + (kernel.shape[0] + 2) * terms


def activate(name: str, z: np.ndarray, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = NUMPY_ACTIVATIONS[name]
    h = f(z)
    if name in ROWWISE:  # the rows of |Jacobian| sum to at most 2
        carried = 2 * np.max(bound, axis=-1, keepdims=True)
    else:
        step = 1e-6 * (1 + np.abs(z))
        carried = np.abs(f(z + step) - f(z - step)) / (2 * step) * bound
    n = z.shape[-1] if name in ROWWISE else 1
    return h, carried + (8 + n) * (np.abs(h) + np.abs(z))


def assert_forward(got: np.ndarray, want: np.ndarray, bound: np.ndarray) -> None:
    """Two forwards (got and want), each within bound·eps of the exact value."""
    assert_rounded(got, want, bound, ops=1, k=2 * 2, what="network forward")


def test_every_activation_has_a_numpy_reference() -> None:
    from gradcli.language.network import ACTIVATIONS

    assert set(ACTIVATIONS) == set(NUMPY_ACTIVATIONS)


@pytest.mark.parametrize("activation", sorted(NUMPY_ACTIVATIONS))
def test_layers_match_a_numpy_forward(activation: str) -> None:
    x = np.random.default_rng(5).normal(size=(4, 3, 2))
    p = gradcli.load({
        "inputs": {"x": x.tolist()},
        "models": {"net": {
            "layers": ["flatten", {"dense": {"units": 5, "activation": activation}},
                       {"dense": {"units": 3, "use_bias": False}}, {"activation": "tanh"},
                       {"dense": 2}],
            "init": {"seed": 7, "bias": {"uniform": {"minval": -0.5, "maxval": 0.5}}}}},
        "outputs": {"y": "net(x)"}})
    v = p.values
    assert set(p.models.parameters) == {"net.1.kernel", "net.1.bias", "net.2.kernel",
                                        "net.4.kernel", "net.4.bias"}
    assert v["net.1.kernel"].shape == (6, 5) and v["net.2.kernel"].shape == (5, 3)
    h, bound = activate(activation, *dense(x.reshape(4, 6), 0, v["net.1.kernel"],
                                           v["net.1.bias"]))
    h, bound = activate("tanh", *dense(h, bound, v["net.2.kernel"]))
    expected, bound = dense(h, bound, v["net.4.kernel"], v["net.4.bias"])
    assert_forward(p.evaluate()["y"], expected, bound)


def test_dense_on_rank_3_acts_on_the_last_axis_and_concat_joins_features() -> None:
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(2, 3, 1)), rng.normal(size=(2, 3, 2))
    p = gradcli.load({"inputs": {"x": x.tolist(), "t": t.tolist()},
                      "models": {"u": {"layers": ["concat", {"dense": {"units": 4,
                                                                         "activation": "sin"}}]}},
                      "outputs": {"y": "u(x, t)"}})
    k, b = p.values["u.1.kernel"], p.values["u.1.bias"]
    assert k.shape == (3, 4)
    expected, bound = activate("sin", *dense(np.concatenate([x, t], axis=-1), 0, k, b))
    assert_forward(p.evaluate()["y"], expected, bound)


def test_flatten_keeps_the_batch_axis() -> None:
    p = gradcli.load({"inputs": {"x": [1.0, 2.0, 3.0]},
                      "models": {"m": {"layers": ["flatten", {"dense": {"units": 2}}],
                                       "init": {"kernel": "ones"}}},
                      "outputs": {"y": "m(x)"}})
    # (3,) is a batch of three scalars -> (3, 1), as keras Flatten
    np.testing.assert_array_equal(p.evaluate()["y"], [[1, 1], [2, 2], [3, 3]])


def test_calls_share_parameters() -> None:
    p = gradcli.load({"inputs": {"a": [[1.0, 2.0]], "b": [[3.0, -1.0]]},
                      "models": {"m": {"layers": [{"dense": 3}]}},
                      "outputs": {"y": "m(a) + m(b)"}})
    assert sorted(p.models.parameters) == ["m.0.bias", "m.0.kernel"]
    k, b = p.values["m.0.kernel"], p.values["m.0.bias"]
    assert_sum_of_products(p.evaluate()["y"], lambda x1, x2, w, c: (x1 @ w + c) + (x2 @ w + c),
                           np.array([[1.0, 2.0]]), np.array([[3.0, -1.0]]), k, b)


def seed003_forward() -> tuple[np.ndarray, np.ndarray]:
    """f of the seed-003 network in numpy, and its error bound."""
    with np.load(SEED003) as data:
        w = {k: data[k].astype(float) for k in data}
    h, bound = activate("sigmoid", *dense(w["inp"].reshape(1, 2), 0, w["net.1.kernel"],
                                          w["net.1.bias"]))
    return activate("sigmoid", *dense(h, bound, w["net.2.kernel"], w["net.2.bias"]))


def test_seed003_network_reproduces_tensorflow_value() -> None:
    p = gradcli.load(SPECS / "second-derivatives-of-a-keras-network.yaml")
    f, bound = seed003_forward()
    assert_forward(p.evaluate()["f"], f, bound)
    assert_forward(np.array([[0.2242327287729473]]), f, bound)  # TensorFlow's float64 value


# ---- initializers ------------------------------------------------------------------

FAN_IN, FAN_OUT = 300, 500


def _sample(name: str, params: dict[str, float] | None = None,
            shape: tuple[int, ...] = (FAN_IN, FAN_OUT)) -> np.ndarray:
    return inits.sample(inits.make(name, params), shape, np.random.default_rng(3), "float64")


@pytest.mark.parametrize("name,limit", [
    ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("he_uniform", math.sqrt(6 / FAN_IN)),
    ("lecun_uniform", math.sqrt(3 / FAN_IN)),
    ("uniform", 0.05),
])
def test_uniform_initializers_fill_their_bounds(name: str, limit: float) -> None:
    w = _sample(name)
    assert np.all(np.abs(w) <= limit)
    assert np.abs(w).max() > 0.999 * limit  # the bounds are reached, not narrower
    assert abs(w.mean()) < 0.01 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.01)


@pytest.mark.parametrize("name,std", [
    ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("he_normal", math.sqrt(2 / FAN_IN)),
    ("lecun_normal", math.sqrt(1 / FAN_IN)),
])
def test_truncated_normal_initializers_have_keras_variance(name: str, std: float) -> None:
    w = _sample(name)
    drawn_sd = std / inits.TRUNCATION_SD  # before truncation, as keras
    assert np.abs(w).max() <= 2 * drawn_sd
    assert np.abs(w).max() > 1.99 * drawn_sd
    assert w.std() == pytest.approx(std, rel=0.01)
    assert abs(w.mean()) < 0.01 * std


def test_truncation_constant_is_the_sd_of_a_normal_cut_at_two() -> None:
    phi = math.exp(-2) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert math.sqrt(1 - 2 * 2 * phi / mass) == pytest.approx(inits.TRUNCATION_SD, rel=1e-15)


def test_plain_initializers() -> None:
    w = _sample("normal")
    assert w.std() == pytest.approx(0.05, rel=0.01) and np.abs(w).max() > 4 * 0.05
    w = _sample("normal", {"mean": 1.0, "stddev": 0.2})
    assert w.mean() == pytest.approx(1.0, abs=0.002) and w.std() == pytest.approx(0.2, rel=0.01)
    w = _sample("truncated_normal", {"stddev": 0.1})
    assert np.abs(w).max() <= 0.2 and w.std() == pytest.approx(0.1 * inits.TRUNCATION_SD,
                                                               rel=0.01)
    w = _sample("uniform", {"minval": 2.0, "maxval": 3.0})
    assert w.min() >= 2.0 and w.max() <= 3.0 and w.mean() == pytest.approx(2.5, abs=0.002)
    assert np.all(_sample("zeros") == 0) and np.all(_sample("ones") == 1)
    assert np.all(_sample("constant", {"value": 0.25}) == 0.25)


def test_bias_fans_are_its_length() -> None:
    assert inits.fans((7,)) == (7, 7)
    assert inits.fans((3, 4)) == (3, 4)
    w = _sample("he_uniform", shape=(200_000,))
    assert np.abs(w).max() <= math.sqrt(6 / 200_000)


def _model_values(init: dict[str, Any], layers: list[Any] | None = None,
                  dtype: str = "float64") -> dict[str, np.ndarray]:
    p = gradcli.load({"inputs": {"x": [[0.5, -1.0, 2.0]]},
                      "models": {"net": {"layers": layers or [{"dense": 4}, {"dense": 2}],
                                         "init": init}},
                      "outputs": {"y": "net(x)"}}, dtype=dtype)
    return {k: v for k, v in p.values.items() if k.startswith("net.")}


def test_same_seed_same_weights_different_seed_different() -> None:
    init = {"seed": 11, "bias": "normal"}
    first, again = _model_values(init), _model_values(dict(init))
    other = _model_values({"seed": 12, "bias": "normal"})
    assert first.keys() == again.keys() == other.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
        assert not np.any(first[key] == other[key]), key
    # kernel and bias, and different layers, draw from different streams
    assert not np.allclose(first["net.0.bias"], first["net.0.kernel"][0])


def test_a_parameter_does_not_depend_on_the_other_layers() -> None:
    small = _model_values({"seed": 4}, [{"dense": 4}])
    big = _model_values({"seed": 4}, [{"dense": 4}, {"activation": "relu"}, {"dense": 9}])
    np.testing.assert_array_equal(small["net.0.kernel"], big["net.0.kernel"])


def test_spec_init_uses_the_named_initializer_and_dtype() -> None:
    values = _model_values({"kernel": "he_normal", "bias": {"constant": 0.5}},
                           [{"dense": 20000}], dtype="float32")
    kernel, bias = values["net.0.kernel"], values["net.0.bias"]
    assert kernel.dtype == np.float32 and kernel.shape == (3, 20000)
    assert kernel.std() == pytest.approx(math.sqrt(2 / 3), rel=0.02)
    assert np.abs(kernel).max() <= 2 * math.sqrt(2 / 3) / inits.TRUNCATION_SD * (1 + 1e-6)
    assert np.all(bias == 0.5)


def test_default_init_is_glorot_uniform_and_zero_bias() -> None:
    values = _model_values({}, [{"dense": 5000}])
    assert np.all(values["net.0.bias"] == 0)
    limit = math.sqrt(6 / (3 + 5000))
    assert np.abs(values["net.0.kernel"]).max() <= limit
    assert np.abs(values["net.0.kernel"]).max() > 0.99 * limit


# ---- derivatives -------------------------------------------------------------------

PINNISH = {
    "inputs": {"x": {"random": "uniform", "shape": [5, 1], "seed": 1},
               "t": {"random": "uniform", "shape": [5, 1], "seed": 2}},
    "models": {"u": {"layers": ["concat", {"dense": {"units": 4, "activation": "tanh"}},
                                {"dense": {"units": 3, "activation": "softplus"}}, {"dense": 1}],
                     "init": {"seed": 3, "bias": {"normal": {"stddev": 0.3}}}}},
    "outputs": {"y": "sum(sin(u(x, t)) * x)"},
}


def _fd_directional(p: gradcli.Problem, grads: dict[str, np.ndarray], h: float = 1e-6,
                    seed: int = 0) -> tuple[float, float]:
    """(engine, central difference) of the derivative along a random direction."""
    return directional_fd(p, grads, h, seed)


@pytest.mark.parametrize("wrt", [["x", "t"], ["u"], ["u.1.kernel", "x"], ["u.2.bias"]])
def test_model_gradients_match_finite_differences(wrt: list[str]) -> None:
    p = gradcli.load(PINNISH)
    grads = p.grad(wrt=wrt)
    assert all(g is not None for g in grads.values())
    if wrt == ["u"]:
        assert list(grads) == ["u.1.kernel", "u.1.bias", "u.2.kernel", "u.2.bias",
                               "u.3.kernel", "u.3.bias"]
    engine, numeric = _fd_directional(p, grads)
    assert engine == pytest.approx(numeric, rel=1e-8, abs=1e-10)


def test_model_second_derivative_matches_finite_differences_of_the_gradient() -> None:
    p = gradcli.load(PINNISH)
    h = 1e-6
    g2 = p.grad(wrt=["u.1.kernel"], order=2)["u.1.kernel"]
    k = p.values["u.1.kernel"]
    direction = np.zeros_like(k)
    direction[1, 2] = 1.0

    def g_sum(sign: float) -> float:
        return float(np.sum(p.grad(wrt=["u.1.kernel"],
                                   values={"u.1.kernel": k + sign * h * direction})["u.1.kernel"]))

    assert g2[1, 2] == pytest.approx((g_sum(1) - g_sum(-1)) / (2 * h), rel=1e-7)


def test_wrt_a_parameter_component_and_the_model_on_the_command_line() -> None:
    spec = str(SPECS / "second-derivatives-of-a-keras-network.yaml")
    result = CliRunner().invoke(cli, ["grad", spec, "--wrt", "net", "--wrt",
                                      "net.1.kernel[0, :3]", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    grads = json.loads(result.stdout)["grad"]
    assert list(grads) == ["net.1.kernel", "net.1.bias", "net.2.kernel", "net.2.bias",
                           "net.1.kernel[0, :3]"]
    assert np.shape(grads["net.1.kernel"]) == (2, 28)
    np.testing.assert_array_equal(grads["net.1.kernel[0, :3]"], grads["net.1.kernel"][0][:3])
    # f = sigmoid(z2): df/d b2 = f (1 - f), TensorFlow's f; the engine's f is
    # within twice the forward's bound of it, and f (1 - f) moves |1 - 2f| as much
    f, bound = 0.2242327287729473, seed003_forward()[1][0, 0]
    assert_rounded(grads["net.2.bias"][0], f * (1 - f),
                   abs(1 - 2 * f) * 2 * 2 * bound + 8 * f * (1 - f), 1, what="df/db2")


def test_parameters_are_not_default_sources_but_values_can_swap_them() -> None:
    p = gradcli.load({"inputs": {"x": [[1.0, 2.0]]},
                      "models": {"m": {"layers": [{"dense": 1}], "init": {"kernel": "ones"}}},
                      "outputs": {"y": "m(x)"}})
    assert list(p.grad()) == ["x"]
    got = p.evaluate(values={"m.0.kernel": np.array([[2.0], [3.0]])})["y"]
    np.testing.assert_array_equal(got, [[8.0]])


def test_seed003_in_float32_agrees_with_the_float32_run() -> None:
    p = gradcli.load(SPECS / "second-derivatives-of-a-keras-network.yaml", dtype="float32")
    assert p.values["net.1.kernel"].dtype == np.float32
    f = p.evaluate()["f"]
    grads = p.grad()
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, [[0.2242327183485031]], rtol=1e-6)
    np.testing.assert_allclose(grads["inp[0,0]"], [0.005358851049095392], rtol=1e-5)
    np.testing.assert_allclose(grads["inp[0,1]"], [-0.010795005597174168], rtol=1e-5)


def test_a_misspelt_model_source_suggests_the_model() -> None:
    problem = gradcli.load(SPECS / "second-derivatives-of-a-keras-network.yaml")
    with pytest.raises(SpecError, match="did you mean 'net'"):
        problem.grad(wrt=["nett"])
