"""Elementwise catalogue functions: derivatives against finite differences,
values against numpy/math, conventions at kinks, stable forms at extremes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import CTX, CTX32, build, builder, gradients, rand, value

from gradcli.language.functions import CATALOGUE, OPERATORS

_erf = np.vectorize(math.erf)
_erfc = np.vectorize(math.erfc)

# name -> (reference, (low, high) domain away from kinks and poles)
UNARY = {
    "abs": (np.abs, (0.1, 2.0)),
    "sign": (np.sign, (0.1, 2.0)),
    "sqrt": (np.sqrt, (0.2, 3.0)),
    "cbrt": (np.cbrt, (0.2, 3.0)),
    "square": (np.square, (-2.0, 2.0)),
    "exp": (np.exp, (-2.0, 2.0)),
    "expm1": (np.expm1, (-2.0, 2.0)),
    "log": (np.log, (0.2, 3.0)),
    "log1p": (np.log1p, (-0.5, 2.0)),
    "log2": (np.log2, (0.2, 3.0)),
    "log10": (np.log10, (0.2, 3.0)),
    "sin": (np.sin, (-3.0, 3.0)),
    "cos": (np.cos, (-3.0, 3.0)),
    "tan": (np.tan, (-1.2, 1.2)),
    "arcsin": (np.arcsin, (-0.8, 0.8)),
    "arccos": (np.arccos, (-0.8, 0.8)),
    "arctan": (np.arctan, (-3.0, 3.0)),
    "sinh": (np.sinh, (-2.0, 2.0)),
    "cosh": (np.cosh, (-2.0, 2.0)),
    "tanh": (np.tanh, (-2.0, 2.0)),
    "sech2": (lambda x: 1 / np.cosh(x) ** 2, (-3.0, 3.0)),
    "arcsinh": (np.arcsinh, (-2.0, 2.0)),
    "arccosh": (np.arccosh, (1.2, 3.0)),
    "arctanh": (np.arctanh, (-0.8, 0.8)),
    "erf": (_erf, (-2.0, 2.0)),
    "erfc": (_erfc, (-2.0, 2.0)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-4.0, 4.0)),
    "softplus": (lambda x: np.log1p(np.exp(x)), (-4.0, 4.0)),
    "relu": (lambda x: np.maximum(x, 0), (-2.0, 2.0)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), (-2.0, 2.0)),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(x)), (-2.0, 2.0)),
    "gelu": (lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), (-3.0, 3.0)),
    "silu": (lambda x: x / (1 + np.exp(-x)), (-3.0, 3.0)),
}
SHAPES = [(), (4,), (2, 3)]


def _sample(name: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    low, high = UNARY[name][1]
    x = rand(shape, seed, low, high)
    if name in ("relu", "leaky_relu", "elu", "abs", "sign"):
        # Both sides of the kink, but never within 0.1 of it.
        signs = np.where(np.arange(x.size).reshape(shape) % 2 == 0, 1.0, -1.0)
        x = signs * np.abs(x) if name != "abs" else x * np.where(signs > 0, 1, -1)
    return x


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_derivatives(name, shape):
    check_derivatives(builder(name), _sample(name, shape))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values(name):
    x = _sample(name, (3, 4), seed=3)
    np.testing.assert_allclose(value(name, x), UNARY[name][0](x), rtol=1e-14, atol=1e-300)


def test_erf_matches_math_exactly():
    xs = np.array([-3.0, -0.5, 0.0, 1e-8, 0.7, 5.0])
    assert value("erf", xs).tolist() == [math.erf(v) for v in xs]
    assert value("erfc", xs).tolist() == [math.erfc(v) for v in xs]


def test_parameters_of_activations():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(value("leaky_relu", x, alpha=0.2), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(value("elu", x, alpha=2.0), np.where(x > 0, x, 2 * np.expm1(x)),
                               rtol=1e-15)
    check_derivatives(builder("leaky_relu", alpha=0.3), x)
    check_derivatives(builder("elu", alpha=0.7), x)
    # alpha given as an array is differentiable too
    check_derivatives(lambda v, a: build("leaky_relu", v, a), x, np.array(0.3))


def test_gelu_tanh_form():
    import mpmath

    x = np.linspace(-4, 4, 17)
    with mpmath.workdps(40):
        # The textbook 0.5 x (1 + tanh z) in high precision: in float64 it
        # cancels for negative x, which the catalogue's x * sigmoid(2z) avoids.
        ref = np.array([float(0.5 * v * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi) * (
            v + mpmath.mpf(0.044715) * v ** 3)))) for v in map(mpmath.mpf, x)])
    np.testing.assert_allclose(value("gelu", x, approximate=True), ref, rtol=1e-14, atol=0)
    check_derivatives(builder("gelu", approximate=True), rand((2, 3), 5))


def test_gelu_exact_in_the_left_tail():
    # 0.5 x (1 + erf(x/sqrt 2)) cancels to 0 near x = -10; erfc keeps the value.
    got = value("gelu", np.array(-10.0))
    ref = 0.5 * -10.0 * math.erfc(10 / math.sqrt(2))
    assert got != 0.0
    assert abs(got - ref) <= 1e-14 * abs(ref)


BINARY = {
    "maximum": np.maximum,
    "minimum": np.minimum,
    "arctan2": np.arctan2,
}
PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (4,))]


@pytest.mark.parametrize("shapes", PAIRS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_derivatives_and_values(name, shapes):
    a, b = rand(shapes[0], 1), rand(shapes[1], 2)
    check_derivatives(builder(name), a, b)
    np.testing.assert_allclose(value(name, a, b), BINARY[name](a, b), rtol=1e-15)


@pytest.mark.parametrize("shapes", [((2, 3), (), ()), ((2, 3), (3,), (2, 1))])
def test_clip(shapes):
    x = np.array([[-1.5, -0.3, 0.2], [0.6, 1.4, 2.5]]).reshape(-1)[:int(np.prod(shapes[0]))]
    x = x.reshape(shapes[0])
    lo = np.full(shapes[1], -0.5)
    hi = np.full(shapes[2], 1.0)
    np.testing.assert_array_equal(value("clip", x, lo, hi), np.clip(x, lo, hi))
    check_derivatives(builder("clip"), x, lo, hi)
    np.testing.assert_array_equal(value("clip", x, None, 0.5), np.clip(x, None, 0.5))
    np.testing.assert_array_equal(value("clip", x, 0.0, None), np.clip(x, 0.0, None))


def test_where_derivatives():
    a, b = rand((2, 3), 1), rand((3,), 2)
    cond = np.array([[True, False, True], [False, False, True]])
    check_derivatives(lambda x, y: build("where", cond, x, y), a, b)
    # a computed condition: no derivative flows through it
    check_derivatives(lambda x, y: build("where", OPERATORS["Gt"](CTX, x, y), x, y), a, b)
    np.testing.assert_array_equal(value("where", a > b, a, b), np.where(a > b, a, b))


# ---- kinks ---------------------------------------------------------------------------

def _at(name, x, order=1, **kwargs):
    return gradients(lambda v: build(name, v, **kwargs), np.asarray(x, dtype=float),
                     order=order)[0]


def test_relu_abs_conventions_at_zero():
    assert _at("relu", [0.0]).tolist() == [0.0]
    assert _at("abs", [0.0]).tolist() == [0.0]
    assert _at("leaky_relu", [0.0], alpha=0.2).tolist() == [0.2]
    assert _at("elu", [0.0], alpha=0.5).tolist() == [0.5]
    assert _at("relu", [0.0], order=2).tolist() == [0.0]
    assert _at("sign", [0.0]).tolist() == [0.0]


def test_sqrt_at_zero_is_inf():
    assert _at("sqrt", [0.0]).tolist() == [math.inf]


def test_maximum_minimum_ties_split_evenly():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 0.0])
    ga, gb = gradients(lambda x, y: build("maximum", x, y), a, b)
    assert ga.tolist() == [0.5, 0.0, 1.0] and gb.tolist() == [0.5, 1.0, 0.0]
    ga, gb = gradients(lambda x, y: build("minimum", x, y), a, b)
    assert ga.tolist() == [0.5, 1.0, 0.0] and gb.tolist() == [0.5, 0.0, 1.0]


def test_clip_at_the_bounds_splits_evenly():
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    gx, glo, ghi = gradients(lambda v, lo, hi: build("clip", v, lo, hi), x, np.array(-1.0),
                             np.array(1.0))
    assert gx.tolist() == [0.5, 1.0, 0.5, 0.0]
    assert float(glo) == 0.5 and float(ghi) == 1.5


def test_where_has_no_derivative_through_the_branch_not_taken():
    # log(x) at x = 0 is -inf with an infinite derivative; where takes the
    # other branch there, and the gradient stays exactly finite.
    x = np.array([0.0, 2.0])
    (g,) = gradients(lambda v: build("where", OPERATORS["Gt"](CTX, v, 0.5), build("log", v), v),
                     x)
    assert g.tolist() == [1.0, 0.5]


# ---- extremes ------------------------------------------------------------------------

def test_sigmoid_at_extremes():
    x = np.array([-1000.0, 1000.0])
    assert value("sigmoid", x).tolist() == [0.0, 1.0]
    g = _at("sigmoid", x)
    assert np.all(np.isfinite(g)) and g.tolist() == [0.0, 0.0]
    g30 = float(_at("sigmoid", [30.0])[0])
    ref = math.exp(-30) / (1 + math.exp(-30)) ** 2
    assert abs(g30 - ref) <= 1e-15 * ref
    assert np.all(np.isfinite(_at("sigmoid", x, order=2)))


def test_softplus_at_extremes():
    assert value("softplus", np.array(1000.0)) == 1000.0
    assert value("softplus", np.array(-1000.0)) == 0.0
    assert _at("softplus", [1000.0]).tolist() == [1.0]
    assert value("softplus", np.array(-30.0)) == pytest.approx(math.exp(-30), rel=1e-14)


def test_tanh_derivative_keeps_relative_precision():
    got = float(_at("tanh", [30.0])[0])
    ref = 4 * math.exp(-60) / (1 + math.exp(-60)) ** 2
    assert abs(got - ref) <= 1e-14 * ref


def test_elu_gradient_finite_for_huge_inputs():
    assert _at("elu", [1000.0]).tolist() == [1.0]
    assert _at("elu", [1000.0], order=2).tolist() == [0.0]


def test_silu_and_gelu_finite_at_extremes():
    x = np.array([-1000.0, 1000.0])
    for name in ("silu", "gelu"):
        assert np.abs(value(name, x)).tolist() == [0.0, 1000.0]
        assert _at(name, x).tolist() == [0.0, 1.0]


def test_integer_inputs_become_floats():
    from gradcli.engine.graph import const

    n = const(np.array([1, 4, 9]))
    out = build("sqrt", n)
    assert out.dtype == "float64"
    out32 = build("sqrt", n, ctx=CTX32)
    assert out32.dtype == "float32"
    assert build("abs", n).dtype == "int64"


def test_float32_context_keeps_float32():
    from gradcli.engine.graph import leaf

    x = leaf("x", (3,), "float32")
    for name in UNARY:
        assert build(name, x, ctx=CTX32).dtype == "float32", name


def test_every_elementwise_function_is_in_the_catalogue():
    for name in [*UNARY, *BINARY, "clip", "where"]:
        assert name in CATALOGUE
