"""The rows of `gradcli/engine/ops/rounding.py`: floor, ceil, trunc, round,
floor_divide (piecewise constant) and mod, fmod (d/da = 1, d/db = -q).

Values against numpy (ties, signs, negative zero, ints), derivatives of the
remainders against finite differences away from their jumps at several
shapes, the stated conventions at the jumps, batching, and sympy forms that
sympy can differentiate (0 for the rounding family)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives
from test_ops_elementwise import assert_sympy_matches
from vmapcheck import check_vmap

from gradcli.engine.autodiff import grad, jvp, vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.rounding import ROWS, sym

STEPS = ["floor", "ceil", "trunc", "round"]
REMAINDERS = {"mod": np.mod, "fmod": np.fmod}
PAIRS = [((4,), (4,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 4)), ((), (2, 3)),
         ((2, 3), ()), ((), ())]
SHAPES = [(), (5,), (2, 3)]


def _unary(name: str, **attrs) -> callable:
    return lambda x: apply(name, (x,), attrs or None)


def _binary(name: str) -> callable:
    return lambda a, b: apply(name, (a, b))


def _run(node: Node, **values: np.ndarray) -> np.ndarray:
    return evaluate([node], values)[0]


def test_every_row_is_here():
    assert {r.name for r in ROWS} == set(STEPS) | {"floor_divide", "isnan"} | set(REMAINDERS)


# ---- values ----------------------------------------------------------------------------

TRICKY = np.array([-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 0.49999999999999994,
                   -3.7, 3.7, 1e300, -1e-300, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("name", STEPS)
def test_steps_match_numpy(name: str):
    x = leaf("x", TRICKY.shape, "float64")
    got = _run(N.unary(name, x), x=TRICKY)
    want = getattr(np, name)(TRICKY)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))  # -0.0 kept


def test_round_is_half_to_even_and_takes_decimals():
    x = leaf("x", (8,), "float64")
    values = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.125, 1.005, 12345.678])
    np.testing.assert_array_equal(_run(N.unary("round", x), x=values),
                                  [0.0, 2.0, 2.0, -0.0, -2.0, 0.0, 1.0, 12346.0])
    for decimals in (2, -2, 1):
        got = _run(apply("round", (x,), {"decimals": decimals}), x=values)
        np.testing.assert_array_equal(got, np.round(values, decimals))


def test_integers_stay_integers():
    n = leaf("n", (4,), "int64")
    values = np.array([-7, -1, 3, 15])
    for name in STEPS:
        node = N.unary(name, n)
        assert node.dtype == "int64"
        np.testing.assert_array_equal(_run(node, n=values), values)
    assert _run(apply("round", (n,), {"decimals": -1}), n=values).tolist() == [-10, 0, 0, 20]
    m = leaf("m", (4,), "int64")
    for name, ref in [("mod", np.mod), ("fmod", np.fmod), ("floor_divide", np.floor_divide)]:
        node = apply(name, (n, m))
        assert node.dtype == "int64"
        divisor = np.array([3, -2, 2, -4])
        np.testing.assert_array_equal(_run(node, n=values, m=divisor), ref(values, divisor))


def test_remainder_signs_follow_numpy():
    a = np.array([-7.0, 7.0, -7.0, 7.0, -0.0, 5.5])
    b = np.array([3.0, -3.0, -3.0, 3.0, 2.0, np.inf])
    xa, xb = leaf("a", (6,), "float64"), leaf("b", (6,), "float64")
    for name in ("mod", "fmod", "floor_divide"):
        got = _run(apply(name, (xa, xb)), a=a, b=b)
        np.testing.assert_array_equal(got, getattr(np, name)(a, b))
    assert _run(apply("mod", (xa, xb)), a=a, b=b)[:2].tolist() == [2.0, -2.0]  # sign of b
    assert _run(apply("fmod", (xa, xb)), a=a, b=b)[:2].tolist() == [-1.0, 1.0]  # sign of a


# ---- derivatives -----------------------------------------------------------------------

@pytest.mark.parametrize("name", STEPS + ["floor_divide"])
def test_steps_have_no_derivative_rules(name: str):
    assert TABLE[name].vjp is None and TABLE[name].jvp is None
    assert "unconnected" in TABLE[name].kink


@pytest.mark.parametrize("name", STEPS)
def test_steps_contribute_zero_and_are_unconnected(name: str):
    x = leaf("x", (4,), "float64")
    y = N.unary(name, x)
    assert vjp([y], [N.ones_like(y)], [x]) == [None]
    assert jvp([y], {id(x): leaf("t", (4,), "float64")}) == [None]
    (g,) = grad([N.mul(y, x)], [x])  # d(floor(x) x)/dx = floor(x): 0 * x from the step
    values = np.array([-1.5, -0.5, 0.5, 2.5])  # 0.5 is a jump of round: still 0
    np.testing.assert_array_equal(_run(g, x=values), _run(y, x=values))


def _remainder_operands(rng: np.random.Generator, sa, sb) -> tuple[np.ndarray, np.ndarray]:
    """Operands at least 0.05 (relative to b) away from every jump of a/b."""
    while True:
        a = rng.uniform(-6, 6, sa)
        b = rng.choice([-1.0, 1.0], sb) * rng.uniform(0.7, 2.0, sb)
        q = np.asarray(a / b)
        if np.min(np.abs(q - np.round(q))) > 0.05:
            return a, b


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(REMAINDERS))
def test_remainder_derivatives(name: str, shapes):
    rng = np.random.default_rng(5)
    a, b = _remainder_operands(rng, *shapes)
    check_derivatives(_binary(name), a, b)
    check_derivatives(_binary(name), a, b, wrt=[0])
    check_derivatives(_binary(name), a, b, wrt=[1])


def test_same_operand_twice():
    x = np.array([0.7, 1.3, -2.2])
    # mod(x, x) = 0 and fmod(x, x) = 0: d/dx = 1 - x/x = 0
    for name in REMAINDERS:
        check_derivatives(lambda v, name=name: apply(name, (v, v)), x)
        check_derivatives(lambda v, name=name: apply(name, (N.mul(v, N.scalar(3.5, v)), v)), x)


@pytest.mark.parametrize("name", sorted(REMAINDERS))
def test_partials_are_one_and_minus_the_quotient_also_at_jumps(name: str):
    # a / b integer (jumps) and quotients whose rounded value misleads:
    # 0.3 / 0.1 is 2.9999999999999996 in float64 but fmod(0.3, 0.1) uses 2
    a = np.array([6.0, -6.0, 0.3, 0.3, 7.5, -7.5, 1e17])
    b = np.array([3.0, 3.0, 0.1, -0.1, 2.0, 2.0, 3.0])
    xa, xb = leaf("a", a.shape, "float64"), leaf("b", b.shape, "float64")
    y = apply(name, (xa, xb))
    ga, gb = grad([y], [xa, xb])
    got_a, got_b, value = evaluate([ga, gb, y], {"a": a, "b": b})
    np.testing.assert_array_equal(got_a, np.ones_like(a))
    # the quotient q with value == a - b q (exactly, in rationals)
    from fractions import Fraction

    for ai, bi, vi, gi in zip(a, b, value, got_b):
        q = (Fraction(ai) - Fraction(vi)) / Fraction(bi)
        assert q.denominator == 1 and gi == -float(q), (ai, bi, vi, gi)


def test_second_derivatives_of_remainders_vanish():
    a = leaf("a", (3,), "float64")
    b = leaf("b", (3,), "float64")
    for name in REMAINDERS:
        (gb,) = grad([apply(name, (a, b))], [b])
        assert grad([gb], [a, b]) == [None, None]  # -q is piecewise constant


# ---- batching and sympy ----------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", STEPS)
def test_step_batching(name: str, shape):
    rng = np.random.default_rng(3)
    check_batching(_unary(name), rng.uniform(-3, 3, shape), batched=(True,))
    check_batching(_unary("round", decimals=1), rng.uniform(-3, 3, shape), batched=(True,))


@pytest.mark.parametrize("flags", [(True, False), (False, True), (True, True)], ids=str)
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(REMAINDERS) + ["floor_divide"])
def test_binary_batching(name: str, shapes, flags):
    rng = np.random.default_rng(4)
    pairs = [_remainder_operands(rng, *shapes) for _ in range(3)]
    stacks = [np.stack([p[i] for p in pairs]) if f else pairs[0][i]
              for i, f in enumerate(flags)]
    check_vmap(_binary(name), stacks, flags)


def test_sympy_forms_match_and_differentiate():
    rng = np.random.default_rng(9)
    x = rng.uniform(-3, 3, (2, 3))
    x[0, :3] = [0.5, 1.5, -2.5]  # ties of round
    for name in STEPS:
        assert_sympy_matches(_unary(name), x)
    assert_sympy_matches(_unary("round", decimals=1), np.array([0.25, 0.35, -1.25, 2.0]))
    assert_sympy_matches(_unary("round", decimals=-1), np.array([15.0, 25.0, -35.0, 4.0]))
    a, b = _remainder_operands(rng, (2, 3), (3,))
    for name in ("mod", "fmod", "floor_divide"):
        assert_sympy_matches(_binary(name), a, b)
    u, v = sympy.symbols("u v", real=True)
    assert sympy.diff(sym()["floor"](u) + sym()["round"](u, 1) + sym()["trunc"](u), u) == 0
    mod = TABLE["mod"].sympy(np.array(u, dtype=object), np.array(v, dtype=object))[()]
    point = {u: sympy.Float(7.5), v: sympy.Float(2.0)}
    assert sympy.diff(mod, u).xreplace(point) == 1
    assert sympy.diff(mod, v).xreplace(point) == -3


def test_isnan_row():
    x = leaf("x", (5,), "float64")
    node = apply("isnan", (x,))
    assert node.dtype == "bool" and TABLE["isnan"].vjp is None
    values = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0])
    assert _run(node, x=values).tolist() == [True, False, False, False, False]
    check_batching(lambda v: apply("isnan", (v,)), values, batched=(True,))


def test_isnan_in_sympy_is_nan_of_the_engine():
    # anything sympy cannot make real is NaN in float64: log(-1), sqrt(-2), nan, zoo
    rule = TABLE["isnan"].sympy
    u = sympy.Symbol("u", real=True)
    cases = [sympy.nan, sympy.zoo, sympy.log(-1), sympy.sqrt(-2), sympy.oo, -sympy.oo,
             sympy.Float(2.5)]
    got = rule(np.array(cases, dtype=object))
    assert [bool(g) for g in got] == [True, True, True, True, False, False, False]
    (symbolic,) = rule(np.array([sympy.log(u)], dtype=object))
    assert bool(symbolic.xreplace({u: sympy.Float(-1.5)})) is True
    assert bool(symbolic.xreplace({u: sympy.Float(1.5)})) is False
    (real,) = rule(np.array([u ** 2 + 1], dtype=object))
    assert real == sympy.false
