"""Decomposition rows (cholesky, qr, slogdet, pinv; eigh and svd in
test_ops_spectral.py): first and second derivatives against finite
differences at several shapes, stacked and structured matrices; batching
rules against per-slice evaluation; forwards against numpy."""

import mpmath
import numpy as np
import pytest
from fdcheck import check_batching, check_derivatives

from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import leaf
from gradcli.engine.ops import apply
from gradcli.engine.ops import decompositions as D
from gradcli.errors import ShapeError

RNG = np.random.default_rng(20250101)


def normal(*shape):
    return RNG.standard_normal(shape)


def spd(*shape):
    """Symmetric positive definite matrices, eigenvalues >= n: well conditioned."""
    x = normal(*shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def with_noise_above(a):
    """a with random numbers in its strict upper triangle: rows that read the
    lower triangle must not see them (their derivative there is 0)."""
    n = a.shape[-1]
    return a + np.triu(normal(*a.shape), 1) * np.ones(a.shape[:-2] + (n, n))


def run(build, *arrays):
    xs = [leaf(f"x{i}", a.shape, str(a.dtype)) for i, a in enumerate(arrays)]
    return evaluate([build(*xs)], {f"x{i}": a for i, a in enumerate(arrays)})[0]


def logabsdet(a):
    return apply("logabsdet", (a,))


def sign(a):
    return apply("slogdet_sign", (a,))


def pinv(a):
    return D.pinv(a, 1e-15)


# ---- cholesky ---------------------------------------------------------------------------

TRIDIAGONAL = np.array([[4.0, 1, 0, 0], [1, 4, 1, 0], [0, 1, 4, 1], [0, 0, 1, 4]])
CHOLESKY_INPUTS = [spd(3, 3), spd(1, 1), spd(2, 4, 4), spd(2, 1, 3, 3), TRIDIAGONAL,
                   np.diag([1.0, 4.0, 9.0]), with_noise_above(spd(3, 3))]


@pytest.mark.parametrize("a", CHOLESKY_INPUTS)
def test_cholesky_derivatives(a):
    check_derivatives(D.cholesky, a)


@pytest.mark.parametrize("a", CHOLESKY_INPUTS)
def test_cholesky_forward_reads_the_lower_triangle_as_numpy(a):
    np.testing.assert_array_equal(run(D.cholesky, a), np.linalg.cholesky(a))  # the same call


def test_cholesky_upper_triangle_gets_derivative_zero():
    from gradcli.engine.autodiff import grad

    a = leaf("a", (3, 3), "float64")
    (g,) = grad([D.cholesky(a)], [a])
    value = evaluate([g], {"a": spd(3, 3)})[0]
    assert np.all(value[np.triu_indices(3, 1)] == 0)


def test_cholesky_of_an_indefinite_matrix_is_nan_in_its_slice_only():
    stack = np.stack([spd(2, 2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    out = run(D.cholesky, stack)
    np.testing.assert_array_equal(out[0], np.linalg.cholesky(stack[0]))
    assert np.isnan(out[1]).all()


# ---- qr ---------------------------------------------------------------------------------

QR_INPUTS = [normal(4, 3), normal(3, 3), normal(5, 1), normal(2, 4, 2), normal(2, 1, 3, 3),
             # structured: triangular (LAPACK's signs jump there), a zero pivot
             np.triu(normal(3, 3)) + 3 * np.eye(3), np.array([[0.0, 1, 2], [1, 0, 3], [2, 1, 0]])]


@pytest.mark.parametrize("a", QR_INPUTS)
@pytest.mark.parametrize("part", [D.qr_q, D.qr_r])
def test_qr_derivatives(a, part):
    check_derivatives(part, a)


@pytest.mark.parametrize("a", QR_INPUTS)
def test_qr_forward_is_numpys_with_a_positive_diagonal(a):
    q, r = run(D.qr_q, a), run(D.qr_r, a)
    nq, nr = np.linalg.qr(a)
    flip = np.sign(np.diagonal(nr, axis1=-2, axis2=-1))
    np.testing.assert_array_equal(q, nq * flip[..., None, :])  # the same call, signed
    np.testing.assert_array_equal(r, nr * flip[..., :, None])
    assert np.all(np.diagonal(r, axis1=-2, axis2=-1) >= 0)


def test_qr_primitive_refuses_wide_matrices():
    # the catalogue builds wide QR from the square part; the row never sees one
    with pytest.raises(ShapeError, match="m >= n"):
        D.qr_q(leaf("a", (2, 3), "float64"))


# ---- slogdet ----------------------------------------------------------------------------

SQUARE_INPUTS = [normal(3, 3) + 3 * np.eye(3), normal(1, 1) + 2, normal(2, 4, 4) + 4 * np.eye(4),
                 -spd(3, 3)]


@pytest.mark.parametrize("a", SQUARE_INPUTS)
def test_logabsdet_derivatives(a):
    check_derivatives(logabsdet, a)


@pytest.mark.parametrize("a", SQUARE_INPUTS)
def test_slogdet_forward(a):
    sign_np, log_np = np.linalg.slogdet(a)
    np.testing.assert_array_equal(run(sign, a), sign_np)
    np.testing.assert_array_equal(run(logabsdet, a), log_np)


def test_logabsdet_never_overflows_and_matches_mpmath():
    # det = 1e300^4 overflows float64; log|det| and its gradient inv(a).T do not
    a = (normal(4, 4) + 4 * np.eye(4)) * 1e300
    with mpmath.workdps(50):
        exact = mpmath.log(abs(mpmath.det(mpmath.matrix(a.tolist()))))
    got = run(logabsdet, a)
    assert abs(got - float(exact)) <= 1e-13 * abs(float(exact))
    check_derivatives(logabsdet, a / 1e300)


def test_slogdet_sign_is_piecewise_constant():
    from gradcli.engine.ops import TABLE

    assert TABLE["slogdet_sign"].vjp is None and TABLE["slogdet_sign"].jvp is None
    assert run(sign, np.zeros((2, 2))) == 0


# ---- pinv -------------------------------------------------------------------------------

PINV_INPUTS = [normal(4, 3), normal(3, 5), normal(3, 3), normal(2, 3, 2), normal(1, 1) + 1]


@pytest.mark.parametrize("a", PINV_INPUTS)
def test_pinv_derivatives(a):
    check_derivatives(pinv, a)


@pytest.mark.parametrize("a", PINV_INPUTS)
def test_pinv_forward(a):
    np.testing.assert_array_equal(run(pinv, a), np.linalg.pinv(a))  # the same call


def test_pinv_derivative_at_fixed_rank():
    # a rank-1 3x2 matrix moved along a rank-1 direction stays rank 1: the
    # fixed-rank derivative matches finite differences along that path
    u, v = normal(3), normal(2)
    a, direction = np.outer(u, v), np.outer(u + 0.3 * normal(3), v)
    x = leaf("a", (3, 2), "float64")
    from gradcli.engine.autodiff import jvp

    t = leaf("t", (3, 2), "float64")
    (tangent,) = jvp([pinv(x)], {id(x): t})
    got = evaluate([tangent], {"a": a, "t": direction})[0]
    h = 1e-6
    numeric = (np.linalg.pinv(a + h * direction) - np.linalg.pinv(a - h * direction)) / (2 * h)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


# ---- batching and shapes ------------------------------------------------------------------

@pytest.mark.parametrize("build,a", [
    (D.qr_q, normal(4, 3)), (D.qr_r, normal(2, 3, 3)), (logabsdet, normal(3, 3)),
    (sign, normal(2, 3, 3)), (pinv, normal(3, 2)),
])
def test_batching(build, a):
    check_batching(build, a, batched=[True])


@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2)])
def test_cholesky_batching(shape):
    # check_batching draws normal stacks; cholesky needs positive definite ones
    from gradcli.engine.ops import TABLE

    stacks = spd(3, *shape)
    node = D.cholesky(leaf("x", shape, "float64"))
    batched = TABLE["cholesky"].batch((leaf("x", stacks.shape, "float64"),), (True,),
                                      node.attrs)
    got = evaluate([batched], {"x": stacks})[0]
    for k in range(3):
        np.testing.assert_array_equal(got[k], np.linalg.cholesky(stacks[k]))


@pytest.mark.parametrize("build,shape", [
    (D.cholesky, (3, 2)), (D.cholesky, (3,)), (D.cholesky, (0, 0)), (logabsdet, (2, 3)),
    (sign, (4,)), (pinv, (3,)), (pinv, (0, 2)), (D.qr_r, (3,)),
])
def test_shape_errors(build, shape):
    with pytest.raises(ShapeError):
        build(leaf("a", shape, "float64"))


def test_float32_stays_float32():
    a = spd(3, 3).astype(np.float32)
    for build in (D.cholesky, D.qr_q, D.qr_r, logabsdet, sign, pinv):
        x = leaf("a", a.shape, "float32")
        node = build(x)
        assert node.dtype == "float32"
        assert evaluate([node], {"a": a})[0].dtype == np.float32
