"""The rows of `gradcli/engine/ops/special.py`: exp2, sinc (any order),
hypot, hypot_ratio and logaddexp.

Derivatives against finite differences at several shapes; values, first
and second derivatives against 50-digit mpmath where the textbook formulas
cancel, overflow or underflow; the conventions at (0, 0), ties and
infinities; batching; sympy forms."""

from __future__ import annotations

import zlib

import mpmath
import numpy as np
import pytest
from fdcheck import check_batching, check_derivatives
from test_ops_elementwise import assert_sympy_matches
from vmapcheck import check_vmap

from gradcli.engine.autodiff import grad
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.special import ROWS

mpmath.mp.dps = 50
SHAPES = [(), (5,), (2, 3)]
PAIRS = [((4,), (4,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 4)), ((), (2, 3)),
         ((2, 3), ()), ((), ())]
BINARY = ["hypot", "hypot_ratio", "logaddexp", "logaddexp2", "fmax", "fmin"]


def _unary(name: str, **attrs):
    return lambda x: apply(name, (x,), attrs or None)


def _binary(name: str):
    return lambda a, b: apply(name, (a, b))


def test_every_row_is_here():
    assert {r.name for r in ROWS} == {"exp2", "sinc"} | set(BINARY)
    assert TABLE["fmax"].kink == TABLE["fmin"].kink and "NaN" in TABLE["fmax"].kink


# ---- finite differences --------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["exp2", "sinc"])
def test_unary_derivatives(name: str, shape):
    rng = np.random.default_rng(zlib.crc32(f"{name}{shape}".encode()))
    check_derivatives(_unary(name), rng.uniform(-3, 3, shape))


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_sinc_derivative_rows(order: int):
    # across the switch from series to recurrence (|pi x| = order + 1) and at 0
    x = np.array([0.0, 1e-9, -0.05, 0.3, (order + 1) / np.pi - 1e-3,
                  (order + 1) / np.pi + 1e-3, -2.7, 7.2])
    check_derivatives(_unary("sinc", order=order), x, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_derivatives(name: str, shapes):
    rng = np.random.default_rng(zlib.crc32(f"{name}{shapes}".encode()))
    a = rng.choice([-1.0, 1.0], shapes[0]) * rng.uniform(0.3, 2.0, shapes[0])
    b = rng.choice([-1.0, 1.0], shapes[1]) * rng.uniform(0.3, 2.0, shapes[1])
    check_derivatives(_binary(name), a, b)
    check_derivatives(_binary(name), a, b, wrt=[0])
    check_derivatives(_binary(name), a, b, wrt=[1])


def test_same_operand_twice():
    x = np.array([0.5, -1.3, 2.2])
    for name in BINARY:
        check_derivatives(lambda v, name=name: apply(name, (v, v)), x)  # a tie for logaddexp
        check_derivatives(lambda v, name=name: apply(name, (v, N.square(v))), x)


# ---- accuracy against mpmath ---------------------------------------------------------

def _derivatives(build, *arrays: np.ndarray, order: int) -> list[np.ndarray]:
    """[value, d/d(first operand), d2/d(first)^2] elementwise (operands broadcast equal)."""
    xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
    out = build(*xs)
    nodes = [out]
    for _ in range(order):
        (g,) = grad([nodes[-1]], [xs[0]])
        nodes.append(g)
    return evaluate(nodes, {f"x{i}": a for i, a in enumerate(arrays)})


def _assert_relative(got: np.ndarray, want: list, rtol, what: str) -> None:
    want = np.array([float(w) for w in want])
    assert np.all(got[want == 0] == 0), what  # below the smallest float: 0, as it rounds
    err = np.abs(got - want) / np.where(want == 0, 1.0, np.abs(want))
    assert np.all(err <= rtol), (what, got[err > rtol], want[err > rtol])


def test_sinc_accuracy_near_zero_and_near_integers():
    x = np.array([0.0, 1e-300, 1e-12, -3e-5, 0.01, 0.2, -0.6, 1 + 1e-10, 2 - 3e-9,
                  -5 + 1e-12, 17.25, 1e6 + 0.5, 0.4999])
    got = _derivatives(_unary("sinc"), x, order=2)

    def f(u):
        return mpmath.sinc(mpmath.pi * u)

    for k, rtol in ((0, 1e-13), (1, 1e-13), (2, 1e-12)):
        want = [mpmath.diff(f, mpmath.mpf(v), k) if v != 0 else
                [1, 0, -mpmath.pi ** 2 / 3][k] for v in x]
        keep = [w != 0 for w in want]
        _assert_relative(got[k][keep], [w for w, c in zip(want, keep) if c], rtol, f"order {k}")
    assert got[1][0] == 0.0  # odd derivative at 0 exactly


def test_hypot_at_every_scale():
    # naive sqrt(a**2 + b**2) overflows at 1e200 and underflows at 1e-200; the
    # second derivative b**2/h**3 would too, and 1/h - a**2/h**3 cancels for b << a
    a = np.array([3.0, 1e200, 1e-200, 1.0, 1e-3, 5e307, 1.0])
    b = np.array([4.0, 3e200, 2e-200, 1e-6, 1.0, 5e307, -1e-150])
    got = _derivatives(_binary("hypot"), a, b, order=2)
    A = [mpmath.mpf(v) for v in a]
    B = [mpmath.mpf(v) for v in b]
    H = [mpmath.sqrt(u * u + v * v) for u, v in zip(A, B)]
    _assert_relative(got[0], H, 1e-15, "value")
    _assert_relative(got[1], [u / h for u, h in zip(A, H)], 1e-15, "d/da")
    _assert_relative(got[2], [v * v / h ** 3 for v, h in zip(B, H)], 1e-14, "d2/da2")


def test_hypot_mixed_and_b_second_derivatives():
    a = np.array([1.0, 1e-4, 2e150, -7.0])
    b = np.array([1e-5, 1.0, 1e150, 0.5])
    xa, xb = leaf("a", (4,), "float64"), leaf("b", (4,), "float64")
    (ga,) = grad([apply("hypot", (xa, xb))], [xa])
    gab, gbb = grad([ga], [xb]), None
    (gb,) = grad([apply("hypot", (xa, xb))], [xb])
    (gbb,) = grad([gb], [xb])
    got_ab, got_bb = evaluate([gab[0], gbb], {"a": a, "b": b})
    A, B = [mpmath.mpf(v) for v in a], [mpmath.mpf(v) for v in b]
    H = [mpmath.sqrt(u * u + v * v) for u, v in zip(A, B)]
    _assert_relative(got_ab, [-u * v / h ** 3 for u, v, h in zip(A, B, H)], 1e-14, "d2/dadb")
    _assert_relative(got_bb, [u * u / h ** 3 for u, h in zip(A, H)], 1e-14, "d2/db2")


def test_hypot_conventions_at_zero_and_infinity():
    xa, xb = leaf("a", (4,), "float64"), leaf("b", (4,), "float64")
    ga, gb = grad([apply("hypot", (xa, xb))], [xa, xb])
    a = np.array([0.0, np.inf, 3.0, -np.inf])
    b = np.array([0.0, 1.0, np.inf, -np.inf])
    got_a, got_b = evaluate([ga, gb], {"a": a, "b": b})
    np.testing.assert_array_equal(got_a, [0.0, 1.0, 0.0, -np.sqrt(0.5)])
    np.testing.assert_array_equal(got_b, [0.0, 0.0, 1.0, -np.sqrt(0.5)])


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_accuracy_and_conventions(name: str):
    a = np.array([0.0, 800.0, -800.0, 40.0, 1e-20, np.inf, -np.inf, np.inf, 3.0])
    b = np.array([0.0, 0.0, -801.0, -3.0, -1e-20, np.inf, -np.inf, 1.0, -np.inf])
    got = _derivatives(_binary(name), a, b, order=2)
    np.testing.assert_array_equal(got[0], getattr(np, name)(a, b))
    finite = np.isfinite(a) & np.isfinite(b)
    k = mpmath.mpf(1) if name == "logaddexp" else mpmath.log(2)
    D = [k * (mpmath.mpf(u) - mpmath.mpf(v)) for u, v in zip(a[finite], b[finite])]
    s = [1 / (1 + mpmath.exp(-d)) for d in D]
    t = [1 / (1 + mpmath.exp(d)) for d in D]  # 1 - s, without cancelling
    # sigmoid(x) for x = (a - b) k rounded: relative error |x| ulps
    rtol = 2.0 ** -52 * (1 + np.abs([float(d) for d in D]))
    _assert_relative(got[1][finite], s, rtol, "d/da")
    _assert_relative(got[2][finite], [k * p * q for p, q in zip(s, t)], 2 * rtol, "d2/da2")
    # a tie splits evenly, also at equal infinities; a = inf > b takes it all
    np.testing.assert_array_equal(got[1][~finite], [0.5, 0.5, 1.0, 1.0])
    assert got[2][0] == float(k) / 4


def test_exp2_accuracy():
    x = np.array([-1000.0, -3.3, 0.0, 0.5, 52.7, 1000.0])
    got = _derivatives(_unary("exp2"), x, order=2)
    ln2 = mpmath.log(2)
    for k in range(3):
        _assert_relative(got[k], [ln2 ** k * mpmath.power(2, mpmath.mpf(v)) for v in x],
                         3e-16 * (k + 1), f"order {k}")


# ---- batching and sympy ----------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,attrs", [("exp2", {}), ("sinc", {}), ("sinc", {"order": 2})])
def test_unary_batching(name: str, attrs, shape):
    rng = np.random.default_rng(2)
    check_batching(_unary(name, **attrs), rng.uniform(-2, 2, shape), batched=(True,))
    check_vmap(_unary(name, **attrs), [rng.uniform(-2, 2, (3,) + shape)], (True,))


@pytest.mark.parametrize("flags", [(True, False), (False, True), (True, True)], ids=str)
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_batching(name: str, shapes, flags):
    rng = np.random.default_rng(6)
    stacks = [rng.uniform(0.3, 2.0, (3,) + s) if f else rng.uniform(0.3, 2.0, s)
              for s, f in zip(shapes, flags)]
    check_vmap(_binary(name), stacks, flags)


def test_sympy_forms():
    rng = np.random.default_rng(8)
    x = rng.uniform(-2, 2, (2, 3))
    for order in (0, 1, 2):
        assert_sympy_matches(_unary("sinc", order=order), x)
    assert_sympy_matches(_unary("exp2"), x)
    for name in BINARY:
        assert_sympy_matches(_binary(name), x, rng.uniform(-2, 2, (3,)))


def test_rows_document_their_conventions():
    assert "(0, 0)" in TABLE["hypot"].kink
    assert "tie" in TABLE["logaddexp"].kink
    assert all(row.doc for row in ROWS)


def test_float32_stays_float32():
    x = leaf("x", (3,), "float32")
    for node in (apply("sinc", (x,)), apply("sinc", (x,), {"order": 1}), N.unary("exp2", x),
                 apply("hypot", (x, x)), apply("hypot_ratio", (x, x)),
                 apply("logaddexp", (x, x))):
        value = evaluate([node], {"x": np.array([0.0, 0.5, 2.0], dtype=np.float32)})[0]
        assert node.dtype == "float32" and value.dtype == np.float32, node.op



@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_nan_operands_get_exactly_zero_at_every_order(name: str):
    # sqrt(y) is NaN for y < 0 and fmax passes over it: y gets 0, not 0 * nan
    x, y = leaf("x", (4,), "float64"), leaf("y", (4,), "float64")
    out = apply(name, (N.unary("sqrt", y), x))
    values = {"x": np.array([0.5, 2.0, np.nan, 1.0]), "y": np.array([1.0, -3.0, -1.0, 1.0])}
    gx, gy = grad([out], [x, y])
    (gyy,) = grad([gy], [y])
    assert grad([gx], [y]) == [None]  # y reaches gx only through comparisons
    got = evaluate([out, gx, gy, gyy], values)
    big = name == "fmax"
    with np.errstate(invalid="ignore"):
        roots = np.sqrt(values["y"])
    np.testing.assert_array_equal(got[0], getattr(np, name)(roots, values["x"]))
    np.testing.assert_array_equal(got[1], [0.0 if big else 1.0, 1.0, 0.0, 0.5])
    np.testing.assert_array_equal(got[2], [0.5 if big else 0.0, 0.0, 0.0, 0.25])
    np.testing.assert_array_equal(got[3], [-0.25 if big else 0.0, 0.0, 0.0, -0.125])
    from gradcli.engine.autodiff import jvp

    (t,) = jvp([out], {id(x): leaf("tx", (4,), "float64"), id(y): leaf("ty", (4,), "float64")})
    tangent = evaluate([t], {**values, "tx": np.full(4, 2.0), "ty": np.full(4, 4.0)})[0]
    # sqrt' ty = 2 = tx at 0, x alone at 1, both NaN at 2, a tie at 3: (2 + 2) / 2
    np.testing.assert_array_equal(tangent, [2.0, 2.0, 0.0, 2.0])
