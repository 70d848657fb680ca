"""Network functions with TensorFlow's semantics: values, derivatives
against finite differences, and finiteness at extreme logits."""

from __future__ import annotations

import numpy as np
import pytest
from exact import assert_rounded, exact
from fdcheck import check_derivatives
from test_functions_support import CTX32, build, builder, gradients, rand, value

from gradcli.engine.graph import const, leaf
from gradcli.errors import ShapeError, SpecError


def _log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _log_softmax_bound(x, axis=-1):
    """(Σ|terms|, roundings) of x - max - log Σ exp(x - max), per element: each
    exponential is within a rounding of itself, so the log of their n-term sum
    is within n roundings of 1.  Both the engine's and this file's reference
    stay within it (tests/exact.py); softmax's bound is this one times softmax."""
    m = np.max(x, axis=axis, keepdims=True)
    log_s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    n = np.sum(np.ones(x.shape), axis=axis, keepdims=True)
    return np.abs(x) + np.abs(m) + log_s + 1, n + 4


def _check_softmax(name, got, x, axis=-1):
    ref = _log_softmax(x, axis)
    magnitude, ops = _log_softmax_bound(x, axis)
    if name == "softmax":
        ref = np.exp(ref)
        magnitude = ref * magnitude
    assert_rounded(got, ref, magnitude, ops, what=name)


@pytest.mark.parametrize("shape,axis", [((4,), -1), ((2, 3), -1), ((2, 3), 0),
                                        ((2, 3, 4), 1), ((2, 3, 4), (1, 2))])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name, shape, axis):
    x = rand(shape, 1, -3, 3)
    _check_softmax(name, value(name, x, axis=axis), x, axis)
    check_derivatives(builder(name, axis=axis), x)


def test_softmax_defaults_to_last_axis():
    x = rand((2, 3), 2)
    _check_softmax("softmax", value("softmax", x), x)


def test_softmax_at_extreme_logits():
    x = np.array([[1000.0, -1000.0, 0.0]])
    assert value("log_softmax", x).tolist() == [[0.0, -2000.0, -1000.0]]
    assert value("softmax", x).tolist() == [[1.0, 0.0, 0.0]]
    for name in ("softmax", "log_softmax"):
        for order in (1, 2):
            (g,) = gradients(builder(name), x, order=order)
            assert np.all(np.isfinite(g)), (name, order)


def test_cross_entropy_tensorflow_semantics():
    logits = rand((4, 3), 3)
    labels = np.abs(rand((4, 3), 4))
    labels /= labels.sum(axis=1, keepdims=True)
    got = value("cross_entropy", labels, logits)
    assert got.shape == (4,)  # one loss per example
    magnitude, ops = _log_softmax_bound(logits)
    assert_rounded(got, -np.sum(labels * _log_softmax(logits), axis=-1),
                   np.sum(labels * magnitude, axis=-1), 2 * ops[:, 0] + 1, what="cross_entropy")
    got_kw = value("cross_entropy", labels=labels, logits=logits)
    np.testing.assert_array_equal(got, got_kw)
    check_derivatives(builder("cross_entropy"), labels, logits)
    # the gradient w.r.t. logits is softmax - labels (per example, labels summing to 1)
    _, g = gradients(builder("cross_entropy"), labels, logits)
    softmax = np.exp(_log_softmax(logits))
    assert_rounded(g, softmax - labels, softmax * magnitude + labels, ops + 2, what="gradient")


def test_sparse_cross_entropy_tensorflow_semantics():
    logits = rand((4, 3), 5)
    labels = np.array([0, 2, 1, 2])
    got = value("sparse_cross_entropy", labels, logits)
    magnitude, ops = _log_softmax_bound(logits)
    assert_rounded(got, -_log_softmax(logits)[np.arange(4), labels],
                   magnitude[np.arange(4), labels], ops[:, 0], what="sparse_cross_entropy")
    np.testing.assert_array_equal(got, value("sparse_cross_entropy", labels=labels,
                                             logits=logits))
    check_derivatives(builder("sparse_cross_entropy"), labels, logits)
    # python ints work as labels too
    np.testing.assert_array_equal(got, value("sparse_cross_entropy", [0, 2, 1, 2], logits))
    batched = rand((2, 4, 3), 6)
    labels2 = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])
    check_derivatives(builder("sparse_cross_entropy"), labels2, batched)


def test_sparse_cross_entropy_out_of_range_label_is_nan():
    got = value("sparse_cross_entropy", np.array([0, 3, -1]), np.zeros((3, 3)))
    assert got[0] == pytest.approx(np.log(3), rel=1e-15)
    assert np.isnan(got[1]) and np.isnan(got[2])


def test_cross_entropies_at_extreme_logits():
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    sparse = value("sparse_cross_entropy", np.array([0, 0]), logits)
    assert sparse.tolist() == [0.0, 2000.0]
    dense = value("cross_entropy", np.array([[1.0, 0.0], [1.0, 0.0]]), logits)
    assert dense.tolist() == [0.0, 2000.0]
    _, g = gradients(builder("sparse_cross_entropy"), np.array([0, 0]), logits)
    assert g.tolist() == [[0.0, 0.0], [-1.0, 1.0]]
    _, h = gradients(builder("sparse_cross_entropy"), np.array([0, 0]), logits, order=2)
    assert np.all(np.isfinite(h))
    # a class of probability exactly 0 does not poison the loss with 0 * -inf
    minus_inf = np.array([[0.0, -np.inf]])
    assert value("sparse_cross_entropy", np.array([0]), minus_inf).tolist() == [0.0]


def test_mse_is_a_scalar_mean_over_all_elements():
    a, b = rand((4, 2), 7), rand((2,), 8)
    got = value("mse", a, b)
    assert got.shape == ()
    # exact; the terms are squares (no cancellation): a difference, a square, a mean
    assert_rounded(got, np.mean((exact(a) - exact(b)) ** 2), np.mean((a - b) ** 2), a.size + 4,
                   what="mse")
    check_derivatives(builder("mse"), a, b)


def test_one_hot():
    got = value("one_hot", np.array([0, 2, 5, -1]), 3)
    np.testing.assert_array_equal(got, [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert got.dtype == np.float64
    assert build("one_hot", leaf("i", (2, 2), "int64"), 4).shape == (2, 2, 4)
    assert build("one_hot", [1, 0], 2, ctx=CTX32).dtype == "float32"


def test_float32_context():
    z = leaf("z", (4, 3), "float32")
    for name in ("softmax", "log_softmax"):
        assert build(name, z, ctx=CTX32).dtype == "float32"
    assert build("sparse_cross_entropy", [0, 1, 2, 0], z, ctx=CTX32).dtype == "float32"
    assert build("cross_entropy", z, z, ctx=CTX32).dtype == "float32"
    assert build("mse", z, 1.0, ctx=CTX32).dtype == "float32"


def test_nn_argument_errors():
    logits = leaf("z", (4, 3), "float64")
    with pytest.raises(SpecError, match="^sparse_cross_entropy: 'labels' must be integers"):
        build("sparse_cross_entropy", leaf("y", (4,), "float64"), logits)
    with pytest.raises(ShapeError, match=r"^sparse_cross_entropy: labels of shape \(4, 1\)"):
        build("sparse_cross_entropy", leaf("y", (4, 1), "int64"), logits)
    with pytest.raises(ShapeError, match=r"^cross_entropy: labels of shape \(3,\) must have"):
        build("cross_entropy", leaf("y", (3,), "float64"), logits)
    with pytest.raises(SpecError, match="^one_hot: 'indices' must be integers"):
        build("one_hot", const(np.array([0.0, 1.0])), 2)
    with pytest.raises(SpecError, match="^one_hot: argument 'depth' must be an integer"):
        build("one_hot", [0, 1], 2.5)
    with pytest.raises(ShapeError, match="^softmax: axis=2 is out of range"):
        build("softmax", logits, axis=2)
    with pytest.raises(ShapeError, match="^cross_entropy: logits need a class axis"):
        build("cross_entropy", 1.0, 2.0)
