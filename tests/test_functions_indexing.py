"""numpy indexing with integer arrays and constant masks, through the
expression compiler: values against numpy on many index forms (where the
advanced axes go), `.at[]` updates with repeated indices, take /
take_along_axis / put_along_axis, derivatives against finite differences
(first and second order, also batched through Jacobians and Hessians) and
the errors a user can cause."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import CTX, build, rand

import gradcli
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf
from gradcli.errors import Location, SpecError
from gradcli.language.expr import compile_expr

HERE = Location("<test>", 1, 1)
X = rand((4, 5, 6), 1)
I = np.array([2, 0, 2, 3])
J = np.array([[1], [4]])
NAMES = ("x", "i", "j", "v")


def compiled(text: str, *names: str):
    """A builder for fdcheck: compiles `text` over leaves named `names`."""
    def build_(*xs: Node) -> Node:
        return compile_expr(text, dict(zip(names, xs)), CTX, HERE)

    return build_


def run(text: str, **arrays: np.ndarray) -> np.ndarray:
    leaves = {k: leaf(k, a.shape, str(a.dtype)) for k, a in arrays.items()}
    return evaluate([compile_expr(text, leaves, CTX, HERE)], arrays)[0]


# (expression, the same index in numpy on X, I, J)
SELECTIONS: list[tuple[str, Any]] = [
    ("x[[0, 2]]", lambda: X[[0, 2]]),
    ("x[[3, 0, 3, 3]]", lambda: X[[3, 0, 3, 3]]),
    ("x[[0, 2], 1]", lambda: X[[0, 2], 1]),
    ("x[:, [1, 1, 4]]", lambda: X[:, [1, 1, 4]]),
    ("x[3, 2:, [1, 3]]", lambda: X[3, 2:, [1, 3]]),
    ("x[:, 3, [1, 3]]", lambda: X[:, 3, [1, 3]]),
    ("x[[0], None, [0]]", lambda: X[[0], None, [0]]),
    ("x[None, [0, 1], :, [2, 2]]", lambda: X[None, [0, 1], :, [2, 2]]),
    ("x[..., [0, -1]]", lambda: X[..., [0, -1]]),
    ("x[[[0, 1], [2, 3]]]", lambda: X[[[0, 1], [2, 3]]]),
    ("x[[[0], [1]], :, [1, 2, 3]]", lambda: X[[[0], [1]], :, [1, 2, 3]]),
    ("x[1:3, [0, 4]]", lambda: X[1:3, [0, 4]]),
    ("x[::-1, [0, 4], ::2]", lambda: X[::-1, [0, 4], ::2]),
    ("x[[True, False, True, True]]", lambda: X[[True, False, True, True]]),
    ("x[:, [True, False, True, False, True]]", lambda: X[:, [True, False, True, False, True]]),
    ("x[eye(4, 5) > 0]", lambda: X[np.eye(4, 5) > 0]),
    ("x[1, reshape(arange(30), (5, 6)) > 14]", lambda: X[1, np.arange(30).reshape(5, 6) > 14]),
    ("x[:2, :2][[[True, False], [False, True]]]",
     lambda: X[:2, :2][np.array([[True, False], [False, True]])]),
    ("x[i]", lambda: X[I]),
    ("x[i, j]", lambda: X[I, J]),
    ("x[1, i]", lambda: X[1, I]),
    ("x[i, :, j]", lambda: X[I, :, J]),
    ("x[:, j, i]", lambda: X[:, J, I]),
    ("x[[-1, -4]]", lambda: X[[-1, -4]]),
    ("x[i][:, 0]", lambda: X[I][:, 0]),
    ("x[[]]", lambda: X[np.array([], dtype=int)]),
    ("x[0, [1, 2], None]", lambda: X[0, [1, 2], None]),
    ("x[..., None, [1, 2]]", lambda: X[..., None, [1, 2]]),
    ("x[[0, 1], [1, 2], [3, 4]]", lambda: X[[0, 1], [1, 2], [3, 4]]),
    ("x[2, [1], 3]", lambda: X[2, [1], 3]),
    ("x[[i, i]]", lambda: X[np.array([I, I])]),
    ("x[-1, ..., [0, 5]]", lambda: X[-1, ..., [0, 5]]),
]


@pytest.mark.parametrize("text,expected", SELECTIONS, ids=[s[0] for s in SELECTIONS])
def test_selection_matches_numpy(text, expected):
    got = run(text, x=X, i=I, j=J)
    want = expected()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("text,expected", SELECTIONS, ids=[s[0] for s in SELECTIONS])
def test_selection_derivatives(text, expected):
    check_derivatives(compiled(text, "x", "i", "j"), X, I, J)


def _reference_update(index: Any, v: np.ndarray, kind: str) -> np.ndarray:
    out = X.copy()
    if kind == "add":
        np.add.at(out, index, v)
    else:
        out[index] = v  # numpy's assignment keeps the last of repeated indices here too
    return out


UPDATES: list[tuple[str, Any, tuple[int, ...]]] = [
    ("[[0, 2]]", lambda: ([0, 2],), (2, 5, 6)),
    ("[[3, 0, 3, 3]]", lambda: ([3, 0, 3, 3],), (4, 5, 6)),
    ("[[3, 0, 3, 3]]", lambda: ([3, 0, 3, 3],), (6,)),
    ("[:, [1, 1, 4]]", lambda: (slice(None), [1, 1, 4]), (4, 3, 6)),
    ("[3, 2:, [1, 3]]", lambda: (3, slice(2, None), [1, 3]), (2, 3)),
    ("[:, 3, [1, 3]]", lambda: (slice(None), 3, [1, 3]), (4, 2)),
    ("[i]", lambda: (I,), (4, 5, 6)),
    ("[i, :, j]", lambda: (I, slice(None), J), (2, 4, 5)),
    ("[1:3, [0, 4]]", lambda: (slice(1, 3), [0, 4]), (2, 2, 6)),
    ("[[True, False, True, True]]", lambda: (np.array([True, False, True, True]),),
     (3, 5, 6)),
    ("[..., [0, 0]]", lambda: (Ellipsis, [0, 0]), (4, 5, 2)),
    ("[[0, 0], [1, 1], [2, 2]]", lambda: ([0, 0], [1, 1], [2, 2]), ()),
]


@pytest.mark.parametrize("kind", ["add", "set"])
@pytest.mark.parametrize("index,numpy_index,vshape", UPDATES,
                         ids=[f"{u[0]}-v{u[2]}" for u in UPDATES])
def test_updates_match_numpy(index, numpy_index, vshape, kind):
    v = rand(vshape, 7)
    got = run(f"x.at{index}.{kind}(v)", x=X, i=I, j=J, v=v)
    np.testing.assert_array_equal(got, _reference_update(numpy_index(), v, kind))


@pytest.mark.parametrize("kind", ["add", "set"])
@pytest.mark.parametrize("index,numpy_index,vshape", UPDATES,
                         ids=[f"{u[0]}-v{u[2]}" for u in UPDATES])
def test_update_derivatives(index, numpy_index, vshape, kind):
    check_derivatives(compiled(f"x.at{index}.{kind}(v)", *NAMES), X, I, J, rand(vshape, 7))


def test_set_with_repeated_indices_keeps_the_last_write():
    v = np.array([1.0, 2.0, 3.0])
    got = run("x.at[[1, 1, 1]].set(v)", x=np.zeros(3), v=v)
    np.testing.assert_array_equal(got, [0.0, 3.0, 0.0])
    p = gradcli.load({"inputs": {"x": [0.0, 0.0, 0.0], "v": [1.0, 2.0, 3.0]},
                      "outputs": {"y": "x.at[[1, 1, 1]].set(v * v)"}})
    grads = p.grad()
    np.testing.assert_array_equal(grads["v"], [0.0, 0.0, 6.0])
    np.testing.assert_array_equal(grads["x"], [1.0, 0.0, 1.0])


def test_gradient_of_repeated_gather_accumulates():
    p = gradcli.load({"inputs": {"x": [1.0, 2.0, 3.0], "i": {"value": [2, 0, 2, 2],
                                                             "dtype": "int64"}},
                      "outputs": {"y": "x[i] ** 2"}})
    np.testing.assert_array_equal(p.grad()["x"], [2.0, 0.0, 18.0])
    assert "i" not in p.grad() or p.grad()["i"] is None


# ---- batched: Jacobians and Hessians vmap the gathers and scatters -----------------------

def _numeric_jacobian(p: Any, name: str, out: str, h: float = 1e-6) -> np.ndarray:
    base = np.asarray(p.values[name], dtype=float)
    columns = []
    for k in range(base.size):
        step = np.zeros(base.size)
        step[k] = h
        plus = p.evaluate(values={name: base + step.reshape(base.shape)})[out]
        minus = p.evaluate(values={name: base - step.reshape(base.shape)})[out]
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=-1).reshape(np.shape(columns[0]) + base.shape)


SPEC = {
    "inputs": {"x": rand((4, 3), 2).tolist(), "v": rand((2, 3), 3).tolist(),
               "i": {"value": [3, 1, 3], "dtype": "int64"}},
    "outputs": {"y": "sin(x[i, [0, 2, 2]]) * sum(x[[1, 1], :]) "
                     "+ sum(x.at[[0, 0]].add(v)[::3]) "
                     "+ sum(x.at[:, [2, 2, 0]].set(2 * x[::-1, ::-1]) ** 2)"},
}


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_batches_gathers_and_scatters(mode):
    p = gradcli.load(SPEC)
    jac = p.jacobian(mode=mode)["y"]
    for name in ("x", "v"):
        np.testing.assert_allclose(jac[name], _numeric_jacobian(p, name, "y"), rtol=1e-7,
                                   atol=1e-8)


def test_hessian_batches_gathers_and_scatters():
    spec = {**SPEC, "outputs": {"y": "sum(sin(x[i, [0, 2, 2]]) * sum(x[[1, 1], :]) "
                                     "+ sum(x.at[[0, 0]].add(v * v)) ** 2)"}}
    p = gradcli.load(spec)
    hess = p.hessian()
    x0 = np.asarray(p.values["x"])
    h = 1e-5
    numeric = []
    for k in range(x0.size):
        step = np.zeros(x0.size)
        step[k] = h
        plus = p.grad(values={"x": x0 + step.reshape(x0.shape)})["x"]
        minus = p.grad(values={"x": x0 - step.reshape(x0.shape)})["x"]
        numeric.append((plus - minus) / (2 * h))
    expected = np.stack(numeric, axis=-1).reshape(x0.shape + x0.shape)
    np.testing.assert_allclose(hess["x"]["x"], expected, rtol=1e-6, atol=1e-7)


# ---- take, take_along_axis, put_along_axis --------------------------------------------

@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("indices", [[1, 0, 1], [[2, 0], [1, 1]], 1, [-1]])
def test_take(axis, indices):
    a = rand((3, 4), 4)
    got = evaluate([build("take", const(a), indices, axis=axis)], {})[0]
    np.testing.assert_array_equal(got, np.take(a, indices, axis=axis))
    check_derivatives(lambda x: build("take", x, indices, axis=axis), a)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_take_and_put_along_axis(axis):
    a = rand((3, 4), 5)
    order = np.argsort(a, axis=axis) if axis is not None else np.argsort(a, axis=None)
    got = evaluate([build("take_along_axis", const(a), const(order), axis=axis)], {})[0]
    np.testing.assert_array_equal(got, np.take_along_axis(a, order, axis=axis))
    check_derivatives(lambda x, i: build("take_along_axis", x, i, axis=axis), a, order)
    if axis is None:
        return
    picks = order[:1] if axis == 0 else order[:, :2]  # broadcast against a outside axis
    values = rand(picks.shape, 6)
    put = evaluate([build("put_along_axis", const(a), const(picks), const(values),
                          axis=axis)], {})[0]
    expected = a.copy()
    np.put_along_axis(expected, picks, values, axis=axis)
    np.testing.assert_array_equal(put, expected)
    check_derivatives(lambda x, i, v: build("put_along_axis", x, i, v, axis=axis), a, picks,
                      values)


# ---- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("x[x > 0]", "boolean mask index must be a constant"),
    ("x[[0.5, 1]]", "indices must be integers"),
    ("x[[4, 0]]", "index 4 is out of range for axis 0 of size 4"),
    ("x[:, [0, -6]]", "index -6 is out of range for axis 1 of size 5"),
    ("x[[0, 1], [0, 1, 2]]", "do not broadcast together"),
    ("x[[True, False]]", r"boolean mask of shape \(2,\) does not match"),
    ("x[0, 0, 0, [0]]", "too many indices"),
    ("x[[0], ..., ...]", "single ellipsis"),
    ("x[[[0, 1], [2]]]", "ragged"),
    ("x[True]", "boolean scalar"),
    ("x.at[[0, 1]].add(ones((3, 5, 6)))", r"does not fit x\[an integer array"),
    ("x[v]", "cannot be an index"),
    ("split(x, 2)[2]", "out of range for a list of 2"),
])
def test_index_errors(text, message):
    with pytest.raises(SpecError, match=message):
        compile_expr(text, {"x": leaf("x", (4, 5, 6), "float64"),
                            "v": leaf("v", (2,), "float64")}, CTX, HERE)


def test_errors_are_located_and_exit_2(tmp_path):
    from click.testing import CliRunner

    from gradcli.cli.group import cli

    spec = tmp_path / "s.yaml"
    spec.write_text("inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: x[[0, 2]]\n")
    result = CliRunner().invoke(cli, ["eval", str(spec)])
    assert result.exit_code == 2 and result.stdout == ""
    assert "s.yaml:4" in result.stderr and "index 2 is out of range" in result.stderr
    # an integer input out of range is found when the program runs
    spec.write_text("inputs:\n  x: [1.0, 2.0]\n  i: {value: [0, 5], dtype: int64}\n"
                    "outputs:\n  y: x[i]\n")
    result = CliRunner().invoke(cli, ["grad", str(spec)])
    assert result.exit_code == 2 and "index 5 is out of range" in result.stderr
    assert "Traceback" not in result.stderr


def test_per_sample_jacobians_and_hessians_with_gathers_and_sorts():
    spec = {"inputs": {"x": rand((3, 4), 8).tolist(),
                       "i": {"value": [3, 0, 0], "dtype": "int64"}},
            "outputs": {"y": "sort(x, axis=1)[:, i] * cumprod(x, axis=1)[:, :3] "
                             "+ take_along_axis(x, argsort(x, axis=1), axis=1)[:, 1:] ** 2"}}
    p = gradcli.load(spec)
    per_sample, full = p.jacobian(batch_axis=0)["y"]["x"], p.jacobian()["y"]["x"]
    np.testing.assert_allclose(per_sample, np.stack([full[k, :, k] for k in range(3)]),
                               rtol=1e-14, atol=1e-15)
    hess_rows, hess = p.hessian(batch_axis=0)["x"]["x"], p.hessian()["x"]["x"]
    np.testing.assert_allclose(hess_rows, np.stack([hess[k, :, k] for k in range(3)]),
                               rtol=1e-14, atol=1e-15)


def _random_index(rng: np.random.Generator) -> list[Any]:
    """An index of 1-4 items: ints, slices, None, ..., lists of ints (1-D or 2-D)."""
    def item() -> Any:
        kind = rng.integers(7)
        if kind == 0:
            return int(rng.integers(-4, 4))
        if kind == 1:
            lo, hi, step = (int(v) for v in rng.integers(-5, 6, 3))
            return slice(lo if rng.random() < 0.7 else None, hi if rng.random() < 0.7 else None,
                         (step or 1) if rng.random() < 0.5 else None)
        if kind == 2:
            return None
        if kind == 3:
            return Ellipsis
        if kind == 4:
            return [int(v) for v in rng.integers(-3, 3, rng.integers(0, 4))]
        if kind == 5:
            return [[int(v)] for v in rng.integers(-3, 3, 2)]
        return [int(v) for v in rng.integers(-3, 3, 2)]

    return [item() for _ in range(rng.integers(1, 5))]


def _text(item: Any) -> str:
    if isinstance(item, slice):
        parts = ["" if v is None else str(v) for v in (item.start, item.stop, item.step)]
        return ":".join(parts)
    return "..." if item is Ellipsis else repr(item)


def test_random_index_forms_agree_with_numpy():
    rng = np.random.default_rng(2024)
    x = rand((3, 4, 5), 11)
    checked_values = 0
    for _ in range(400):
        index = _random_index(rng)
        text = f"x[{', '.join(_text(i) for i in index)}]"
        try:
            want = x[tuple(np.asarray(i, dtype=np.int64) if isinstance(i, list) else i
                           for i in index)]
        except IndexError:
            with pytest.raises(SpecError):
                run(text, x=x)
            continue
        got = run(text, x=x)
        assert got.shape == want.shape, text
        np.testing.assert_array_equal(got, want, err_msg=text)
        checked_values += 1
        # the same index as an update: .add accumulates as np.add.at does
        v = rand(want.shape, 12)
        expected = x.copy()
        np.add.at(expected, tuple(np.asarray(i, dtype=np.int64) if isinstance(i, list) else i
                                  for i in index), v)
        added = run(f"x.at[{text[2:-1]}].add(v)", x=x, v=v)
        # repeats may add in another order: a few roundings of sums below ~20 in size
        np.testing.assert_allclose(added, expected, rtol=0, atol=1e-13, err_msg=text)
    assert checked_values > 150
