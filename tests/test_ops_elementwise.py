"""Primitive-level tests of every row in `gradcli/engine/ops/elementwise.py`.

Each differentiable row is checked against central finite differences
(vjp, jvp, vjp of vjp) on inputs drawn inside its domain and away from its
kinks; every row's batching rule and sympy rule are checked against its numpy
forward; the documented kink conventions and the precision claims of the
rules are asserted exactly."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives

from gradcli.engine.autodiff import grad, jvp, vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.elementwise import BINARY, UNARY

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape))


def uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, shape: np.asarray(rng.uniform(lo, hi, shape))


def away_from_zero(lo: float, hi: float) -> Sampler:
    """Both signs, magnitude in [lo, hi]: for ops with a kink or pole at 0."""
    return lambda rng, shape: np.asarray(
        rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape))


# Where each differentiable unary op is smooth: the finite differences (h=1e-5)
# must not straddle a kink, a pole or the edge of the domain.
UNARY_DOMAIN: dict[str, Sampler] = {
    "neg": normal, "exp": normal, "expm1": normal,
    "log": uniform(0.3, 3.0), "log1p": uniform(-0.6, 2.0),
    "sin": normal, "cos": normal, "tan": uniform(-1.2, 1.2),
    "arcsin": uniform(-0.9, 0.9), "arccos": uniform(-0.9, 0.9), "arctan": normal,
    "sinh": normal, "cosh": normal, "tanh": normal, "sech2": normal,
    "arcsinh": normal, "arccosh": uniform(1.2, 3.0), "arctanh": uniform(-0.9, 0.9),
    "sqrt": uniform(0.3, 3.0), "cbrt": away_from_zero(0.3, 2.0),
    "abs": away_from_zero(0.1, 2.0),
    "erf": normal, "erfc": normal, "sigmoid": normal, "softplus": normal,
}
NONDIFF_UNARY = {"sign"}
NONDIFF_BINARY = {"lt", "le", "gt", "ge", "eq", "ne"}

SHAPES = [(), (3,), (2, 3)]
PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 4)),
         ((), (2, 3)), ((2, 3), ()), ((), ())]
FLAGS2 = [(True, False), (False, True), (True, True)]


def _pair_no_ties(rng: np.random.Generator, sa: tuple[int, ...],
                  sb: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Operands of maximum whose broadcast elements differ by at least 0.1."""
    while True:
        a, b = normal(rng, sa), normal(rng, sb)
        if np.min(np.abs(np.subtract(a, b))) > 0.1:
            return a, b


def _pair_arctan2(rng: np.random.Generator, sa: tuple[int, ...],
                  sb: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    # |y| >= 0.2 keeps the points off the branch cut (y = 0, x < 0) and the origin.
    return away_from_zero(0.2, 2.0)(rng, sa), normal(rng, sb)


BINARY_DOMAIN: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "add": lambda rng, sa, sb: (normal(rng, sa), normal(rng, sb)),
    "mul": lambda rng, sa, sb: (normal(rng, sa), normal(rng, sb)),
    "pow": lambda rng, sa, sb: (uniform(0.3, 3.0)(rng, sa), normal(rng, sb)),
    "maximum": _pair_no_ties,
    "arctan2": _pair_arctan2,
}


def _binary(name: str) -> Callable[[Node, Node], Node]:
    return lambda a, b: apply(name, (a, b))


def _unary(name: str) -> Callable[[Node], Node]:
    return lambda x: apply(name, (x,))


def _cond(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean condition with both values present whenever it has two elements."""
    size = int(np.prod(shape, dtype=int))
    flat = np.arange(size) % 2 == 0
    return rng.permutation(flat).reshape(shape)


def test_every_row_is_covered():
    names = {row.name for row in UNARY + BINARY}
    covered = set(UNARY_DOMAIN) | NONDIFF_UNARY | set(BINARY_DOMAIN) | NONDIFF_BINARY
    assert covered | {"where"} == names


# ---- derivatives against finite differences ------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY_DOMAIN))
def test_unary_derivatives(name: str, shape: tuple[int, ...]):
    rng = np.random.default_rng(zlib.crc32(f"{name}{shape}".encode()))
    check_derivatives(_unary(name), UNARY_DOMAIN[name](rng, shape))


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY_DOMAIN))
def test_binary_derivatives(name: str, shapes: tuple[tuple[int, ...], tuple[int, ...]]):
    rng = np.random.default_rng(7)
    a, b = BINARY_DOMAIN[name](rng, *shapes)
    check_derivatives(_binary(name), a, b)
    check_derivatives(_binary(name), a, b, wrt=[0])
    check_derivatives(_binary(name), a, b, wrt=[1])


def test_pow_negative_base_integer_exponent():
    # d/da of a**n is defined for a < 0 when n is a fixed integer.
    a = np.array([-1.5, -0.4, 0.7, 2.0])
    check_derivatives(_binary("pow"), a, np.array([2.0, 3.0, -1.0, 4.0]), wrt=[0])


def test_same_operand_twice():
    # x * x and x ** x: both cotangents accumulate into the one leaf.
    x = np.array([0.5, 1.3, 2.2])
    check_derivatives(lambda a: apply("mul", (a, a)), x)
    check_derivatives(lambda a: apply("pow", (a, a)), x)
    check_derivatives(lambda a: apply("maximum", (a, N.mul(a, N.scalar(2.0, a)))), x)


WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), ()), ((2, 1), (1, 4), (2, 4)),
                ((3,), (), (2, 3)), ((), (3,), (3,))]


@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where_derivatives(shapes):
    rng = np.random.default_rng(3)
    sc, sa, sb = shapes
    cond, a, b = _cond(rng, sc), normal(rng, sa), normal(rng, sb)
    build = lambda c, x, y: apply("where", (c, x, y))  # noqa: E731
    check_derivatives(build, cond, a, b)
    check_derivatives(build, cond, a, b, wrt=[1])
    check_derivatives(build, cond, a, b, wrt=[2])
    for value in (True, False):  # each branch alone
        check_derivatives(build, np.full(sc, value), a, b)


def test_where_of_smooth_branches():
    # Second order through both branches: where(c, sin(x)*y, exp(x)+y**2).
    rng = np.random.default_rng(4)
    cond = _cond(rng, (2, 3))
    check_derivatives(
        lambda c, x, y: apply("where", (c, N.mul(N.unary("sin", x), y),
                                        N.add(N.unary("exp", x), N.square(y)))),
        cond, normal(rng, (2, 3)), normal(rng, (3,)))


# ---- non-differentiable rows ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NONDIFF_UNARY | NONDIFF_BINARY))
def test_nondifferentiable_rows_have_no_rules(name: str):
    assert TABLE[name].vjp is None
    assert TABLE[name].jvp is None


def test_sign_is_unconnected_and_contributes_zero():
    x = leaf("x", (4,), "float64")
    s = N.unary("sign", x)
    assert vjp([s], [N.ones_like(s)], [x]) == [None]
    assert jvp([s], {id(x): leaf("t", (4,), "float64")}) == [None]
    # sign(x) * x: the product rule's sign'(x) * x term is exactly zero.
    (g,) = grad([N.mul(s, x)], [x])
    values = np.array([-2.0, -0.5, 0.0, 3.0])
    np.testing.assert_array_equal(evaluate([g], {"x": values})[0], np.sign(values))


@pytest.mark.parametrize("name", sorted(NONDIFF_BINARY))
def test_comparison_is_unconnected_and_contributes_zero(name: str):
    x = leaf("x", (4,), "float64")
    y = leaf("y", (4,), "float64")
    flag = apply("cast", (N.compare(name, x, y),), {"dtype": "float64"})
    assert vjp([flag], [N.ones_like(flag)], [x, y]) == [None, None]
    assert jvp([flag], {id(x): leaf("t", (4,), "float64")}) == [None]
    # x + flag(x, y): the gradient is exactly 1 for x and unconnected for y.
    gx, gy = grad([N.add(x, flag)], [x, y])
    assert gy is None
    values = {"x": np.array([1.0, 2.0, 3.0, 4.0]), "y": np.array([2.0, 2.0, 2.0, 2.0])}
    np.testing.assert_array_equal(evaluate([gx], values)[0], np.ones(4))


def test_where_condition_gets_no_cotangent():
    c = leaf("c", (3,), "float64")
    x = leaf("x", (3,), "float64")
    out = apply("where", (c, x, N.neg(x)))
    assert TABLE["where"].vjp(N.ones_like(out), out, (True, True, True))[0] is None
    assert vjp([out], [N.ones_like(out)], [c]) == [None]


# ---- batching ------------------------------------------------------------------------

def _check_batching_on(build: Callable[..., Node], stacks: list[np.ndarray],
                       batched: tuple[bool, ...]) -> None:
    """Like fdcheck.check_batching but on given stacks, so that ops with a domain
    (log, arccosh, pow) are compared on finite values rather than on NaN == NaN,
    and a batched condition of `where` differs between slices."""
    size = next(s.shape[0] for s, b in zip(stacks, batched) if b)
    slices = [s[0] if b else s for s, b in zip(stacks, batched)]
    xs = [leaf(f"x{i}", s.shape, str(s.dtype)) for i, s in enumerate(slices)]
    out = build(*xs)
    assert out.inputs == tuple(xs), "the root must apply the op to the leaves directly"
    blanks = tuple(leaf(f"x{i}", s.shape, str(s.dtype)) for i, s in enumerate(stacks))
    got = evaluate([TABLE[out.op].batch(blanks, batched, out.attrs)],
                   {f"x{i}": s for i, s in enumerate(stacks)})[0]
    assert got.shape == (size,) + out.shape
    if out.is_float:
        assert np.all(np.isfinite(got))
    for k in range(size):
        one = {f"x{i}": s[k] if b else s for i, (s, b) in enumerate(zip(stacks, batched))}
        np.testing.assert_allclose(got[k], evaluate([out], one)[0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(set(UNARY_DOMAIN) | NONDIFF_UNARY))
def test_unary_batching(name: str, shape: tuple[int, ...]):
    sampler = UNARY_DOMAIN.get(name, normal)
    rng = np.random.default_rng(11)
    check_batching(_unary(name), sampler(rng, shape), batched=(True,))
    _check_batching_on(_unary(name), [sampler(rng, (3,) + shape)], (True,))


@pytest.mark.parametrize("flags", FLAGS2, ids=str)
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(set(BINARY_DOMAIN) | NONDIFF_BINARY))
def test_binary_batching(name: str, shapes, flags: tuple[bool, bool]):
    rng = np.random.default_rng(12)
    pair = BINARY_DOMAIN.get(name, BINARY_DOMAIN["add"])
    a, b = pair(rng, *shapes)
    check_batching(_binary(name), a, b, batched=flags)
    sa, sb = (np.stack(s) for s in zip(*(pair(rng, *shapes) for _ in range(3))))
    if name in NONDIFF_BINARY:  # make some elements equal so eq/le/ge see both outcomes
        sb = np.where(rng.random(sb.shape) < 0.5, sb, np.resize(sa, sb.shape))
    stacks = [sa if flags[0] else sa[0], sb if flags[1] else sb[0]]
    _check_batching_on(_binary(name), stacks, flags)


@pytest.mark.parametrize("flags", [(True, False, False), (False, True, False),
                                   (False, False, True), (True, True, False),
                                   (True, False, True), (False, True, True),
                                   (True, True, True)], ids=str)
@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where_batching(shapes, flags):
    rng = np.random.default_rng(13)
    sc, sa, sb = shapes
    build = lambda c, x, y: apply("where", (c, x, y))  # noqa: E731
    check_batching(build, _cond(rng, sc), normal(rng, sa), normal(rng, sb), batched=flags)
    stacks = [_cond(rng, (3,) + sc), normal(rng, (3,) + sa), normal(rng, (3,) + sb)]
    _check_batching_on(build, [s if f else s[0] for s, f in zip(stacks, flags)], flags)


# ---- sympy rules ---------------------------------------------------------------------

def to_sympy(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(array.shape):
        v = array[index]
        out[index] = (sympy.true if v else sympy.false) if array.dtype == bool \
            else sympy.Float(float(v))
    return out


def from_sympy(array: np.ndarray) -> np.ndarray:
    flat = [bool(v) if isinstance(v, sympy.logic.boolalg.Boolean) else float(v)
            for v in np.asarray(array, dtype=object).ravel()]
    return np.array(flat).reshape(np.shape(array))


def assert_sympy_matches(build: Callable[..., Node], *arrays: np.ndarray) -> None:
    xs = [leaf(f"x{i}", a.shape, str(a.dtype)) for i, a in enumerate(arrays)]
    out = build(*xs)
    expected = evaluate([out], {f"x{i}": a for i, a in enumerate(arrays)})[0]
    got = from_sympy(TABLE[out.op].sympy(*(to_sympy(a) for a in arrays), **out.attrs))
    assert got.shape == expected.shape
    if expected.dtype == bool:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(set(UNARY_DOMAIN) | NONDIFF_UNARY))
def test_unary_sympy(name: str):
    rng = np.random.default_rng(21)
    x = UNARY_DOMAIN.get(name, normal)(rng, (2, 3))
    if name == "sign":
        x[0, 0] = 0.0
    assert_sympy_matches(_unary(name), x)


@pytest.mark.parametrize("name", sorted(set(BINARY_DOMAIN) | NONDIFF_BINARY))
def test_binary_sympy(name: str):
    rng = np.random.default_rng(22)
    a, b = BINARY_DOMAIN.get(name, BINARY_DOMAIN["add"])(rng, (2, 3), (3,))
    if name in NONDIFF_BINARY or name == "maximum":
        b = b.copy()
        b[1] = a[0, 1]  # one tie
    assert_sympy_matches(_binary(name), a, b)


def test_where_sympy():
    rng = np.random.default_rng(23)
    assert_sympy_matches(lambda c, x, y: apply("where", (c, x, y)),
                         _cond(rng, (2, 3)), normal(rng, (3,)), normal(rng, (2, 3)))


# ---- kink conventions ----------------------------------------------------------------

def _grad_at(build: Callable[[Node], Node], x: np.ndarray) -> np.ndarray:
    node = leaf("x", x.shape, "float64")
    (g,) = grad([build(node)], [node])
    return evaluate([g], {"x": x})[0]


def _grad_graph(build: Callable[[Node], Node], x: Node) -> Node:
    """The gradient of sum(build(x)) as a node (for second derivatives)."""
    (g,) = grad([build(x)], [x])
    return g


def test_abs_derivative_at_zero_is_zero():
    got = _grad_at(_unary("abs"), np.array([-2.0, 0.0, -0.0, 3.0]))
    np.testing.assert_array_equal(got, [-1.0, 0.0, 0.0, 1.0])


def test_sqrt_and_cbrt_derivatives_at_zero_are_plus_inf():
    assert _grad_at(_unary("sqrt"), np.array([0.0]))[0] == np.inf
    assert _grad_at(_unary("cbrt"), np.array([0.0]))[0] == np.inf


def test_arcsin_derivative_at_one_is_infinite():
    assert _grad_at(_unary("arcsin"), np.array([1.0]))[0] == np.inf
    assert _grad_at(_unary("arccos"), np.array([1.0]))[0] == -np.inf


def test_maximum_ties_split_evenly():
    a = leaf("a", (3,), "float64")
    b = leaf("b", (3,), "float64")
    out = apply("maximum", (a, b))
    ga, gb = grad([out], [a, b])
    values = {"a": np.array([1.0, 2.0, 5.0]), "b": np.array([1.0, 3.0, 4.0])}
    got_a, got_b = evaluate([ga, gb], values)
    np.testing.assert_array_equal(got_a, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(got_b, [0.5, 1.0, 0.0])
    # forward mode agrees: the tangent at a tie is the mean of the two tangents
    (t,) = jvp([out], {id(a): leaf("ta", (3,), "float64"), id(b): leaf("tb", (3,), "float64")})
    tangent = evaluate([t], {**values, "ta": np.array([2.0, 2.0, 2.0]),
                             "tb": np.array([6.0, 6.0, 6.0])})[0]
    np.testing.assert_array_equal(tangent, [4.0, 6.0, 2.0])


def test_maximum_with_itself_has_derivative_one():
    np.testing.assert_array_equal(
        _grad_at(lambda x: apply("maximum", (x, x)), np.array([-1.0, 0.0, 2.0])), [1.0] * 3)


def test_where_untaken_branch_gets_exactly_zero_even_if_inf():
    c = leaf("c", (4,), "bool")
    a = leaf("a", (4,), "float64")
    b = leaf("b", (4,), "float64")
    out = apply("where", (c, a, b))
    ga, gb = grad([out], [a, b])
    cot = leaf("g", (4,), "float64")
    ca, cb = vjp([out], [cot], [a, b])
    values = {"c": np.array([True, False, True, False]),
              "a": np.array([1.0, np.inf, 2.0, np.nan]),
              "b": np.array([np.inf, 3.0, -np.inf, 4.0]),
              "g": np.array([5.0, 6.0, 7.0, 8.0])}
    got = evaluate([ga, gb, ca, cb], values)
    np.testing.assert_array_equal(got[0], [1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(got[1], [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(got[2], [5.0, 0.0, 7.0, 0.0])
    np.testing.assert_array_equal(got[3], [0.0, 6.0, 0.0, 8.0])
    # an infinite tangent in the untaken branch is not mixed into the result
    (t,) = jvp([out], {id(a): leaf("ta", (4,), "float64"), id(b): leaf("tb", (4,), "float64")})
    tangent = evaluate([t], {**values, "ta": np.array([1.0, np.inf, 1.0, np.nan]),
                             "tb": np.array([np.inf, 2.0, np.nan, 2.0])})[0]
    np.testing.assert_array_equal(tangent, [1.0, 2.0, 1.0, 2.0])


def test_where_nan_trap_untaken_log_branch():
    # where's rule sends where(c, g, 0) into the branch; derivative rules keep
    # that where outermost (nodes.mul_derivative), so log'(0) = inf never
    # meets the zero: no NaN, unlike JAX/TF without the double-where idiom.
    def build(x: Node) -> Node:
        zero = N.scalar(0.0, x)
        return apply("where", (N.compare("gt", x, zero), N.unary("log", x), zero))

    np.testing.assert_array_equal(_grad_at(build, np.array([0.0, 2.0])), [0.0, 0.5])
    second = _grad_at(lambda x: _grad_graph(build, x), np.array([0.0, 2.0]))
    np.testing.assert_array_equal(second, [0.0, -0.25])


def test_double_where_avoids_the_nan_trap():
    # The documented workaround keeps the untaken branch finite, so its gradient is 0.
    def build(x: Node) -> Node:
        zero, one = N.scalar(0.0, x), N.scalar(1.0, x)
        positive = N.compare("gt", x, zero)
        safe = apply("where", (positive, x, one))
        return apply("where", (positive, N.unary("log", safe), zero))

    np.testing.assert_array_equal(_grad_at(build, np.array([0.0, 2.0])), [0.0, 0.5])


# ---- precision -----------------------------------------------------------------------

# A few ulps: what a handful of correctly rounded operations can lose, and far
# below what the cancelling forms (1 - tanh**2 = 0 at 30) would give.
FULL_PRECISION = 8 * np.finfo(np.float64).eps


def test_tanh_derivative_keeps_relative_precision_at_30():
    got = _grad_at(_unary("tanh"), np.array([30.0, -30.0]))
    exact = 1.0 / math.cosh(30.0) ** 2
    np.testing.assert_allclose(got, [exact, exact], rtol=FULL_PRECISION, atol=0)


@pytest.mark.parametrize("x", [40.0, -40.0])
def test_sigmoid_derivative_keeps_relative_precision_at_40(x: float):
    got = _grad_at(_unary("sigmoid"), np.array([x]))[0]
    e = math.exp(-abs(x))
    exact = e / (1.0 + e) ** 2
    assert got > 0
    assert abs(got - exact) <= FULL_PRECISION * exact


def test_sigmoid_forward_in_the_tails():
    x = np.array([-800.0, -40.0, 40.0, 800.0])
    got = evaluate([_unary("sigmoid")(leaf("x", (4,), "float64"))], {"x": x})[0]
    np.testing.assert_allclose(got[1], math.exp(-40) / (1 + math.exp(-40)),
                               rtol=FULL_PRECISION)
    np.testing.assert_array_equal(got[[0, 2, 3]], [0.0, 1.0 / (1.0 + math.exp(-40)), 1.0])


def test_erfc_in_the_tail():
    x = leaf("x", (), "float64")
    got = evaluate([N.unary("erfc", x)], {"x": np.array(10.0)})[0]
    assert abs(float(got) - math.erfc(10.0)) <= 1e-15 * math.erfc(10.0)
    d = _grad_at(_unary("erfc"), np.array([10.0]))[0]
    exact = -2.0 / math.sqrt(math.pi) * math.exp(-100.0)
    assert abs(d - exact) <= FULL_PRECISION * abs(exact)


def test_softplus_forward_in_the_tails():
    x = np.array([-50.0, 50.0, 800.0])
    got = evaluate([_unary("softplus")(leaf("x", (3,), "float64"))], {"x": x})[0]
    np.testing.assert_allclose(got, [math.log1p(math.exp(-50.0)), 50.0 + math.exp(-50.0),
                                     800.0], rtol=FULL_PRECISION)


@pytest.mark.parametrize("name", sorted(set(UNARY_DOMAIN) | NONDIFF_UNARY))
def test_float32_stays_float32(name: str):
    x = leaf("x", (3,), "float32")
    out = _unary(name)(x)
    value = UNARY_DOMAIN.get(name, normal)(np.random.default_rng(5), (3,)).astype("float32")
    assert out.dtype == "float32"
    assert evaluate([out], {"x": value})[0].dtype == np.float32
    if name in UNARY_DOMAIN:
        (g,) = grad([out], [x])
        assert g.dtype == "float32"
        assert evaluate([g], {"x": value})[0].dtype == np.float32
