"""Linear-algebra rows: derivatives (1st and 2nd order) against finite
differences, batching rules against per-slice evaluation, sympy lowering
against the numpy forward, and shape errors."""

import itertools
from functools import partial

import numpy as np
import pytest
import sympy
from exact import LAPACK, assert_det, assert_sum_of_products
from fdcheck import check_batching, check_derivatives

from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import const, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import linalg as L
from gradcli.engine.ops import nodes as N
from gradcli.errors import ShapeError

RNG = np.random.default_rng(20240611)


def normal(*shape):
    return RNG.standard_normal(shape)


def well_conditioned(*shape):
    """Random matrices plus 3·I: far from singular, so differences are accurate."""
    return normal(*shape) + 3.0 * np.eye(shape[-1])


def einsum_prim(subscripts):
    """The einsum primitive itself (the builder rewrites single operands)."""
    return lambda *xs: apply("einsum", xs, {"subscripts": subscripts})


def flag_combinations(n):
    return [flags for flags in itertools.product((False, True), repeat=n) if any(flags)]


# ---- matmul ----------------------------------------------------------------------

MATMUL_SHAPES = [((2, 3), (3, 4)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 2, 2), (2, 5)),
                 ((1, 3), (3, 1)), ((4, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_derivatives(sa, sb):
    check_derivatives(N.matmul, normal(*sa), normal(*sb))


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES + [((3, 4), (5, 4, 2)), ((5, 2, 3), (3, 4))])
@pytest.mark.parametrize("flags", flag_combinations(2))
def test_matmul_batching(sa, sb, flags):
    check_batching(N.matmul, normal(*sa), normal(*sb), batched=flags)


def test_matmul_forward_and_dtype():
    a, b = normal(2, 1, 3, 4), normal(5, 4, 2)
    out = N.matmul(leaf("a", a.shape, "float64"), leaf("b", b.shape, "float64"))
    assert out.shape == (2, 5, 3, 2)
    assert_sum_of_products(evaluate([out], {"a": a, "b": b})[0], np.matmul, a, b)
    # a float32 problem stays float32 when an integer operand joins it
    x = leaf("x", (2, 2), "float32")
    k = leaf("k", (2, 2), "int64")
    node = N.matmul(x, k)
    assert node.dtype == "float32"
    value = evaluate([node], {"x": np.ones((2, 2), "float32"), "k": np.ones((2, 2), "int64")})
    assert value[0].dtype == np.float32


@pytest.mark.parametrize("sa,sb", [((3,), (3, 4)), ((2, 3), (3,)), ((), (2, 2)),
                                   ((2, 3), (4, 2)), ((2, 2, 3), (3, 3, 4))])
def test_matmul_shape_errors(sa, sb):
    with pytest.raises(ShapeError) as info:
        N.matmul(leaf("a", sa, "float64"), leaf("b", sb, "float64"))
    assert str(sa) in str(info.value) and str(sb) in str(info.value)


# ---- einsum ----------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("ij->j", [(3, 2)]),
    ("ij->ji", [(3, 2)]),
    ("ijk,ik->j", [(2, 3, 4), (2, 4)]),
    ("ij,kl->ijlk", [(2, 3), (2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("abc,cd,b->ad", [(2, 3, 2), (2, 3), (3,)]),
    (",ij->ji", [(), (2, 3)]),
    ("ij,j->", [(2, 3), (3,)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES)
def test_einsum_derivatives(subscripts, shapes):
    check_derivatives(einsum_prim(subscripts), *(normal(*s) for s in shapes))


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES)
def test_einsum_forward_matches_numpy(subscripts, shapes):
    arrays = [normal(*s) for s in shapes]
    xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
    for out in (einsum_prim(subscripts)(*xs), L.einsum(subscripts, *xs)):
        got = evaluate([out], {f"x{i}": a for i, a in enumerate(arrays)})[0]
        assert got.shape == np.einsum(subscripts, *arrays).shape
        assert_sum_of_products(got, partial(np.einsum, subscripts), *arrays, what=subscripts)


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES)
def test_einsum_batching(subscripts, shapes):
    for flags in flag_combinations(len(shapes)):
        check_batching(einsum_prim(subscripts), *(normal(*s) for s in shapes), batched=flags)


def test_einsum_builder_rewrites_single_operand():
    x = leaf("x", (2, 3, 4), "float64")
    out = L.einsum("ijk->ki", x)
    assert out.op == "transpose" and out.inputs[0].op == "sum"
    assert out.shape == (4, 2)
    assert L.einsum("ij->ij", leaf("y", (2, 3), "float64")).op == "input"
    assert L.einsum("ij,jk->ik", leaf("a", (2, 3), "float64"),
                    leaf("b", (3, 1), "float64")).op == "einsum"


def test_einsum_vjp_broadcasts_letters_of_one_operand():
    # 'j' is summed inside operand 0 alone: its cotangent is constant along j
    a, b = leaf("a", (2, 3), "float64"), leaf("b", (2,), "float64")
    out = einsum_prim("ij,i->i")(a, b)
    (ga,) = TABLE["einsum"].vjp(leaf("g", (2,), "float64"), out, (True, False))[:1]
    assert ga.shape == (2, 3) and ga.op == "broadcast_to"
    g, bv = normal(2), normal(2)
    got = evaluate([ga], {"g": g, "b": bv})[0]
    np.testing.assert_allclose(got, np.repeat((g * bv)[:, None], 3, axis=1), rtol=1e-14)


@pytest.mark.parametrize("subscripts,shapes,needle", [
    ("ij,jk", [(2, 3), (3, 4)], "->"),
    ("ij->i->", [(2, 3)], "->"),
    ("...i->i", [(2, 3)], "..."),
    ("ii->i", [(3, 3)], "repeats"),
    ("ij->ii", [(3, 3)], "repeats"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "size"),
    ("ij,jk->ik", [(2, 3)], "operand"),
    ("ijk->i", [(2, 3)], "axes"),
    ("ij->k", [(2, 3)], "no operand"),
    ("i1->i", [(2, 3)], "letters"),
])
def test_einsum_shape_errors(subscripts, shapes, needle):
    xs = [leaf(f"x{i}", s, "float64") for i, s in enumerate(shapes)]
    with pytest.raises(ShapeError, match=needle):
        apply("einsum", xs, {"subscripts": subscripts})
    with pytest.raises(ShapeError):
        L.einsum(subscripts, *xs)


# ---- inv, det, solve ---------------------------------------------------------------

SQUARE_SHAPES = [(3, 3), (1, 1), (2, 4, 4), (2, 1, 2, 2)]


@pytest.mark.parametrize("shape", SQUARE_SHAPES)
def test_inv_derivatives(shape):
    check_derivatives(L.inv, well_conditioned(*shape))


@pytest.mark.parametrize("shape", SQUARE_SHAPES)
def test_det_derivatives(shape):
    check_derivatives(L.det, well_conditioned(*shape))


def test_det_forward_and_shape():
    a = well_conditioned(2, 3, 3)
    out = L.det(leaf("a", a.shape, "float64"))
    assert out.shape == (2,)
    assert_det(evaluate([out], {"a": a})[0], a)


def test_det_of_a_scaled_identity_has_the_textbook_gradient():
    # d det(A)/dA = det(A) A^-T; for A = 2·I (3x3): 8 · I/2 = 4·I
    a = leaf("a", (3, 3), "float64")
    (ga,) = TABLE["det"].vjp(N.ones_like(L.det(a)), L.det(a), (True,))
    np.testing.assert_allclose(evaluate([ga], {"a": 2 * np.eye(3)})[0], 4 * np.eye(3))


SOLVE_SHAPES = [((3, 3), (3, 2)), ((3, 3), (3, 1)), ((2, 1, 3, 3), (4, 3, 2)),
                ((3, 3), (2, 3, 2)), ((2, 3, 3), (3, 4))]


@pytest.mark.parametrize("sa,sb", SOLVE_SHAPES)
def test_solve_derivatives(sa, sb):
    check_derivatives(L.solve, well_conditioned(*sa), normal(*sb))


@pytest.mark.parametrize("sa,sb", SOLVE_SHAPES)
def test_solve_forward(sa, sb):
    a, b = well_conditioned(*sa), normal(*sb)
    out = L.solve(leaf("a", sa, "float64"), leaf("b", sb, "float64"))
    x = evaluate([out], {"a": a, "b": b})[0]
    assert x.shape == out.shape
    # the residual: a @ x = b up to LU's rounding
    assert_sum_of_products(np.broadcast_to(b, x.shape), np.matmul, a, x, k=LAPACK, what="solve")


@pytest.mark.parametrize("build,shapes", [
    (L.inv, [(3, 3)]), (L.inv, [(2, 2, 2)]), (L.det, [(3, 3)]), (L.det, [(2, 1, 2, 2)]),
    *[(L.solve, list(s)) for s in SOLVE_SHAPES + [((3, 3), (5, 4, 3, 2))]],
])
def test_linalg_batching(build, shapes):
    for flags in flag_combinations(len(shapes)):
        check_batching(build, *(well_conditioned(*shapes[0]),
                                *(normal(*s) for s in shapes[1:])), batched=flags)


@pytest.mark.parametrize("build,shapes", [
    (L.inv, [(3,)]), (L.inv, [(2, 3)]), (L.det, [(3, 2)]), (L.det, [()]),
    (L.solve, [(3, 3), (3,)]), (L.solve, [(2, 3), (3, 1)]), (L.solve, [(3, 3), (2, 1)]),
    (L.solve, [(2, 3, 3), (3, 3, 1)]),
])
def test_linalg_shape_errors(build, shapes):
    with pytest.raises(ShapeError):
        build(*(leaf(f"x{i}", s, "float64") for i, s in enumerate(shapes)))


def test_integer_matrices_give_float_results():
    k = leaf("k", (2, 2), "int64")
    assert L.inv(k).dtype == "float64" and L.det(k).dtype == "float64"
    x = evaluate([L.inv(k)], {"k": np.array([[2, 0], [0, 4]])})[0]
    np.testing.assert_array_equal(x, [[0.5, 0], [0, 0.25]])


# ---- sympy lowering ----------------------------------------------------------------

def to_sympy(array):
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(array.shape):
        out[index] = sympy.Float(float(array[index]))
    return out


SYMPY_CASES = [
    ("matmul", {}, [normal(2, 1, 3, 4), normal(5, 4, 2)]),
    ("matmul", {}, [normal(2, 3), normal(3, 2)]),
    ("einsum", {"subscripts": "ij,jk->ik"}, [normal(2, 3), normal(3, 4)]),
    ("einsum", {"subscripts": "i,i->"}, [normal(4), normal(4)]),
    ("einsum", {"subscripts": "ijk,ik->j"}, [normal(2, 3, 4), normal(2, 4)]),
    ("einsum", {"subscripts": "ij,jk,kl->il"}, [normal(2, 3), normal(3, 4), normal(4, 2)]),
    ("einsum", {"subscripts": "ij,kl->ijlk"}, [normal(2, 3), normal(2, 2)]),
    ("inv", {}, [well_conditioned(2, 3, 3)]),
    ("det", {}, [well_conditioned(2, 1, 3, 3)]),
    ("det", {}, [well_conditioned(3, 3)]),
    ("solve", {}, [well_conditioned(2, 1, 3, 3), normal(4, 3, 2)]),
]


@pytest.mark.parametrize("op,attrs,arrays", SYMPY_CASES)
def test_sympy_rule_matches_forward(op, attrs, arrays):
    row = TABLE[op]
    expected = np.asarray(row.forward(*arrays, **attrs))
    symbolic = row.sympy(*(to_sympy(a) for a in arrays), **attrs)
    assert symbolic.shape == expected.shape
    assert all(isinstance(v, sympy.Expr) for v in symbolic.ravel())
    np.testing.assert_allclose(np.asarray(symbolic, dtype=float), expected,
                               rtol=1e-12, atol=1e-12)


def test_sympy_rules_are_symbolic():
    x, y = sympy.symbols("x y")
    a = np.array([[x, 1], [0, y]], dtype=object)
    assert sympy.simplify(TABLE["det"].sympy(a)[()] - x * y) == 0
    inverse = TABLE["inv"].sympy(a)
    assert sympy.simplify(inverse[0, 1] + 1 / (x * y)) == 0
    dot = TABLE["einsum"].sympy(np.array([x, y], dtype=object),
                                np.array([y, x], dtype=object), subscripts="i,i->")
    assert sympy.expand(dot[()] - 2 * x * y) == 0


def test_singular_matrices_give_nan_not_an_exception():
    # one singular matrix in a stack poisons only its own slice
    a = np.stack([2 * np.eye(2), np.zeros((2, 2))])
    b = np.ones((2, 2, 1))
    a_leaf, b_leaf = leaf("a", a.shape, "float64"), leaf("b", b.shape, "float64")
    inverse, x, d = evaluate([L.inv(a_leaf), L.solve(a_leaf, b_leaf), L.det(a_leaf)],
                             {"a": a, "b": b})
    np.testing.assert_array_equal(inverse[0], 0.5 * np.eye(2))
    assert np.isnan(inverse[1]).all()
    np.testing.assert_array_equal(x[0], 0.5 * np.ones((2, 1)))
    assert np.isnan(x[1]).all()
    np.testing.assert_array_equal(d, [4.0, 0.0])
    # constant folding at build time must not raise either
    assert np.isnan(const_value_of(L.inv(const(np.zeros((2, 2)))))).all()


def const_value_of(node):
    assert node.op == "const"
    return node.attrs["value"]
