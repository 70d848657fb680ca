"""norm(x, ord, axis), trace with offsets, diagonal, triu/tril, kron, cross,
inner: numpy's values and shapes, first and second derivatives against
finite differences, conventions at zeros and ties, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fdcheck import check_derivatives
from rounding import assert_within
from test_functions_support import build, builder, gradients, rand, value

from gradcli.engine.graph import leaf
from gradcli.errors import ShapeError, SpecError

INF = math.inf

VECTOR_ORDS = [None, 2, 1, INF, -INF, 3, 0.5, -1.5]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, INF, -INF]


@pytest.mark.parametrize("order", VECTOR_ORDS + [0])
@pytest.mark.parametrize("shape,axis", [((5,), None), ((3, 4), 1), ((3, 4), 0),
                                        ((2, 3, 4), -1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norms(order, shape, axis, keepdims):
    x = rand(shape, 1)
    ref = np.linalg.norm(x, ord=order, axis=axis, keepdims=keepdims)
    got = value("norm", x, ord=order, axis=axis, keepdims=keepdims)
    assert got.shape == ref.shape
    # sums of |x|**p: no cancellation, so the rounding is relative to the result
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    if order != 0 and not keepdims:
        check_derivatives(builder("norm", ord=order, axis=axis), x)


@pytest.mark.parametrize("order", MATRIX_ORDS)
@pytest.mark.parametrize("shape,axis", [((3, 4), None), ((4, 3), (1, 0)), ((2, 3, 4), (1, 2)),
                                        ((3, 2, 4), (2, 0))])
def test_matrix_norms(order, shape, axis):
    x = rand(shape, 2)
    for keepdims in (False, True):
        ref = np.linalg.norm(x, ord=order, axis=axis, keepdims=keepdims)
        got = value("norm", x, ord=order, axis=axis, keepdims=keepdims)
        assert got.shape == ref.shape
        # sums of |x| or x**2, or singular values (accurate to eps * the largest)
        assert_within(got, ref, np.linalg.norm(x, ord=2 if order in (-2, "nuc") else order,
                                               axis=axis, keepdims=keepdims), terms=4)
    check_derivatives(builder("norm", ord=order, axis=axis), x)


def test_norm_conventions_at_zero_and_at_ties():
    zero = np.zeros(4)
    for order in (2, 3, 1, INF):
        (g,) = gradients(lambda x, o=order: build("norm", x, ord=o), zero)
        np.testing.assert_array_equal(g, np.zeros(4))
    # inf-norm: |x| ties split the derivative evenly
    (g,) = gradients(lambda x: build("norm", x, ord=INF), np.array([1.0, -1.0, 0.5]))
    np.testing.assert_array_equal(g, [0.5, -0.5, 0.0])
    # spectral norm of the identity: three tied singular values split evenly
    (g,) = gradients(lambda x: build("norm", x, ord=2), np.eye(3))
    assert_within(g, np.eye(3) / 3, 1.0, terms=3)


def test_p_norm_does_not_overflow():
    x = np.array([3e200, 4e200])
    assert float(value("norm", x, ord=3)) == pytest.approx(
        1e200 * (27 + 64) ** (1 / 3), rel=1e-14)


@pytest.mark.parametrize("kwargs,error,needle", [
    ({"ord": "fro"}, SpecError, "matrix norm"),
    ({"ord": "nuc", "axis": 0}, SpecError, "matrix norm"),
    ({"ord": 3, "axis": (0, 1)}, SpecError, "not a matrix norm"),
    ({"ord": "max"}, SpecError, "not a matrix norm"),
    ({"ord": 2, "axis": (0, 0)}, ShapeError, "same axis"),
    ({"ord": 1, "axis": (0, 1, 2)}, ShapeError, "one axis"),
    ({"ord": [1]}, SpecError, "must be a number"),
])
def test_norm_errors(kwargs, error, needle):
    x = leaf("x", (3, 4, 2) if "axis" in kwargs and kwargs["axis"] == (0, 1, 2) else
             ((4,) if kwargs.get("ord") == "fro" else (3, 4)), "float64")
    with pytest.raises(error, match=needle):
        build("norm", x, **kwargs)


def test_norm_of_a_3d_array_needs_axis_for_an_order():
    with pytest.raises(ShapeError, match="1-D or 2-D"):
        build("norm", leaf("x", (2, 3, 4), "float64"), ord=1)
    # ord=None keeps the 2-norm over every axis
    x = rand((2, 3, 4), 3)
    np.testing.assert_allclose(value("norm", x), np.linalg.norm(x), rtol=1e-14)  # no cancelling


# ---- trace, diagonal, triangles -------------------------------------------------------

@pytest.mark.parametrize("offset", [0, 1, -1, 2, -3, 5])
@pytest.mark.parametrize("shape,axes", [((3, 4), (0, 1)), ((2, 3, 4), (1, 2)),
                                        ((3, 2, 4), (2, 0))])
def test_trace_and_diagonal(offset, shape, axes):
    x = rand(shape, 4)
    kw = {"offset": offset, "axis1": axes[0], "axis2": axes[1]}
    assert_within(value("trace", x, **kw), np.trace(x, **kw), np.trace(np.abs(x), **kw),
                  terms=4)
    ref = np.diagonal(x, **kw)
    got = value("diagonal", x, **kw)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    check_derivatives(builder("trace", **kw), x)
    if ref.size:
        check_derivatives(builder("diagonal", **kw), x)


@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("k", [0, 1, -1, 3])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 3), (4,)])
def test_triangles(name, k, shape):
    x = rand(shape, 5)
    ref = getattr(np, name)(x, k)
    np.testing.assert_array_equal(value(name, x, k=k), ref)
    check_derivatives(builder(name, k=k), x)


def test_triangles_give_zero_above_an_infinity():
    x = np.array([[1.0, math.inf], [2.0, 3.0]])
    np.testing.assert_array_equal(value("tril", x), np.tril(x))


# ---- kron, cross, inner ---------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 2)), ((3,), (2,)), ((2, 2), (3,)),
                                   ((2,), (2, 3)), ((), (2, 2)), ((2, 1, 2), (2, 3))])
def test_kron(sa, sb):
    a, b = rand(sa, 6), rand(sb, 7)
    ref = np.kron(a, b)
    got = value("kron", a, b)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    check_derivatives(builder("kron"), a, b)


@pytest.mark.parametrize("sa,sb,kwargs", [
    ((3,), (3,), {}), ((4, 3), (3,), {}), ((2, 1, 3), (4, 3), {}),
    ((3, 2), (3, 2), {"axis": 0}), ((3, 2), (2, 3), {"axisa": 0, "axisb": 1}),
    ((2, 3), (2, 3), {"axisc": 0}),
])
def test_cross(sa, sb, kwargs):
    a, b = rand(sa, 8), rand(sb, 9)
    ref = np.cross(a, b, **kwargs)
    got = value("cross", a, b, **kwargs)
    assert got.shape == ref.shape
    assert_within(got, ref, 2 * np.max(np.abs(a)) * np.max(np.abs(b)), terms=2)
    check_derivatives(builder("cross", **kwargs), a, b)


def test_cross_errors():
    with pytest.raises(ShapeError, match="3 components"):
        build("cross", leaf("a", (2,), "float64"), leaf("b", (2,), "float64"))
    with pytest.raises(ShapeError, match="broadcast"):
        build("cross", leaf("a", (2, 3), "float64"), leaf("b", (4, 3), "float64"))


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)),
                                   ((2, 2, 3), (5, 3)), ((), (2, 3)), ((2,), ())])
def test_inner(sa, sb):
    a, b = rand(sa, 10), rand(sb, 11)
    ref = np.inner(a, b)
    got = value("inner", a, b)
    assert got.shape == np.shape(ref)
    assert_within(got, ref, np.inner(np.abs(a), np.abs(b)), terms=max(sa[-1:] + (1,)))
    check_derivatives(builder("inner"), a, b)


def test_inner_size_mismatch():
    with pytest.raises(ShapeError):
        build("inner", leaf("a", (2, 3), "float64"), leaf("b", (4,), "float64"))
