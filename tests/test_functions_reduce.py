"""Reductions: values against numpy for every axis/keepdims form, first and
second derivatives against finite differences, ties, zeros and extremes."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from exact import assert_rounded, assert_sum_of_products, exact
from fdcheck import check_derivatives
from test_functions_support import CTX32, build, builder, gradients, rand, value

from gradcli.engine.graph import leaf
from gradcli.errors import ShapeError, SpecError


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _norm(x, axis=None, keepdims=False):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "logsumexp": _logsumexp, "norm": _norm, "var": np.var, "std": np.std,
}
CASES = [((5,), None), ((5,), 0), ((2, 3), None), ((2, 3), 1), ((2, 3), -2),
         ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, 1)), ((2, 3, 4), ()), ((7, 3), 0)]


def _axis_kw(axis):
    return {} if axis is None else {"axis": axis}


def check_reduction(name, got, x, axis=None, keepdims=False, ddof=0):
    """`got` is reduction `name` of x: max and min exactly (they select), the
    others against the exact value (or numpy's logsumexp), within the rounding
    bound of their sums (tests/exact.py)."""
    kw = {"axis": axis, "keepdims": keepdims}
    ref = REDUCTIONS[name](x, **kw, **({"ddof": ddof} if ddof else {}))
    assert got.shape == np.shape(ref), (name, got.shape, np.shape(ref))
    n = np.sum(np.ones(x.shape), **kw)
    if name in ("max", "min"):
        np.testing.assert_array_equal(got, ref)
    elif name in ("sum", "prod"):
        assert_sum_of_products(got, partial(REDUCTIONS[name], **kw), x)
    elif name == "mean":
        assert_sum_of_products(got, partial(np.mean, **kw), x, ops=n + 2)
    elif name == "norm":  # got² is the sum of squares, up to its rounding and the root's
        assert_sum_of_products(exact(got) ** 2, lambda v: np.sum(v * v, **kw), x, more_ops=2)
    elif name in ("var", "std"):
        # Σ|terms| of var = mean(x²) - mean(x)², scaled by n / (n - ddof); two passes
        # of n sums, a subtraction, a square and a division; std: got² = var
        variance = np.var(exact(x), **kw, ddof=ddof)
        magnitude = (np.mean(x * x, **kw) + np.mean(np.abs(x), **kw) ** 2) * n / (n - ddof)
        square = exact(got) ** 2 if name == "std" else got
        assert_rounded(square, variance, magnitude, 2 * n + 4 + 2 * (name == "std"), what=name)
    else:  # logsumexp: Σ|terms| of max + log(Σ exp(x - max)), each exp relative to 1
        magnitude = 1 + np.abs(ref) + 2 * np.max(np.abs(x), **kw)
        assert_rounded(got, ref, magnitude, n + 4, what=name)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_values(name, shape, axis, keepdims):
    x = rand(shape, 4, 0.5, 2.0)
    check_reduction(name, value(name, x, axis=axis, keepdims=keepdims), x, axis, keepdims)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_derivatives(name, shape, axis, keepdims):
    # distinct values (no ties for max/min), away from zero (prod of 0s is fine
    # too, tested below), sign-mixed
    x = rand(shape, 5, 0.5, 2.0) * np.where(np.arange(np.prod(shape)) % 3 == 0, -1, 1
                                            ).reshape(shape)
    check_derivatives(builder(name, **_axis_kw(axis), keepdims=keepdims), x)


def test_default_axis_reduces_everything():
    x = rand((2, 3), 1)
    for name in REDUCTIONS:
        assert value(name, x).shape == ()
        check_reduction(name, value(name, x), x)


def test_reductions_of_a_scalar():
    x = np.array(-1.5)
    for name in REDUCTIONS:
        check_reduction(name, value(name, x), x)
        if name not in ("std", "var"):  # constant 0 for a scalar: checked below
            check_derivatives(builder(name), np.array(1.25))
    for name in ("std", "var"):
        (g,) = gradients(builder(name), x)
        assert float(g) == 0.0


def test_var_std_ddof():
    x = rand((4, 3), 2)
    check_reduction("var", value("var", x, axis=0, ddof=1), x, axis=0, ddof=1)
    check_reduction("std", value("std", x, ddof=1), x, ddof=1)
    check_derivatives(builder("std", axis=1, ddof=1), x)


# ---- prod ----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_prod_tree_any_length(n):
    x = rand((2, n), n, 0.5, 1.5)
    check_reduction("prod", value("prod", x, axis=1), x, axis=1)
    check_derivatives(builder("prod", axis=1), x)


def test_prod_with_zeros_has_exact_derivatives():
    x = np.array([2.0, 0.0, 3.0, 4.0, 0.5])
    (g,) = gradients(builder("prod"), x)
    assert g.tolist() == [0.0, 12.0, 0.0, 0.0, 0.0]
    check_derivatives(builder("prod"), x)  # second order included: no 0/0
    x2 = np.array([0.0, 0.0, 3.0])
    (g2,) = gradients(builder("prod"), x2)
    assert g2.tolist() == [0.0, 0.0, 0.0]


def test_prod_of_empty_is_one():
    assert value("prod", np.zeros((2, 0)), axis=1).tolist() == [1.0, 1.0]


# ---- max / min ties ------------------------------------------------------------------

def test_max_min_ties_split_evenly():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    (g,) = gradients(builder("max"), x)
    assert g.tolist() == [0.0, 0.5, 0.5, 0.0]
    y = np.array([[1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])
    (g,) = gradients(builder("min", axis=1), y)
    np.testing.assert_array_equal(g, [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, 0.5]])


def test_max_of_empty_is_an_error():
    with pytest.raises(ShapeError, match="max: cannot reduce zero elements"):
        build("max", leaf("x", (0, 3), "float64"), axis=0)
    assert build("max", leaf("x", (0, 3), "float64"), axis=1).shape == (0,)


# ---- logsumexp -----------------------------------------------------------------------

def test_logsumexp_at_extremes():
    assert float(value("logsumexp", np.array([1000.0, 1000.0]))) == 1000.0 + math.log(2.0)
    assert float(value("logsumexp", np.array([-1000.0, -1000.0]))) == -1000.0 + math.log(2.0)
    assert float(value("logsumexp", np.array([-np.inf, -np.inf]))) == -np.inf
    assert float(value("logsumexp", np.array([np.inf, 0.0]))) == np.inf
    (g,) = gradients(builder("logsumexp"), np.array([1000.0, 1000.0, -1000.0]))
    assert g.tolist() == [0.5, 0.5, 0.0]
    (h,) = gradients(builder("logsumexp"), np.array([1000.0, 1000.0]), order=2)
    assert np.all(np.isfinite(h))


def test_logsumexp_partly_minus_inf_slices():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    assert value("logsumexp", x, axis=1).tolist() == [-np.inf, 0.0]


# ---- norm and std --------------------------------------------------------------------

def test_norm_does_not_overflow_or_underflow():
    got = float(value("norm", np.array([1e200, 1e200])))
    assert got == pytest.approx(math.sqrt(2) * 1e200, rel=1e-15)
    assert float(value("norm", np.array([3e-200, 4e-200]))) == pytest.approx(5e-200, rel=1e-15)
    assert float(value("norm", np.array([3e-310, 4e-310]))) == pytest.approx(5e-310, rel=1e-6)
    (g,) = gradients(builder("norm"), np.array([1e200, 1e200]))
    np.testing.assert_allclose(g, [1 / math.sqrt(2)] * 2, rtol=1e-15)


def test_norm_of_inf_and_nan():
    assert float(value("norm", np.array([np.inf, 1.0]))) == np.inf
    assert np.isnan(value("norm", np.array([np.nan, 1.0])))


def test_norm_derivative_at_zero_is_zero():
    for order in (1, 2):
        (g,) = gradients(builder("norm"), np.zeros(3), order=order)
        assert g.tolist() == [0.0, 0.0, 0.0]
    (g,) = gradients(builder("norm", axis=1), np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15)


def test_std_of_a_constant_has_derivative_zero():
    for order in (1, 2):
        (g,) = gradients(builder("std"), np.full(4, 2.5), order=order)
        assert g.tolist() == [0.0] * 4
    (g,) = gradients(builder("var"), np.full(4, 2.5))
    assert g.tolist() == [0.0] * 4


def test_mean_of_empty_is_nan():
    assert np.isnan(value("mean", np.zeros((0,))))


# ---- argument handling ----------------------------------------------------------------

def test_reductions_reject_bad_axes():
    x = leaf("x", (2, 3), "float64")
    with pytest.raises(ShapeError, match="sum: axis=2 is out of range"):
        build("sum", x, axis=2)
    with pytest.raises(ShapeError, match="mean: axis=.* repeats an axis"):
        build("mean", x, axis=(1, -1))
    with pytest.raises(SpecError, match="argument 'axis' must be an integer"):
        build("max", x, axis="rows")
    with pytest.raises(SpecError, match="argument 'keepdims' must be True or False"):
        build("norm", x, keepdims=1)
    with pytest.raises(SpecError, match=r"sum\(x, axis=None, keepdims=False\)"):
        build("sum", x, axes=0)


def test_integer_sums_stay_integer_and_means_are_float():
    from gradcli.engine.graph import const

    n = const(np.array([1, 2, 4]))
    assert build("sum", n).dtype == "int64" and build("max", n).dtype == "int64"
    assert value("prod", np.array([1, 2, 4])) == 8
    assert build("mean", n).dtype == "float64"
    assert build("mean", n, ctx=CTX32).dtype == "float32"
    x32 = leaf("x", (3,), "float32")
    for name in REDUCTIONS:
        assert build(name, x32, ctx=CTX32).dtype == "float32", name
