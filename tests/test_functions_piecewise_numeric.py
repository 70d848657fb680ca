"""Catalogue functions of issue 14 parts 4 and 5 (rounding, remainders,
nan_to_num; exp2, sinc, reciprocal, hypot, logaddexp(2), angle conversions,
fmax/fmin, select): values against numpy, first and second derivatives
against finite differences at several shapes, batched (vmap of the value and
of the gradient), and the stated conventions at edges (NaN, inf, ties)."""

from __future__ import annotations

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import CTX, CTX32, build, builder, gradients, rand, value
from vmapcheck import check_vmap

from gradcli.engine.graph import const
from gradcli.errors import SpecError
from gradcli.language.functions import CATALOGUE, OPERATORS

SHAPES = [(), (4,), (2, 3)]
PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (4,))]

UNARY = {  # name -> (numpy reference, domain, rtol of the value)
    "exp2": (np.exp2, (-3.0, 3.0), 1e-15),
    "sinc": (np.sinc, (-3.0, 3.0), 1e-14),  # numpy's sin(pi x) loses digits near zeros
    "reciprocal": (lambda x: 1 / x, (0.3, 2.0), 0),
    "deg2rad": (np.deg2rad, (-400.0, 400.0), 0),
    "radians": (np.radians, (-400.0, 400.0), 0),
    "rad2deg": (np.rad2deg, (-7.0, 7.0), 0),
    "degrees": (np.degrees, (-7.0, 7.0), 0),
}
BINARY = {
    "hypot": (np.hypot, 0),
    "logaddexp": (np.logaddexp, 0),
    "logaddexp2": (np.logaddexp2, 0),
    "fmax": (np.fmax, 0),
    "fmin": (np.fmin, 0),
}


def _signed(shape: tuple[int, ...], seed: int, low: float, high: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(low, high, shape)


def test_all_of_parts_4_and_5_are_in_the_catalogue():
    names = {"floor", "ceil", "round", "trunc", "mod", "remainder", "fmod", "nan_to_num",
             "exp2", "sinc", "reciprocal", "hypot", "logaddexp", "logaddexp2", "deg2rad",
             "rad2deg", "radians", "degrees", "fmax", "fmin", "select", "floor_divide"}
    assert names <= set(CATALOGUE)
    for name in ("floor", "round", "mod", "fmod", "fmax", "fmin", "select", "nan_to_num",
                 "hypot", "logaddexp", "reciprocal"):
        assert CATALOGUE[name].kink, f"{name} states no convention"
    assert "even" in CATALOGUE["round"].doc
    assert "sign of b" in CATALOGUE["mod"].doc and "sign of a" in CATALOGUE["fmod"].doc
    assert "NaN" in CATALOGUE["fmax"].kink and "NaN" in CATALOGUE["fmin"].kink


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name: str, shape):
    ref, (low, high), rtol = UNARY[name]
    x = rand(shape, 3, low, high)
    np.testing.assert_allclose(value(name, x), ref(x), rtol=rtol, atol=0)
    check_derivatives(builder(name), x)
    check_vmap(builder(name), [rand((3,) + shape, 4, low, high)], (True,))


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name: str, shapes):
    ref, rtol = BINARY[name]
    a, b = _signed(shapes[0], 1, 0.2, 2.0), _signed(shapes[1], 2, 0.2, 2.0)
    np.testing.assert_allclose(value(name, a, b), ref(a, b), rtol=rtol, atol=0)
    check_derivatives(builder(name), a, b)
    check_derivatives(builder(name), a, b, wrt=[1])
    for flags in ((True, False), (False, True), (True, True)):
        stacks = [_signed((3,) + s, 5 + i, 0.2, 2.0) if f else x
                  for i, (s, f, x) in enumerate(zip(shapes, flags, (a, b)))]
        check_vmap(builder(name), stacks, flags)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round"])
def test_rounding_values_and_zero_derivative(name: str, shape):
    x = rand(shape, 7, -4.0, 4.0)
    np.testing.assert_array_equal(value(name, x), getattr(np, name)(x))
    # step(x) * x: the derivative is step(x), the step contributing exactly 0
    def fn(v):
        return OPERATORS["Mult"](CTX, build(name, v), v)

    np.testing.assert_array_equal(gradients(fn, x)[0], getattr(np, name)(x))
    check_derivatives(fn, x)
    check_vmap(fn, [rand((3,) + shape, 8, -4, 4)], (True,))


def test_round_decimals_and_ties():
    x = np.array([0.5, 1.5, 2.5, -0.5, 0.125, 1234.5678])
    np.testing.assert_array_equal(value("round", x), np.round(x))
    for decimals in (-2, 1, 3):
        np.testing.assert_array_equal(value("round", x, decimals), np.round(x, decimals))
    with pytest.raises(SpecError, match="^round: argument 'decimals' must be an integer"):
        build("round", const(x), 0.5)
    with pytest.raises(SpecError, match="between -400 and 400"):
        build("round", const(x), 10**6)


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", ["mod", "remainder", "fmod"])
def test_remainders(name: str, shapes):
    rng = np.random.default_rng(11)
    while True:  # away from the jumps, where a / b is an integer
        a = rng.uniform(-6, 6, shapes[0])
        b = rng.choice([-1.0, 1.0], shapes[1]) * rng.uniform(0.7, 2.0, shapes[1])
        if np.min(np.abs(a / b - np.round(a / b))) > 0.05:
            break
    ref = np.fmod if name == "fmod" else np.mod
    np.testing.assert_array_equal(value(name, a, b), ref(a, b))
    check_derivatives(builder(name), a, b)
    got_a, got_b = gradients(builder(name), a, b)
    np.testing.assert_array_equal(got_a, _sum_to(np.ones(np.broadcast_shapes(a.shape, b.shape)),
                                                 a.shape))
    q = np.trunc(a / b) if name == "fmod" else np.floor_divide(a, b)
    np.testing.assert_array_equal(got_b, _sum_to(-q, b.shape))


def _sum_to(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: what a gradient of an operand of `shape` collects."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1)
    return np.sum(x, axis=axes).reshape(shape)


def test_mod_operator_and_floor_division_follow_python():
    a = np.array([-7.0, 7.0, -7.5, 7.5])
    b = np.array([3.0, -3.0, 2.0, -2.0])
    got = OPERATORS["Mod"](CTX, const(a), const(b))
    from gradcli.engine.evaluate import evaluate

    assert evaluate([got], {})[0].tolist() == [x % y for x, y in zip(a, b)]
    quot = evaluate([OPERATORS["FloorDiv"](CTX, const(a), const(b))], {})[0]
    assert quot.tolist() == [x // y for x, y in zip(a, b)]


def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, -1.5, 0.0, 2.0])
    np.testing.assert_array_equal(value("nan_to_num", x), np.nan_to_num(x))
    np.testing.assert_array_equal(value("nan_to_num", x, nan=-1.0, posinf=9.0, neginf=-9.0),
                                  np.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0))
    x32 = x.astype(np.float32)
    got = value("nan_to_num", x32, ctx=CTX32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.nan_to_num(x32))
    # derivative 1 at finite elements, exactly 0 at the replaced ones
    np.testing.assert_array_equal(gradients(builder("nan_to_num"), x)[0],
                                  [0, 0, 0, 1, 1, 1])
    check_derivatives(lambda v: build("nan_to_num", build("exp", v), posinf=5.0),
                      np.array([1.0, 800.0, -3.0]))  # exp(800) = inf is replaced
    check_vmap(builder("nan_to_num"), [np.stack([x, x[::-1], -x])], (True,))
    n = const(np.array([1, 2]))
    assert build("nan_to_num", n) is n  # integers are finite: unchanged, as numpy


def test_fmax_fmin_nan_rules_and_ties():
    a = np.array([1.0, np.nan, 2.0, np.nan, 3.0])
    b = np.array([np.nan, 4.0, 2.0, np.nan, -1.0])
    for name in ("fmax", "fmin"):
        np.testing.assert_array_equal(value(name, a, b), getattr(np, name)(a, b))
        ga, gb = gradients(builder(name), a, b)
        # NaN operands get 0, the other operand all of it; ties split evenly
        np.testing.assert_array_equal(ga, [1.0, 0.0, 0.5, 0.0, 1.0 if name == "fmax" else 0.0])
        np.testing.assert_array_equal(gb, [0.0, 1.0, 0.5, 0.0, 0.0 if name == "fmax" else 1.0])
    # finite differences with NaN operands where the other is finite
    a2, b2 = np.array([0.3, np.nan, -1.2, 0.8]), np.array([np.nan, 0.5, 1.1, -0.4])
    for name in ("fmax", "fmin"):
        check_derivatives(builder(name), a2, b2)
        check_vmap(builder(name), [np.stack([a2, b2, a2]), np.stack([b2, a2, -b2])],
                   (True, True))


@pytest.mark.parametrize("shapes", [((4,), (4,), (4,)), ((2, 3), (3,), (2, 1)),
                                    ((), (2, 3), (3,))], ids=str)
def test_select(shapes):
    rng = np.random.default_rng(12)
    sc, sa, sb = shapes
    c1, c2 = rng.uniform(-1, 1, sc) > 0, rng.uniform(-1, 1, sa) > 0.3
    a, b, d = rand(sa, 13), rand(sb, 14), rand((), 15)
    got = value("select", [const(c1), const(c2)], [const(a), const(b)], const(d))
    np.testing.assert_array_equal(got, np.select([c1, c2], [a, b], d))

    def fn(p, q, u, v, w):
        return build("select", [p, q], [u, v], w)

    check_derivatives(fn, c1, c2, a, b, d)
    check_derivatives(fn, c1, c2, a, b, d, wrt=[3])
    check_vmap(fn, [c1, c2, np.stack([a, -a, 2 * a]), b, d], (False, False, True, False, False))
    check_vmap(fn, [np.stack([c1, ~c1, c1]), c2, a, b, d], (True, False, False, False, False))
    np.testing.assert_array_equal(value("select", [const(c1)], [const(a)]),
                                  np.select([c1], [a]))


def test_select_errors():
    x = const(np.ones(3))
    with pytest.raises(SpecError, match="condlist has 2 conditions but choicelist has 1 choice:"):
        build("select", [x, x], [x])
    with pytest.raises(SpecError, match="non-empty list"):
        build("select", [], [])
    with pytest.raises(SpecError, match="do not broadcast"):
        build("select", [x], [const(np.ones(4))])


def test_reciprocal_of_integers_is_a_float():
    got = value("reciprocal", np.array([2, 4]))
    assert got.dtype == np.float64 and got.tolist() == [0.5, 0.25]


def test_sinc_is_exact_near_its_zeros_where_numpys_is_not():
    x = np.array([1 + 2.0 ** -40, 3.0, -2 - 2.0 ** -30])
    got = value("sinc", x)
    eps = x - np.round(x)  # exact
    # sinc(n + e) = (-1)**n sin(pi e) / (pi (n + e)) = (-1)**n e / (n + e) (1 - O(e**2))
    want = np.array([-1.0, -1.0, 1.0]) * np.sin(np.pi * eps) / (np.pi * x)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    assert value("sinc", np.array(0.0)) == 1.0


def test_logaddexp2_extremes():
    a = np.array([-2000.0, 2000.0, 0.0, -1.0])
    b = np.array([-2000.0, 1990.0, -60.0, -1.0])
    np.testing.assert_array_equal(value("logaddexp2", a, b), np.logaddexp2(a, b))
    ga, gb = gradients(builder("logaddexp2"), a, b)
    # exact references (powers of 2); sigmoid((a - b) ln 2) rounds (a - b) ln 2,
    # an error of |a - b| ln 2 ulps in e**-x: up to 8e-14 before 2**-1074 underflows
    rtol = 2.0 ** -52 * (1 + np.abs(a - b) * np.log(2))
    assert np.all(np.abs(ga - 1 / (1 + 2.0 ** (b - a))) <= rtol * ga)
    assert np.all(np.abs(gb - 1 / (1 + 2.0 ** (a - b))) <= rtol * gb)


def test_check_agrees_where_nan_is_replaced(tmp_path):
    # log(x) is NaN at x < 0 and nan_to_num / fmax replace it: sympy sees a
    # complex number there, which the lowering of isnan counts as NaN
    from click.testing import CliRunner

    from gradcli.cli.group import cli

    spec = tmp_path / "nan.yaml"
    spec.write_text("inputs:\n  x: [0.5, -1.5, 2.0]\n  y: [1.0, 2.0, -3.0]\noutputs:\n"
                    "  z: nan_to_num(log(x)) * y + fmax(sqrt(y), x) + fmin(x, log(y))\n")
    result = CliRunner().invoke(cli, ["check", str(spec), "--what", "value,grad,hessian"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout


def test_per_sample_hessians_of_the_new_functions():
    # batched second derivatives through the CLI's path: vmap of the Hessian
    # program over samples, against central differences of each sample
    import gradcli

    problem = gradcli.load({
        "inputs": {"x": {"random": "normal", "shape": [4, 2], "seed": 1}},
        "let": {"a": "x[:, 0]", "b": "x[:, 1]"},
        "outputs": {"y": "sinc(a) * hypot(a, b) + logaddexp2(a, b) * exp2(b) + fmax(a, b) * "
                         "(a % 0.7) + fmod(b, 0.3) * a + select([a > 0], [a * b], b ** 2) + "
                         "nan_to_num(log(b)) + logaddexp(a, -b) * deg2rad(b)"}})
    x = problem.values["x"]
    hessian = problem.hessian(batch_axis=0)["x"]["x"]
    assert hessian.shape == (4, 2, 2)
    h = 1e-4

    def f(point: np.ndarray) -> np.ndarray:
        return problem.evaluate(values={"x": point})["y"]

    for j in range(2):
        for k in range(2):
            ej, ek = np.zeros_like(x), np.zeros_like(x)
            ej[:, j], ek[:, k] = h, h
            fd = (f(x + ej + ek) - f(x + ej - ek) - f(x - ej + ek) + f(x - ej - ek)) / (4 * h * h)
            np.testing.assert_allclose(hessian[:, j, k], fd, rtol=1e-5, atol=1e-6)
