"""The conventions of `pow` where its textbook partials are 0 * inf:

- d/da a**b = b * a**(b-1) is exactly 0 where b == 0 (a**0 is the constant 1,
  also at a = 0, where the formula gives 0 * 0**-1 = 0 * inf = NaN);
- integer-valued b at a = 0 keeps the polynomial derivatives (x**1 -> 1,
  x**2 -> 0 then 2, x**3 -> 0, 0, 6).

Every expected number is derived by hand in the comment beside it, at first,
second and (where it says something) third order, through reverse mode
(`grad --order N`), forward-over-reverse (`hessian`) and forward mode (`jvp`).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcli
from gradcli.engine.autodiff import grad, jvp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf, toposort
from gradcli.engine.ops import nodes as N


def _problem(expr: str, **inputs: object) -> gradcli.api.Problem:
    return gradcli.load({"inputs": inputs, "outputs": {"f": expr}})


def _grad(expr: str, wrt: str, order: int, **inputs: object) -> np.ndarray:
    return np.asarray(_problem(expr, **inputs).grad(wrt=[wrt], order=order)[wrt])


# ---- d/dx x**b where b == 0 ------------------------------------------------------------

@pytest.mark.parametrize("order", [1, 2, 3])
def test_d_dx_of_x_to_the_zero_is_zero_everywhere(order: int):
    # x**0 = 1 for every x (numpy: 0**0 = 1), so every derivative in x is 0,
    # including at x = 0 where b * x**(b-1) = 0 * inf.
    x = [0.0, -0.0, 2.0, -3.0]
    got = _grad("x ** b", "x", order, x=x, b=0.0)
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 0.0])


def test_d_dx_is_zero_only_where_b_is_zero():
    # b varies per element: d/dx x**b = b x**(b-1).
    #   (x, b) = (0, 0): 0 (the convention);  (0, 2): 2*0 = 0;  (2, 0): 0;
    #   (2, 3): 3*4 = 12;  (4, 0.5): 0.5 / 2 = 0.25;  (0, 1): 1 * 0**0 = 1.
    x = [0.0, 0.0, 2.0, 2.0, 4.0, 0.0]
    b = [0.0, 2.0, 0.0, 3.0, 0.5, 1.0]
    np.testing.assert_array_equal(_grad("x ** b", "x", 1, x=x, b=b),
                                  [0.0, 0.0, 0.0, 12.0, 0.25, 1.0])
    # second order: b (b-1) x**(b-2):
    #   (0, 0): 0;  (0, 2): 2*1*0**0 = 2;  (2, 0): 0;  (2, 3): 6*2 = 12;
    #   (4, 0.5): 0.5*(-0.5)*4**-1.5 = -0.25/8 = -0.03125;  (0, 1): 1*0*... = 0.
    np.testing.assert_array_equal(_grad("x ** b", "x", 2, x=x, b=b),
                                  [0.0, 2.0, 0.0, 12.0, -0.03125, 0.0])


@pytest.mark.parametrize("exponent", ["b", "2.0 * c"], ids=["input", "computed"])
def test_integer_exponents_at_zero(exponent: str):
    # b is not a constant here (an input, or computed from one), so the mask
    # is evaluated, not folded away; b = 2 c.
    x = [0.0, 2.0]
    for b, firsts, seconds, thirds in [
        (1.0, [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]),     # x: 1, 0, 0
        (2.0, [0.0, 4.0], [2.0, 2.0], [0.0, 0.0]),     # x²: 2x, 2, 0
        (3.0, [0.0, 12.0], [0.0, 12.0], [6.0, 6.0]),   # x³: 3x², 6x, 6
        (4.0, [0.0, 32.0], [0.0, 48.0], [0.0, 48.0]),  # x⁴: 4x³, 12x², 24x
    ]:
        inputs = {"x": x, "b": b, "c": b / 2}
        expr = f"x ** ({exponent})"
        for order, want in ((1, firsts), (2, seconds), (3, thirds)):
            got = _grad(expr, "x", order, **inputs)
            np.testing.assert_array_equal(got, want, err_msg=f"b={b} order={order}")


@pytest.mark.parametrize("expr, firsts, seconds", [
    ("x ** 0", [0.0, 0.0], [0.0, 0.0]),
    ("x ** 1", [1.0, 1.0], [0.0, 0.0]),
    ("x ** 2", [0.0, 6.0], [2.0, 2.0]),
    ("x ** 3", [0.0, 27.0], [0.0, 18.0]),
])
def test_constant_integer_exponents_at_zero(expr: str, firsts: list[float],
                                            seconds: list[float]):
    # at x = 0 and x = 3: x**n -> n x**(n-1) -> n (n-1) x**(n-2)
    np.testing.assert_array_equal(_grad(expr, "x", 1, x=[0.0, 3.0]), firsts)
    np.testing.assert_array_equal(_grad(expr, "x", 2, x=[0.0, 3.0]), seconds)


def test_hessian_and_jvp_at_x_zero_b_zero():
    # f = x**b at (0, 0) and (2, 0): df/dx = 0, d²f/dx² = 0 (forward-over-reverse
    # and forward mode take the same rule).
    p = _problem("x ** b", x=[0.0, 2.0], b=0.0)
    np.testing.assert_array_equal(p.hessian(wrt=["x"])["x"]["x"], np.zeros((2, 2)))
    np.testing.assert_array_equal(p.jvp({"x": np.array([1.0, 1.0])})["f"], [0.0, 0.0])
    q = _problem("x ** b", x=[0.0, 2.0], b=2.0)  # x²: Hessian diag(2, 2)
    np.testing.assert_array_equal(q.hessian(wrt=["x"])["x"]["x"], np.diag([2.0, 2.0]))


def test_forward_mode_second_order_at_zero():
    # jvp of the gradient graph: d/dt [d/dx x**b](x + t) at x = 0, b = 0 is 0;
    # at b = 2 it is 2 (and at x = 2, b = 2 also 2).
    x, b, t = leaf("x", (2,), "float64"), leaf("b", (2,), "float64"), leaf("t", (2,), "float64")
    (g,) = grad([N.power(x, b)], [x])
    (h,) = jvp([g], {id(x): t})
    got = evaluate([g, h], {"x": np.array([0.0, 2.0]), "b": np.array([0.0, 2.0]),
                            "t": np.ones(2)})
    np.testing.assert_array_equal(got[0], [0.0, 4.0])
    np.testing.assert_array_equal(got[1], [0.0, 2.0])


def _ops(node: Node) -> list[str]:
    return [n.op for n in toposort([node])]


def test_constant_exponents_build_no_mask():
    # A constant exponent decides the mask when the rule is built: x**2's
    # derivative program is 2 * x, with no compare or where.
    x = leaf("x", (3,), "float64")
    (g,) = grad([N.power(x, N.scalar(2.0, x))], [x])
    assert "where" not in _ops(g) and "eq" not in _ops(g)
    (g0,) = grad([N.power(x, N.scalar(0.0, x))], [x])
    assert g0.op == "fill" and g0.attrs["value"] == 0.0
    # an exponent that is zero in some elements only keeps a (constant) mask
    (gm,) = grad([N.power(x, N.const(np.array([0.0, 1.0, 2.0])))], [x])
    assert "where" in _ops(gm)
    np.testing.assert_array_equal(evaluate([gm], {"x": np.zeros(3)})[0], [0.0, 1.0, 0.0])


# ---- d/db x**b where x == 0 < b --------------------------------------------------------

LOG2 = float(np.log(2.0))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_d_db_at_zero_base_is_zero_for_positive_b(order: int):
    # 0**b = 0 for every b > 0, so every derivative in b is 0 there (the formula
    # b-derivative x**b log(x)**k gives 0 * inf = NaN).  At x = 2, b = 1.5 it is
    # 2**1.5 log(2)**order; at x = 0, b = 0 it stays the one-sided -inf (order 1:
    # (0**h - 1)/h), at x = 0 > b the limit of inf * -inf.
    x = [0.0, 0.0, 0.0, 2.0, 0.0, 0.0]
    b = [2.0, 0.5, 1.0, 1.5, 0.0, -1.0]
    got = _grad("x ** b", "b", order, x=x, b=b)
    far = 2.0 ** 1.5 * LOG2 ** order
    sign = -1.0 if order % 2 else 1.0
    np.testing.assert_allclose(got, [0.0, 0.0, 0.0, far, sign * np.inf, sign * np.inf],
                               rtol=1e-15, atol=0)
    assert np.all(got[:3] == 0.0)  # exactly zero, not a tiny number


def test_d_db_with_a_broadcast_exponent():
    # f = sum over x of x**b with one scalar b (its cotangent is summed):
    # df/db = 0 + 1 log 1 + 4 log 2;  d²f/db² = 4 log(2)²;  d³f/db³ = 4 log(2)³.
    x = [0.0, 1.0, 2.0]
    for order, want in ((1, 4 * LOG2), (2, 4 * LOG2 ** 2), (3, 4 * LOG2 ** 3)):
        np.testing.assert_allclose(_grad("x ** b", "b", order, x=x, b=2.0), want,
                                   rtol=1e-15, atol=0)


def test_zero_to_the_b():
    # a literal zero base: 0.0 ** b; d/db = 0 and d²/db² = 0 for b > 0.
    for order in (1, 2):
        np.testing.assert_array_equal(_grad("0.0 ** b", "b", order, b=[2.0, 0.5]),
                                      [0.0, 0.0])


def test_hessian_of_x_to_the_b_at_zero_base():
    # f = x**b at (x, b) = (0, 3) and (2, 2):
    #   f_xx = b (b-1) x**(b-2)        -> 0,          2
    #   f_xb = x**(b-1) (1 + b log x)  -> 0,          2 (1 + 2 log 2)
    #   f_bb = x**b log(x)**2          -> 0,          4 log(2)²
    p = _problem("x ** b", x=[0.0, 2.0], b=[3.0, 2.0])
    h = p.hessian()
    mixed = 2 * (1 + 2 * LOG2)
    np.testing.assert_allclose(h["x"]["x"], np.diag([0.0, 2.0]), rtol=1e-15, atol=0)
    np.testing.assert_allclose(h["x"]["b"], np.diag([0.0, mixed]), rtol=1e-15, atol=0)
    np.testing.assert_allclose(h["b"]["x"], np.diag([0.0, mixed]), rtol=1e-15, atol=0)
    np.testing.assert_allclose(h["b"]["b"], np.diag([0.0, 4 * LOG2 ** 2]), rtol=1e-15, atol=0)
    # forward mode along b: d/db x**b = (0, 4 log 2)
    np.testing.assert_allclose(p.jvp({"b": np.ones(2)})["f"], [0.0, 4 * LOG2], rtol=1e-15)


def test_reverse_mode_jacobian_is_not_poisoned_by_the_zero_base():
    # Each row of the reverse-mode Jacobian contracts a basis cotangent with the
    # b-partials of every element: a NaN at x = 0 used to spread to every row.
    p = _problem("x ** b", x=[0.0, 2.0], b=2.0)
    for mode in ("rev", "fwd"):
        jac = p.jacobian(mode=mode)["f"]
        np.testing.assert_allclose(jac["b"], [0.0, 4 * LOG2], rtol=1e-15, atol=0)
        np.testing.assert_array_equal(jac["x"], np.diag([0.0, 4.0]))


def test_second_derivative_in_b_through_the_graph():
    # The rule's where mask is what the second derivative differentiates:
    # d²/db² x**b at x = 0 is 0 in reverse-over-reverse and forward-over-reverse.
    x, b, t = leaf("x", (3,), "float64"), leaf("b", (3,), "float64"), leaf("t", (3,), "float64")
    (g,) = grad([N.power(x, b)], [b])
    (gg,) = grad([g], [b])
    (h,) = jvp([g], {id(b): t})
    values = {"x": np.array([0.0, 0.0, 2.0]), "b": np.array([2.0, 0.5, 2.0]), "t": np.ones(3)}
    got = evaluate([g, gg, h], values)
    np.testing.assert_allclose(got[0], [0.0, 0.0, 4 * LOG2], rtol=1e-15, atol=0)
    np.testing.assert_allclose(got[1], [0.0, 0.0, 4 * LOG2 ** 2], rtol=1e-15, atol=0)
    np.testing.assert_allclose(got[2], [0.0, 0.0, 4 * LOG2 ** 2], rtol=1e-15, atol=0)


def test_constant_base_builds_no_mask():
    # 2.0 ** b: the base is never 0, so d/db is y * log(2) with no compare/where.
    b = leaf("b", (2,), "float64")
    (g,) = grad([N.power(N.scalar(2.0, b), b)], [b])
    assert not {"where", "eq", "gt"} & set(_ops(g))


def test_kink_text_states_both_conventions():
    from gradcli.engine.ops import TABLE

    kink = TABLE["pow"].kink
    assert "d/da = 0 where b = 0" in kink and "= 0 where a = 0 < b" in kink
