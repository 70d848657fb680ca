"""eigh and svd rows: first and second derivatives against finite
differences (plain, stacked and structured matrices), against 50-digit
mpmath near a degeneracy, forwards against numpy up to the documented
signs, and the degeneracy convention: derivatives that do not exist at
repeated eigen/singular values are refused with the gap and the tolerance,
those that exist are given."""

import mpmath
import numpy as np
import pytest
from fdcheck import check_batching, check_derivatives
from rounding import assert_within, matrix_scale

from gradcli.engine.autodiff import grad, jvp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import leaf
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops import spectral as S
from gradcli.engine.ops import svd as V
from gradcli.engine.ops.spectral import reference_vector
from gradcli.errors import ShapeError, UndefinedDerivative

RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape)


def symmetric(*shape):
    x = normal(*shape)
    return x + np.swapaxes(x, -1, -2)


def run(build, *arrays):
    xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
    return evaluate([build(*xs)], {f"x{i}": a for i, a in enumerate(arrays)})[0]


def weighted(part, seed=0):
    """sum(part(a) * C) for a fixed C: depends on the signs of vectors, so the
    sign convention is tested too, not only sign-free products."""
    def build(a):
        out = part(a)
        c = np.random.default_rng(seed).standard_normal(out.shape)
        from gradcli.engine.graph import const

        return N.reduce_sum(N.mul(out, const(c)), tuple(range(out.ndim)))

    return build


TRIDIAGONAL = np.array([[2.0, 1, 0, 0], [1, 3, 1, 0], [0, 1, 4, 1], [0, 0, 1, 5]])
EIGH_INPUTS = [symmetric(3, 3), symmetric(1, 1), symmetric(2, 4, 4), symmetric(2, 1, 3, 3),
               TRIDIAGONAL, np.diag([1.0, 2.0, 4.0]), normal(3, 3)]  # the last is not symmetric


@pytest.mark.parametrize("a", EIGH_INPUTS)
@pytest.mark.parametrize("part", [S.eigh_w, S.eigh_v])
def test_eigh_derivatives(a, part):
    check_derivatives(part, a)
    check_derivatives(weighted(part), a)


@pytest.mark.parametrize("a", EIGH_INPUTS)
def test_eigh_forward_is_numpys_up_to_documented_signs(a):
    w, v = run(S.eigh_w, a), run(S.eigh_v, a)
    nw, nv = np.linalg.eigh(a)
    # eigvalsh and eigh are different LAPACK drivers: eps * |a| apart
    assert_within(w, nw, 2 * matrix_scale(a)[..., 0], terms=a.shape[-1])
    flips = np.sign(np.sum(nv * v, axis=-2))  # column-wise +1 or -1
    np.testing.assert_array_equal(v, nv * flips[..., None, :])  # the same call, signed
    assert np.all(np.einsum("i,...ij->...j", reference_vector(a.shape[-1]), v) > 0)


SVD_INPUTS = [normal(4, 3), normal(3, 5), normal(3, 3), normal(1, 1), normal(2, 3, 2),
              normal(2, 1, 2, 4), normal(4, 1), np.diag([3.0, 2.0, 1.0]),
              np.array([[1.0, 2, 0], [0, 1, 2], [0, 0, 1]]),
              np.outer([1.0, 2, 3], [1.0, -1, 2])]  # rank 1, square: s_2 = s_3 ~ 0 repeated


@pytest.mark.parametrize("a", SVD_INPUTS[:-1])
@pytest.mark.parametrize("part", [V.svd_u, V.svd_s, V.svd_vh])
def test_svd_derivatives(a, part):
    check_derivatives(part, a)
    check_derivatives(weighted(part), a)


@pytest.mark.parametrize("a", SVD_INPUTS)
def test_svd_forward_is_numpys_up_to_documented_signs(a):
    u, s, vh = run(V.svd_u, a), run(V.svd_s, a), run(V.svd_vh, a)
    nu, ns, nvh = np.linalg.svd(a, full_matrices=False)
    k = min(a.shape[-2:])
    assert_within(s, ns, matrix_scale(a)[..., 0], terms=k)  # without vectors: eps * |a|
    assert_within(u @ (s[..., None] * vh), a, matrix_scale(a), terms=k)
    flips = np.sign(np.sum(nu * u, axis=-2))
    np.testing.assert_array_equal(u, nu * flips[..., None, :])  # the same call, signed
    np.testing.assert_array_equal(vh, nvh * flips[..., :, None])


def test_nuclear_norm_of_a_rank_deficient_matrix_uses_the_exact_zero_convention():
    # s = (|x|, 0): the zero singular value gets derivative 0 (abs'(0) = 0), so
    # the gradient of sum(s) at diag(2, 0) is diag(1, 0), not an arbitrary u v^T
    a = leaf("a", (2, 2), "float64")
    (g,) = grad([V.svd_s(a)], [a])
    np.testing.assert_array_equal(evaluate([g], {"a": np.diag([2.0, 0.0])})[0],
                                  np.diag([1.0, 0.0]))


# ---- degeneracy ---------------------------------------------------------------------------

def gradient(build, value):
    a = leaf("a", value.shape, "float64")
    (g,) = grad([build(a)], [a])
    return evaluate([g], {"a": value})[0]


def first(part):
    return lambda a: apply("getitem", (part(a),), {"index": (Ellipsis, 0)})


def last(part):
    return lambda a: apply("getitem", (part(a),), {"index": (Ellipsis, -1)})


NEAR = np.diag([1.0, 1.0 + 1e-10, 3.0])


@pytest.mark.parametrize("value", [np.eye(3), NEAR])
def test_symmetric_functions_of_repeated_eigenvalues_have_their_gradient(value):
    # sum(w) = trace: gradient I (folded onto the lower triangle: I itself)
    assert_within(gradient(S.eigh_w, value), np.eye(3), 1.0, terms=3)
    # log det through the eigenvalues: inv(a).T, lower triangle doubled
    got = gradient(lambda a: N.unary("log", S.eigh_w(a)), value)
    expected = np.linalg.inv(value)
    np.testing.assert_allclose(got, np.tril(expected + expected.T) - np.diag(np.diag(expected)),
                               atol=1e-9)


@pytest.mark.parametrize("value", [np.eye(3), NEAR])
@pytest.mark.parametrize("build,needle", [
    (first(S.eigh_w), "derivatives with respect to them differ"),
    (S.eigh_v, "not unique"),
    (last(V.svd_s), "derivatives with respect to them differ"),  # s descending
    (V.svd_u, "not unique"),
    (V.svd_vh, "not unique"),
])
def test_derivatives_that_do_not_exist_are_refused_with_the_gap_and_tolerance(value, build,
                                                                               needle):
    with pytest.raises(UndefinedDerivative) as info:
        gradient(build, value)
    text = str(info.value)
    tolerance = np.sqrt(np.finfo(float).eps) * np.max(np.abs(np.diag(value)))
    assert needle in text and f"tolerance {tolerance:.3g}" in text and "differ by" in text
    assert ("differ by 0," in text) == (value is not NEAR)


def test_forward_mode_refuses_single_eigenvalue_derivatives_at_a_repeated_pair():
    a, t = leaf("a", (3, 3), "float64"), leaf("t", (3, 3), "float64")
    (tangent,) = jvp([S.eigh_w(a)], {id(a): t})
    # a diagonal tangent keeps the basis: each eigenvalue has a derivative along it
    np.testing.assert_allclose(evaluate([tangent], {"a": np.eye(3), "t": np.diag([1., 2, 3])})[0],
                               [1.0, 2.0, 3.0])
    with pytest.raises(UndefinedDerivative, match="forward mode"):
        evaluate([tangent], {"a": np.eye(3), "t": symmetric(3, 3)})


def test_second_derivatives_at_repeated_eigenvalues_are_refused():
    a = leaf("a", (2, 2), "float64")
    (g,) = grad([S.eigh_w(a)], [a])
    (h,) = grad([N.reduce_sum(N.mul(g, g), (0, 1))], [a])
    with pytest.raises(UndefinedDerivative, match="not unique"):
        evaluate([h], {"a": np.eye(2)})
    assert np.all(np.isfinite(evaluate([h], {"a": np.diag([1.0, 2.0])})[0]))


def test_the_error_names_the_matrix_of_a_stack():
    value = np.stack([np.diag([1.0, 2.0]), np.eye(2)])
    with pytest.raises(UndefinedDerivative, match=r"in matrix \[1\] of the stack"):
        gradient(S.eigh_v, value)


def test_square_matrices_with_one_zero_singular_value_have_vector_derivatives():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])  # rank 1, s = (5, ~0): distinct
    check_derivatives(weighted(V.svd_u), a, order=1)


def test_thin_matrices_near_rank_deficiency_refuse_vector_derivatives():
    a = np.array([[1.0, 2.0], [2.0, 4.0 + 1e-12], [0.0, 0.0]])  # 3x2, s_2 ~ 4e-13
    with pytest.raises(UndefinedDerivative, match="zero singular values of a non-square"):
        gradient(V.svd_u, a)
    with pytest.raises(UndefinedDerivative, match="zero singular values of a non-square"):
        gradient(first(lambda x: apply("getitem", (V.svd_s(x),), {"index": (slice(1, 2),)})), a)


# ---- accuracy near a degeneracy, against 50-digit mpmath ------------------------------------

def _mp_oriented_vectors(a):
    w, q = mpmath.eigsy(mpmath.matrix(a.tolist()))
    order = sorted(range(len(w)), key=lambda i: w[i])
    r = reference_vector(a.shape[0])
    cols = []
    for i in order:
        col = [q[k, i] for k in range(a.shape[0])]
        if sum(mpmath.mpf(float(r[k])) * col[k] for k in range(len(col))) < 0:
            col = [-x for x in col]
        cols.append(col)
    return cols


def test_eigenvector_derivative_at_a_small_gap_matches_mpmath():
    # eigenvalues 1 and 1 + 1e-6: derivatives of size 1e6, every digit counts
    q, _ = np.linalg.qr(normal(3, 3))
    a = q @ np.diag([1.0, 1.0 + 1e-6, 2.0]) @ q.T
    a = (a + a.T) / 2
    c, direction = normal(3, 3), symmetric(3, 3)
    x, t = leaf("a", (3, 3), "float64"), leaf("t", (3, 3), "float64")
    (tangent,) = jvp([S.eigh_v(x)], {id(x): t})
    got = float(np.sum(c * evaluate([tangent], {"a": a, "t": direction})[0]))
    with mpmath.workdps(50):
        h = mpmath.mpf("1e-20")
        base = mpmath.matrix(a.tolist())
        step = mpmath.matrix(np.tril(direction).tolist()) + mpmath.matrix(
            np.tril(direction, -1).T.tolist())

        def f(sign):
            m = base + sign * h * step
            cols = _mp_oriented_vectors(np.array(m.tolist(), dtype=object))
            return sum(c[k, i] * cols[i][k] for i in range(3) for k in range(3))

        exact = float((f(1) - f(-1)) / (2 * h))
    # mpmath sees the same float64 matrix; the engine's eigenvectors carry
    # errors of eps * |a| / gap = 2e-10 relative, and so does their derivative
    assert abs(got - exact) <= 1e-8 * abs(exact)


def test_singular_vector_derivatives_form_no_squares():
    # 1/(s_j^2 - s_i^2) is used as 1/(s_j - s_i) * s_j/(s_i + s_j): at s = 1e200
    # the squares would overflow and the derivative would come out 0
    a = np.diag([3e200, 2e200, 1e200]) @ np.linalg.qr(normal(3, 3))[0]
    check_derivatives(weighted(V.svd_u), a / 1e200, order=1)
    x = leaf("a", (3, 3), "float64")
    (g,) = grad([weighted(V.svd_u)(x)], [x])
    scaled = evaluate([g], {"a": a})[0] * 1e200
    reference = evaluate([g], {"a": a / 1e200})[0]
    np.testing.assert_allclose(scaled, reference, rtol=1e-12, atol=1e-12)


# ---- the guard as a primitive, batching, shapes ------------------------------------------------

def check_node(kind, rect=False):
    return lambda w, c: apply("degenerate_check", (w, c),
                              {"kind": kind, "subject": "eigh", "rect": rect})


@pytest.mark.parametrize("kind,c_shape", [("values", (3,)), ("offdiag", (3, 3)),
                                          ("zero", (3, 3))])
def test_degenerate_check_is_the_identity_with_derivatives_and_batching(kind, c_shape):
    w, c = np.array([1.0, 2.0, 3.0]), normal(*c_shape)
    np.testing.assert_array_equal(run(check_node(kind), w, c), c)
    check_derivatives(check_node(kind), w, c, wrt=[1])
    for flags in ([True, False], [False, True], [True, True]):
        check_batching(check_node(kind), w, c, batched=flags)


@pytest.mark.parametrize("build,a", [(S.eigh_w, symmetric(3, 3)), (S.eigh_v, symmetric(2, 3, 3)),
                                     (V.svd_u, normal(4, 2)), (V.svd_s, normal(2, 5)),
                                     (V.svd_vh, normal(2, 3, 3))])
def test_batching(build, a):
    check_batching(build, a, batched=[True])


@pytest.mark.parametrize("build,shape", [(S.eigh_w, (3, 2)), (S.eigh_v, (3,)),
                                         (S.eigh_w, (0, 0)), (V.svd_s, (3,)),
                                         (V.svd_u, (0, 3))])
def test_shape_errors(build, shape):
    with pytest.raises(ShapeError):
        build(leaf("a", shape, "float64"))


def test_float32_tolerance_follows_the_dtype():
    a = np.diag([1.0, 1.0 + 1e-5, 3.0]).astype(np.float32)  # repeated at float32 precision
    x = leaf("a", (3, 3), "float32")
    (g,) = grad([S.eigh_v(x)], [x])
    with pytest.raises(UndefinedDerivative, match="tolerance 0.00104"):
        evaluate([g], {"a": a})
