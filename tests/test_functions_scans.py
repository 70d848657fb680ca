"""Scans and order in the catalogue: cumsum, cumprod, diff, sort, roll,
flip, fliplr, flipud, rot90 — numpy's values, first and second derivatives
at several shapes and axes, the conventions (zeros in cumprod, ties in
sort) through the user-facing API, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import build, gradients, rand, value

import gradcli
from gradcli.engine.graph import const, leaf
from gradcli.errors import ShapeError, SpecError

SHAPES_AXES = [((5,), None), ((5,), 0), ((3, 4), None), ((3, 4), 0), ((3, 4), 1),
               ((3, 4), -1), ((2, 3, 4), 1)]


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_running_sums_and_products(name, shape, axis):
    x = rand(shape, 1)
    np.testing.assert_allclose(value(name, x, axis=axis), getattr(np, name)(x, axis=axis),
                               rtol=1e-15)
    check_derivatives(lambda a: build(name, a, axis=axis), x)


def test_integer_scans_stay_integers():
    n = const(np.array([1, 2, 3]))
    assert build("cumsum", n).dtype == "int64" and build("cumprod", n).dtype == "int64"
    np.testing.assert_array_equal(value("cumprod", np.array([1, 2, 3])), [1, 2, 6])


@pytest.mark.parametrize("axis", [0, 1])
def test_cumprod_gradient_with_zeros_is_the_product_of_the_other_factors(axis):
    x = np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, -1.0, 4.0], [1.5, -2.0, 0.0, 1.0]])
    (got,) = gradients(lambda a: build("cumprod", a, axis=axis), x)
    moved = np.moveaxis(x, axis, -1)
    expected = np.zeros_like(moved)
    for lead in np.ndindex(moved.shape[:-1]):
        row = moved[lead]
        for j in range(len(row)):
            expected[lead + (j,)] = sum(np.prod(np.delete(row[:k + 1], j))
                                        for k in range(j, len(row)))
    np.testing.assert_array_equal(got, np.moveaxis(expected, -1, axis))
    check_derivatives(lambda a: build("cumprod", a, axis=axis), x)


def test_cumprod_through_the_api_with_zeros():
    p = gradcli.load({"inputs": {"x": [3.0, 0.0, 2.0, 0.0]}, "outputs": {"y": "cumprod(x)"}})
    np.testing.assert_array_equal(p.grad()["x"], [1.0, 9.0, 0.0, 0.0])
    np.testing.assert_array_equal(p.jacobian()["y"]["x"],
                                  [[1, 0, 0, 0], [0, 3, 0, 0], [0, 6, 0, 0], [0, 0, 0, 0]])
    hess = p.hessian()["x"]["x"]
    assert np.all(np.isfinite(hess)) and hess[0, 1] == 1.0 + 2.0


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7])
@pytest.mark.parametrize("shape,axis", [((6,), -1), ((4, 5), 0), ((4, 5), 1), ((2, 3, 4), 1)])
def test_diff(n, shape, axis):
    x = rand(shape, 2)
    got = value("diff", x, n=n, axis=axis)
    np.testing.assert_allclose(got, np.diff(x, n=n, axis=axis), rtol=1e-14, atol=1e-14)
    if got.size:
        check_derivatives(lambda a: build("diff", a, n=n, axis=axis), x)


def test_diff_prepend_append():
    x = rand((3, 4), 3)
    np.testing.assert_array_equal(value("diff", x, prepend=0.0),
                                  np.diff(x, prepend=0.0))
    np.testing.assert_array_equal(value("diff", x, axis=0, append=x[:1]),
                                  np.diff(x, axis=0, append=x[:1]))
    check_derivatives(lambda a, b: build("diff", a, axis=0, prepend=b, n=2), x, rand((2, 4), 4))
    with pytest.raises(ShapeError, match="prepend of shape"):
        build("diff", leaf("x", (3, 4), "float64"), prepend=const(np.ones((2, 2))))


@pytest.mark.parametrize("shape,axis", [((6,), -1), ((3, 4), 0), ((3, 4), -1), ((3, 4), None),
                                        ((2, 3, 4), 1)])
def test_sort(shape, axis):
    size = int(np.prod(shape))
    x = (np.random.default_rng(3).permutation(size) * 0.5).reshape(shape)
    np.testing.assert_array_equal(value("sort", x, axis=axis), np.sort(x, axis=axis))
    check_derivatives(lambda a: build("sort", a, axis=axis), x)


def test_sort_ties_through_the_api():
    p = gradcli.load({"inputs": {"x": [2.0, 1.0, 2.0], "w": [1.0, 10.0, 100.0]},
                      "outputs": {"y": "sum(sort(x) * w)"}, "wrt": ["x"]})
    # sorted: [1 (x1), 2 (x0), 2 (x2)]: the stable order gives x0 place 1, x2 place 2
    np.testing.assert_array_equal(p.grad()["x"], [10.0, 1.0, 100.0])


@pytest.mark.parametrize("shift,axis", [(1, None), (-2, None), (7, None), (1, 0), (-1, 1),
                                        ((1, 2), (0, 1)), ((1, -1), (1, 1)), (0, 0), (3, -1)])
def test_roll(shift, axis):
    x = rand((3, 4), 5)
    np.testing.assert_array_equal(value("roll", x, shift, axis=axis), np.roll(x, shift, axis))
    check_derivatives(lambda a: build("roll", a, shift, axis=axis), x)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
def test_flip(axis):
    x = rand((2, 3, 4), 6)
    np.testing.assert_array_equal(value("flip", x, axis=axis), np.flip(x, axis=axis))
    check_derivatives(lambda a: build("flip", a, axis=axis), x)


def test_fliplr_flipud():
    x = rand((3, 4), 7)
    np.testing.assert_array_equal(value("fliplr", x), np.fliplr(x))
    np.testing.assert_array_equal(value("flipud", x), np.flipud(x))
    np.testing.assert_array_equal(value("flipud", x[0]), np.flipud(x[0]))
    check_derivatives(lambda a: build("fliplr", a), x)
    check_derivatives(lambda a: build("flipud", a), x)
    with pytest.raises(ShapeError, match="fliplr needs at least 2 axes"):
        build("fliplr", leaf("x", (3,), "float64"))


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 5])
@pytest.mark.parametrize("axes", [(0, 1), (1, 0), (0, 2), (-1, -2)])
def test_rot90(k, axes):
    x = rand((2, 3, 4), 8)
    np.testing.assert_array_equal(value("rot90", x, k=k, axes=axes), np.rot90(x, k, axes))
    check_derivatives(lambda a: build("rot90", a, k=k, axes=axes), x)


@pytest.mark.parametrize("name,args,message", [
    ("cumsum", (leaf("x", (), "float64"),), "0-d array has no axis"),
    ("cumprod", (leaf("x", (3,), "float64"),), "axis=2 is out of range"),
    ("diff", (leaf("x", (), "float64"),), "at least one axis"),
    ("roll", (leaf("x", (3,), "float64"), (1, 2)), "with axis=None, 'shift' must be one"),
    ("rot90", (leaf("x", (3, 3), "float64"),), "must be two different axes"),
])
def test_errors(name, args, message):
    kwargs = {"cumsum": {"axis": 0}, "cumprod": {"axis": 2},
              "rot90": {"axes": (0, 0)}}.get(name, {})
    with pytest.raises(SpecError, match=message):
        build(name, *args, **kwargs)


def test_check_compares_sort_with_finite_differences_only(tmp_path):
    from click.testing import CliRunner

    from gradcli.cli.group import cli

    spec = tmp_path / "s.yaml"
    spec.write_text("inputs:\n  x: [0.3, -1.2, 2.5, 0.7]\noutputs:\n"
                    "  y: sum(sort(x) * linspace(1.0, 2.0, 4)) + sum(cumprod(x))\n")
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 0, result.output
    assert "SKIP" in result.stdout and "no symbolic form" in result.stdout
    assert any(line.split()[:2] == ["grad.x", "fd"] and "PASS" in line.split()
               for line in result.stdout.splitlines())
    result = CliRunner().invoke(cli, ["symbolic", str(spec)])
    assert result.exit_code == 2 and "sympy has no sort" in result.stderr


# ---- batched: Jacobians (vmapped vjp/jvp) and Hessians through every new function -------

BATCHED_SPEC = {
    "inputs": {"x": [[0.3, -1.2, 0.0, 0.7], [1.1, 0.4, -0.6, 2.0], [-0.9, 0.0, 1.3, 0.2]],
               "a": [0.5, -1.5]},
    "let": {"top, rest": "array_split(x, [1])",
            "mixed": "vstack([top, rest[::-1]]) * hstack([a, a])"},
    "outputs": {
        "scans": "cumprod(x, axis=1) + cumsum(rot90(x), axis=0).T + diff(x, axis=0, "
                 "prepend=0.0) + roll(flip(x), 1, axis=1)",
        "order": "sort(mixed, axis=0) * take_along_axis(x, argsort(x, axis=1), axis=1)",
        "shapes": "sum(moveaxis(atleast_3d(x), 2, 0) * swapaxes(atleast_3d(x.T), 0, 2)) "
                  "+ column_stack([a, a]) @ linspace(a[0], a[1] * x[0, :2], 2) "
                  "+ einsum(x, [0, 1], x, [0, 1], [1])[:2]",
    },
}


def _fd_jacobian(p, name, out, h=1e-6):
    base = np.asarray(p.values[name], dtype=float)
    cols = []
    for k in range(base.size):
        step = np.zeros(base.size)
        step[k] = h
        cols.append((p.evaluate(values={name: base + step.reshape(base.shape)})[out]
                     - p.evaluate(values={name: base - step.reshape(base.shape)})[out]) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + base.shape)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobians_through_every_new_function(mode):
    p = gradcli.load(BATCHED_SPEC)
    jac = p.jacobian(mode=mode)
    for out in BATCHED_SPEC["outputs"]:
        for name in ("x", "a"):
            numeric = _fd_jacobian(p, name, out)
            got = jac[out][name]
            if got is None:  # unconnected ("scans" does not read a)
                assert not np.any(numeric)
                continue
            np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_hessian_through_every_new_function():
    spec = {**BATCHED_SPEC, "outputs": {"s": "sum(sin(cumprod(x, axis=1)) * sort(mixed, axis=0)"
                                             "[0]) + sum(roll(x, 2) ** 3)"}}
    p = gradcli.load(spec)
    hess = p.hessian()["x"]["x"]
    x0 = np.asarray(p.values["x"])
    h = 1e-5
    rows = []
    for k in range(x0.size):
        step = np.zeros(x0.size)
        step[k] = h
        rows.append((p.grad(values={"x": x0 + step.reshape(x0.shape)})["x"]
                     - p.grad(values={"x": x0 - step.reshape(x0.shape)})["x"]) / (2 * h))
    np.testing.assert_allclose(hess, np.stack(rows, axis=-1).reshape(x0.shape + x0.shape),
                               rtol=1e-6, atol=1e-7)
