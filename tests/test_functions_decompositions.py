"""The linear-algebra catalogue: numpy's values, shapes and signatures
(cholesky, eigh, eigvalsh, svd, svdvals, qr, slogdet, pinv, matrix_power),
functions with several results in the expression language, first and second
derivatives against finite differences, and the errors of bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from fdcheck import check_derivatives
from rounding import assert_within, matrix_scale
from test_functions_support import CTX, CTX32, build, builder, rand, value

import gradcli
from gradcli.engine.graph import leaf
from gradcli.engine.ops import apply
from gradcli.errors import ShapeError, SpecError, UndefinedDerivative
from gradcli.language.functions.results import Results

RNG = np.random.default_rng(3)


def spd(*shape):
    x = RNG.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def pick(name, index, **kwargs):
    """A builder of one result of a function with several."""
    return lambda *xs: build(name, *xs, **kwargs).values[index]


def aligned(got, ref, axis):
    """ref with each vector (along `axis`) negated where gradcli's sign differs."""
    flips = np.sign(np.sum(got * ref, axis=axis, keepdims=True))
    return ref * flips


def problem(expr, **inputs):
    return gradcli.load({"inputs": {k: v.tolist() for k, v in inputs.items()},
                         "outputs": {"y": expr}})


# ---- values against numpy -------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_cholesky(shape):
    a = spd(*shape)
    np.testing.assert_array_equal(value("cholesky", a), np.linalg.cholesky(a))
    # upper=True is the lower factor of a.T, transposed: another LAPACK path,
    # within eps * |L| = eps * sqrt(|a|) of numpy's upper routine
    assert_within(value("cholesky", a, upper=True), np.linalg.cholesky(a, upper=True),
                  np.sqrt(matrix_scale(a)), terms=shape[-1])
    check_derivatives(builder("cholesky"), a)
    check_derivatives(builder("cholesky", upper=True), a)


def test_eigh_and_eigvalsh():
    a = rand((2, 3, 3), 1)
    for uplo in ("L", "U"):
        w, v = np.linalg.eigh(a, UPLO=uplo)
        result = build("eigh", leaf("x0", a.shape, "float64"), UPLO=uplo)
        assert isinstance(result, Results) and result.names == ("eigenvalues", "eigenvectors")
        scale = 2 * matrix_scale(a)  # |the symmetric matrix read| <= 2 |a|
        assert_within(value("eigvalsh", a, UPLO=uplo), w, scale[..., 0], terms=3)
        # UPLO="U" is UPLO="L" of a.T, another reduction: vectors within eps * |a| / gap
        got = value_of(pick("eigh", 1, UPLO=uplo), a)
        gaps = np.min(np.abs(w[..., :, None] - w[..., None, :]) + np.eye(3) * 1e300, axis=-1)
        assert_within(got, aligned(got, v, -2), scale / gaps[..., None, :], terms=3)
        check_derivatives(pick("eigh", 0, UPLO=uplo), a)
        check_derivatives(pick("eigh", 1, UPLO=uplo), a)


def value_of(fn, *arrays):
    from gradcli.engine.evaluate import evaluate

    xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
    return evaluate([fn(*xs)], {f"x{i}": a for i, a in enumerate(arrays)})[0]


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 2, 3)])
def test_svd_and_svdvals(shape):
    a = rand(shape, 2)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    k = min(shape[-2:])
    assert_within(value("svdvals", a), s, matrix_scale(a)[..., 0], terms=k)
    assert_within(value("svd", a, compute_uv=False), s, matrix_scale(a)[..., 0], terms=k)
    got_u = value_of(pick("svd", 0, full_matrices=False), a)
    got_vh = value_of(pick("svd", 2, full_matrices=False), a)
    np.testing.assert_array_equal(got_u, aligned(got_u, u, -2))  # the same call, signed
    np.testing.assert_array_equal(got_vh, aligned(got_vh, vh, -1))
    for index in range(3):
        check_derivatives(pick("svd", index, full_matrices=False), a)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 4), (2, 3, 5)])
def test_qr_reduced_and_wide(shape):
    a = rand(shape, 3)
    q_np, r_np = np.linalg.qr(a)
    q, r = value_of(pick("qr", 0), a), value_of(pick("qr", 1), a)
    sign = np.sign(np.diagonal(r_np, axis1=-2, axis2=-1))
    # m < n: R's last columns are Q.T @ a[:, m:] here, Householder there
    assert_within(q, q_np * sign[..., None, :], 1.0, terms=shape[-1])
    assert_within(r, r_np * sign[..., :, None], matrix_scale(a), terms=shape[-1])
    np.testing.assert_array_equal(value("qr", a, mode="r"), r)
    check_derivatives(pick("qr", 0), a)
    check_derivatives(pick("qr", 1), a)


def test_slogdet():
    a = rand((2, 3, 3), 4)
    sign, logabs = np.linalg.slogdet(a)
    np.testing.assert_array_equal(value_of(pick("slogdet", 0), a), sign)
    np.testing.assert_array_equal(value_of(pick("slogdet", 1), a), logabs)  # the same call
    check_derivatives(pick("slogdet", 1), a)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv(shape):
    a = rand(shape, 5)
    np.testing.assert_array_equal(value("pinv", a), np.linalg.pinv(a))  # the same call
    np.testing.assert_array_equal(value("pinv", a, rcond=0.5), np.linalg.pinv(a, rcond=0.5))
    check_derivatives(builder("pinv"), a)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, -1, -3])
def test_matrix_power(n):
    a = rand((3, 3), 6) + 2 * np.eye(3)
    # products of |n| factors: within eps times the same products of |a|
    # (of |inv(a)| times its condition number for n < 0)
    base = np.abs(a) if n >= 0 else np.abs(np.linalg.inv(a)) * np.linalg.cond(a)
    scale = np.linalg.matrix_power(base, abs(n))
    assert_within(value("matrix_power", a, n), np.linalg.matrix_power(a, n), scale,
                  terms=3 * max(abs(n), 1))
    if n:
        check_derivatives(builder("matrix_power", n=n), a)


def test_matrix_power_of_a_stack_and_of_integers():
    a = rand((2, 2, 2), 7)
    assert_within(value("matrix_power", a, 3), np.linalg.matrix_power(a, 3),
                  np.linalg.matrix_power(np.abs(a), 3), terms=6)
    k = np.array([[1, 1], [1, 0]], dtype=np.int64)
    got = value("matrix_power", k, 10)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.linalg.matrix_power(k, 10))


def test_float32_problems_stay_float32():
    a = spd(3, 3).astype(np.float32)
    for name in ("cholesky", "eigvalsh", "svdvals", "pinv"):
        assert build(name, leaf("a", a.shape, "float32"), ctx=CTX32).dtype == "float32"


# ---- several results in the expression language ----------------------------------------

def test_results_are_taken_by_index_or_by_numpys_field_names():
    a = spd(3, 3)
    got = problem("eigh(A)[0] + eigh(A).eigenvalues + eigh(A)[-2][0]", A=a).evaluate()["y"]
    w = np.linalg.eigvalsh(a)
    assert_within(got, 2 * w + w[0], np.abs(w) * 2 + np.abs(w[0]), terms=2)  # [-2] is [0]
    u = problem("svd(A, full_matrices=False).U", A=a).evaluate()["y"]
    assert u.shape == (3, 3)
    q = problem("qr(A).Q @ qr(A).R", A=a).evaluate()["y"]
    assert_within(q, a, matrix_scale(a), terms=3)
    s = problem("slogdet(A).logabsdet", A=a).evaluate()["y"]
    assert s == np.linalg.slogdet(a)[1]


@pytest.mark.parametrize("expr,needle", [
    ("eigh(A)", "returns 2 arrays (eigenvalues, eigenvectors), not one"),
    ("sum(svd(A, full_matrices=False))", "svd(...) returns 3 arrays (U, S, Vh)"),
    ("eigh(A)[2]", "index 2 is out of range"),
    ("eigh(A)[0:1]", "index it with one integer"),
    ("eigh(A).values", "no field 'values'"),
    ("qr(A).T", "qr(...) returns 2 arrays"),
    ("slogdet(A) + 1", "slogdet(...) returns 2 arrays"),
])
def test_results_used_as_arrays_are_spec_errors(expr, needle):
    with pytest.raises(SpecError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        problem(expr, A=spd(3, 3))


def test_gradient_through_two_outputs_of_one_decomposition():
    a = spd(3, 3)
    p = problem("sum(eigh(A)[1] ** 2 * eigh(A)[0])", A=a)
    (g,) = p.grad().values()
    # sum_ij v_ij^2 w_j = sum_j w_j = trace(A): the gradient is I
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)


# ---- bad calls --------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,kwargs,error,needle", [
    ("svd", [(3, 2)], {}, SpecError, "full_matrices=False"),
    ("svd", [(3, 3)], {"hermitian": True}, SpecError, "hermitian=True"),
    ("qr", [(4, 2)], {"mode": "complete"}, SpecError, "mode='reduced'"),
    ("qr", [(4, 2)], {"mode": "raw"}, SpecError, "raw"),
    ("qr", [(4, 2)], {"mode": "full"}, SpecError, "'reduced'"),
    ("eigh", [(3, 3)], {"UPLO": "X"}, SpecError, "UPLO"),
    ("eigh", [(3, 2)], {}, ShapeError, "square"),
    ("cholesky", [(3,)], {}, ShapeError, "square"),
    ("slogdet", [(2, 3)], {}, ShapeError, "square"),
    ("pinv", [(3,)], {}, ShapeError, "matrix"),
    ("pinv", [(3, 3)], {"rcond": -1.0}, SpecError, "rcond"),
    ("matrix_power", [(3, 3)], {"n": 1.5}, SpecError, "integer"),
    ("matrix_power", [(2, 3)], {"n": 2}, ShapeError, "square"),
    ("svdvals", [(0, 3)], {}, ShapeError, "matrix"),
])
def test_bad_calls(name, args, kwargs, error, needle):
    with pytest.raises(error, match=needle) as info:
        build(name, *(leaf(f"x{i}", s, "float64") for i, s in enumerate(args)), **kwargs)
    assert str(info.value).startswith(name)


def test_qr_complete_of_a_wide_matrix_is_the_reduced_one():
    a = rand((2, 4), 8)
    np.testing.assert_array_equal(value_of(pick("qr", 1, mode="complete"), a),
                                  value_of(pick("qr", 1), a))


def test_degenerate_derivative_errors_reach_the_user_as_exit_2():
    from click.testing import CliRunner

    from gradcli.cli.group import cli

    result = CliRunner().invoke(cli, ["grad", "-e", "eigh(A)[1]", "--set", "A=[[1.0, 0], [0, 1]]"])
    assert result.exit_code == 2
    assert "tolerance" in result.stderr and "differ by 0" in result.stderr
    with pytest.raises(UndefinedDerivative):
        problem("eigh(A)[1]", A=np.eye(2)).grad()


def test_context_float64_default():
    assert CTX.dtype == "float64"


# ---- printed derivative programs evaluate back --------------------------------------------

@pytest.mark.parametrize("op", ["eigh_w", "eigh_v", "svd_u", "svd_s", "svd_vh", "qr_q", "qr_r",
                                "cholesky", "logabsdet", "slogdet_sign", "pinv"])
def test_printed_gradient_programs_are_specs_with_the_same_value(op):
    # the matrix form of `gradcli symbolic` is written in the spec language:
    # decomposition primitives print as the catalogue call they are one result of
    from gradcli.engine.autodiff import grad
    from gradcli.engine.evaluate import evaluate
    from gradcli.engine.ops import nodes as N
    from gradcli.render.expression import expressions

    a = spd(3, 3)
    x = leaf("A", (3, 3), "float64")
    out = apply(op, (x,), {"rcond": 1e-15} if op == "pinv" else {})
    total = N.reduce_sum(N.mul(out, N.add(out, out)), tuple(range(out.ndim)))
    (g,) = grad([total], [x]) if op != "slogdet_sign" else (out,)
    lets, (text,) = expressions([g], {})
    spec = {"inputs": {"A": a.tolist()}, "let": dict(lets), "outputs": {"y": text}}
    np.testing.assert_array_equal(gradcli.load(spec).evaluate()["y"],
                                  evaluate([g], {"A": a})[0])


# ---- Hessians: forward over reverse, as `gradcli hessian` computes them -------------------

@pytest.mark.parametrize("expr,source", [
    ("sum(eigh(A)[1] * C) + sum(eigh(A)[0] ** 3)", "A"),
    ("sum(svd(B, full_matrices=False).U * D) + sum(svd(B, full_matrices=False).Vh * C)", "B"),
    ("sum(qr(B).Q * D) + sum(qr(B).R ** 2)", "B"),
    ("sum(cholesky(A @ A.T + 3 * eye(3)) * C)", "A"),
    ("sum(pinv(B) * D.T) + slogdet(A)[1]", "B"),
    ("norm(B, 'nuc') + norm(B, 2) + norm(B[0], 3)", "B"),
])
def test_hessian_vector_products_against_differences_of_gradients(expr, source):
    rng = np.random.default_rng(11)
    inputs = {"A": rng.standard_normal((3, 3)), "B": rng.standard_normal((4, 3)),
              "C": rng.standard_normal((3, 3)), "D": rng.standard_normal((4, 3))}
    p = gradcli.load({"inputs": {k: v.tolist() for k, v in inputs.items()},
                      "outputs": {"y": expr}, "wrt": [source]})
    x0 = inputs[source]
    hessian = p.hessian()[source][source].reshape(x0.size, x0.size)
    direction = rng.standard_normal(x0.shape)
    h = 1e-5

    def grad_at(sign: float) -> np.ndarray:
        return p.grad(values={source: x0 + sign * h * direction})[source].ravel()

    numeric = (grad_at(1) - grad_at(-1)) / (2 * h)
    np.testing.assert_allclose(hessian @ direction.ravel(), numeric, rtol=1e-6,
                               atol=1e-6 * np.max(np.abs(numeric)))
