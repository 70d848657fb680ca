"""Products and matrix functions: numpy's semantics (values and shapes) and
derivatives against finite differences."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from exact import LAPACK, assert_det, assert_sum_of_products, exact, leibniz_det
from fdcheck import check_derivatives
from test_functions_support import CTX, CTX32, build, builder, gradients, rand, value

from gradcli.engine.graph import leaf
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions import OPERATORS

MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3, 4)), ((3,), (5, 3, 2)), ((5, 2, 3), (5, 3, 1)),
                 ((1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul(shapes):
    a, b = rand(shapes[0], 1), rand(shapes[1], 2)
    got = value("matmul", a, b)
    assert got.shape == np.matmul(a, b).shape
    assert_sum_of_products(got, np.matmul, a, b)
    check_derivatives(builder("matmul"), a, b)
    check_derivatives(lambda x, y: OPERATORS["MatMult"](CTX, x, y), a, b, order=1)


DOT_SHAPES = [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
              ((2, 2, 3), (4, 3, 5)), ((2, 3), (4, 3, 5)), ((2, 2, 3), (3,))]


@pytest.mark.parametrize("shapes", DOT_SHAPES)
def test_dot(shapes):
    a, b = rand(shapes[0], 3), rand(shapes[1], 4)
    got = value("dot", a, b)
    assert got.shape == np.dot(a, b).shape
    assert_sum_of_products(got, np.dot, a, b)
    check_derivatives(builder("dot"), a, b)


TENSORDOT = [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0),
             ((2, 3, 4), (4, 2, 6), ([0, 2], [1, 0])), ((3, 4), (4, 3), ((1, 0), (0, 1))),
             ((2, 3), (3, 2), (-1, 0))]


@pytest.mark.parametrize("a_shape,b_shape,axes", TENSORDOT)
def test_tensordot(a_shape, b_shape, axes):
    a, b = rand(a_shape, 5), rand(b_shape, 6)
    ref = np.tensordot(a, b, axes=axes)
    got = value("tensordot", a, b, axes=axes)
    assert got.shape == ref.shape
    assert_sum_of_products(got, lambda x, y: np.tensordot(x, y, axes=axes), a, b)
    check_derivatives(builder("tensordot", axes=axes), a, b)


def test_tensordot_default_axes_is_two():
    a, b = rand((2, 3, 4), 1), rand((3, 4, 2), 2)
    assert_sum_of_products(value("tensordot", a, b), np.tensordot, a, b)


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(2, 3, 2)]),
    ("bij,bjk->bik", [(4, 2, 3), (4, 3, 2)]),
    ("...ij,...jk->...ik", [(4, 2, 3), (3, 2)]),
    ("...i,...i->...", [(2, 1, 3), (5, 3)]),
    ("i...,i...", [(2, 1, 3), (2, 3)]),
    ("...ii->...i", [(4, 2, 2)]),
    ("aB,Bc", [(2, 3), (3, 4)]),
    ("aB", [(2, 3)]),
    ("ij,j->i", [(2, 1), (5,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    (" ij , jk -> ik ", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM)
def test_einsum(subscripts, shapes):
    ops = [rand(s, 7 + k) for k, s in enumerate(shapes)]
    ref = np.einsum(subscripts.replace(" ", ""), *ops)
    got = value("einsum", subscripts, *ops)
    assert got.shape == np.shape(ref)
    assert_sum_of_products(got, lambda *xs: np.einsum(subscripts.replace(" ", ""), *xs), *ops)
    check_derivatives(lambda *xs: build("einsum", subscripts, *xs), *ops)


@pytest.mark.parametrize("subscripts,shapes,message", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "letter 'j' has size 3 and 4"),
    ("ij->k", [(2, 3)], "output letter"),
    ("ij->ii", [(2, 3)], "names a letter twice"),
    ("ij,jk", [(2, 3)], "name 2 operand"),
    ("ij", [(2, 3, 4)], "name 2 axes"),
    ("...i->i", [(2, 3)], "must name them with '...'"),
    ("i1->i", [(2, 2)], "subscripts are letters"),
    ("ii->i", [(2, 3)], "letter 'i' has size 2 and 3"),
    ("i...j...", [(2, 3)], "'...' may appear once"),
])
def test_einsum_errors(subscripts, shapes, message):
    ops = [leaf(f"x{k}", s, "float64") for k, s in enumerate(shapes)]
    with pytest.raises(SpecError, match=message) as info:
        build("einsum", subscripts, *ops)
    assert str(info.value).startswith("einsum: ")


def test_outer_trace_diag():
    a, b = rand((3,), 1), rand((2, 2), 2)
    assert_sum_of_products(value("outer", a, b), np.outer, a, b)
    check_derivatives(builder("outer"), a, b)
    m = rand((3, 4), 3)
    for kw in ({}, {"offset": 1}, {"offset": -2}, {"offset": 5}):
        assert_sum_of_products(value("trace", m, **kw), partial(np.trace, **kw), m)
    t = rand((2, 3, 3, 4), 4)
    assert_sum_of_products(value("trace", t, axis1=1, axis2=-2),
                           lambda x: np.trace(x, axis1=1, axis2=-2), t)
    check_derivatives(builder("trace", offset=1, axis1=2, axis2=1), t)
    for k in (0, 1, -1, 3):
        np.testing.assert_array_equal(value("diag", m, k=k), np.diag(m, k=k))
        np.testing.assert_array_equal(value("diag", a, k=k), np.diag(a, k=k))
    check_derivatives(builder("diag", k=1), m)
    check_derivatives(builder("diag", k=-1), a)


def test_det_inv_solve_against_numpy():
    a = rand((3, 3), 1) + 3 * np.eye(3)
    stack = rand((2, 3, 3), 2) + 3 * np.eye(3)
    b1, b2 = rand((3,), 3), rand((3, 2), 4)
    assert_det(value("det", a), a)
    assert_det(value("det", stack), stack)
    # inverses and solutions by their residuals: stack @ inv = I, lhs @ x = rhs
    inverse = value("inv", stack)
    assert inverse.shape == stack.shape
    assert_sum_of_products(np.broadcast_to(np.eye(3), stack.shape), np.matmul, stack, inverse,
                           k=LAPACK, what="inv")
    for lhs, rhs in ((a, b1), (a, b2), (stack, b1), (stack, b2)):
        got = value("solve", lhs, rhs)
        assert got.shape == np.linalg.solve(lhs, rhs).shape
        product = partial(np.einsum, "...ij,...j->...i") if rhs.ndim == 1 else np.matmul
        assert_sum_of_products(np.broadcast_to(rhs, got.shape), product, lhs, got, k=LAPACK,
                               what="solve")


@pytest.mark.parametrize("name,shapes", [("det", [(3, 3)]), ("det", [(2, 3, 3)]),
                                         ("inv", [(3, 3)]), ("inv", [(2, 2, 2)]),
                                         ("solve", [(3, 3), (3,)]), ("solve", [(3, 3), (3, 2)]),
                                         ("solve", [(2, 3, 3), (3,)])])
def test_det_inv_solve_derivatives(name, shapes):
    ops = [rand(s, 10 + k) + (3 * np.eye(s[-1]) if k == 0 else 0)
           for k, s in enumerate(shapes)]
    check_derivatives(builder(name), *ops)


def test_det_gradient_is_cofactor_matrix():
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    (g,) = gradients(builder("det"), a)
    # cofactors: a @ g.T = det(a)·I (exactly 5.5·I), up to the rounding of the inverse
    assert_sum_of_products(leibniz_det(exact(a)) * np.eye(2, dtype=int), lambda x, y: x @ y.T,
                           a, g, k=LAPACK, what="a @ grad.T")


def test_linalg_shape_errors_name_the_function():
    x, y = leaf("x", (2, 3), "float64"), leaf("y", (4,), "float64")
    with pytest.raises(ShapeError, match=r"^matmul: shapes \(2, 3\) and \(4,\) do not fit"):
        build("matmul", x, y)
    with pytest.raises(ShapeError, match=r"^operator '@': shapes \(2, 3\) and \(4,\)"):
        OPERATORS["MatMult"](CTX, x, y)
    with pytest.raises(ShapeError, match="^det: needs a square matrix"):
        build("det", x)
    with pytest.raises(ShapeError, match="^solve: .* does not fit"):
        build("solve", leaf("a", (3, 3), "float64"), y)
    with pytest.raises(ShapeError, match="^diag: needs a 1-D array"):
        build("diag", leaf("z", (2, 2, 2), "float64"))
    with pytest.raises(SpecError, match="argument 'axes'"):
        build("tensordot", x, x, axes="all")


def test_singular_matrix_gives_nan_not_an_exception():
    # The engine evaluates with numpy errors ignored: a singular inverse is
    # nan (reported as a non-finite result), also when folded at build time.
    assert np.isnan(value("inv", np.array([[1.0, 2.0], [2.0, 4.0]]))).all()
    assert value("det", np.array([[1.0, 2.0], [2.0, 4.0]])) == 0.0


def test_float32_and_integer_operands():
    a32 = leaf("a", (2, 2), "float32")
    for name in ("det", "inv"):
        assert build(name, a32, ctx=CTX32).dtype == "float32"
    n = leaf("n", (2, 2), "int64")
    assert build("det", n, ctx=CTX32).dtype == "float32"
    assert build("matmul", n, a32, ctx=CTX32).dtype == "float32"
    assert build("matmul", n, n).dtype == "int64"
