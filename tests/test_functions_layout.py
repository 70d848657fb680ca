"""Splitting, stacking and axis moves (language/functions/layout.py), list
results (indexing them, unpacking them in `let`), linspace with traced
endpoints and einsum's sublist form: numpy's values, derivatives against
finite differences, errors."""

from __future__ import annotations

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import build, rand, value

import gradcli
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import const, leaf
from gradcli.errors import ShapeError, SpecError


def values(nodes) -> list[np.ndarray]:
    return evaluate(list(nodes), {})


SPLITS = [
    ("split", (6, 4), 3, 0), ("split", (6, 4), [1, 4], 0), ("split", (6, 4), 2, 1),
    ("split", (6, 4), [-1, 10], 0), ("split", (6, 4), [3, 1], 0), ("split", (5,), 1, -1),
    ("array_split", (7, 2), 3, 0), ("array_split", (7, 2), 5, 0), ("array_split", (2, 7), 4, 1),
    ("array_split", (3,), 5, 0), ("hsplit", (4, 6), 2, None), ("hsplit", (6,), [2], None),
    ("vsplit", (4, 6), [1, 3], None), ("dsplit", (2, 3, 4), 2, None),
]


@pytest.mark.parametrize("name,shape,sections,axis", SPLITS)
def test_splits_match_numpy(name, shape, sections, axis):
    x = rand(shape, 1)
    kwargs = {} if axis is None else {"axis": axis}
    parts = build(name, const(x), sections, **kwargs)
    expected = getattr(np, name)(x, sections, **kwargs)
    assert isinstance(parts, list) and len(parts) == len(expected)
    for got, want in zip(values(parts), expected):
        np.testing.assert_array_equal(got, want)
    last = len(expected) - 1
    if expected[last].size:
        check_derivatives(lambda a: build(name, a, sections, **kwargs)[last], x)


def test_split_errors():
    x = leaf("x", (5, 2), "float64")
    with pytest.raises(ShapeError, match="does not split into 2 equal sections"):
        build("split", x, 2)
    with pytest.raises(SpecError, match="must be a positive integer"):
        build("array_split", x, 0)
    with pytest.raises(ShapeError, match="vsplit needs at least 2 axes"):
        build("vsplit", leaf("y", (4,), "float64"), 2)
    with pytest.raises(ShapeError, match="dsplit needs at least 3 axes"):
        build("dsplit", x, 2)


# ---- list results in expressions and let ---------------------------------------------

def problem(outputs, lets=None, x=None):
    spec = {"inputs": {"x": (rand((6, 2), 2) if x is None else x).tolist()},
            "outputs": outputs}
    if lets:
        spec["let"] = lets
    return gradcli.load(spec)


def test_list_items_and_slices():
    p = problem({"y": "split(x, 3)[1]", "z": "concat(split(x, 3)[1:], axis=1)",
                 "w": "array_split(x, 4)[-1]"})
    x = np.asarray(p.values["x"])
    out = p.evaluate()
    np.testing.assert_array_equal(out["y"], x[2:4])
    np.testing.assert_array_equal(out["z"], np.concatenate([x[2:4], x[4:]], axis=1))
    np.testing.assert_array_equal(out["w"], x[5:])


def test_let_unpacks_a_list_of_arrays():
    p = problem({"y": "a * 1 + b * 2 + c * 3"}, {"a, b, c": "split(x, 3)"})
    x = np.asarray(p.values["x"])
    np.testing.assert_array_equal(p.evaluate()["y"], x[:2] + 2 * x[2:4] + 3 * x[4:])
    np.testing.assert_array_equal(p.grad()["x"], np.repeat([1.0, 2.0, 3.0], 2)[:, None]
                                  * np.ones((6, 2)))
    # each name is a source of its own: the gradient at b
    np.testing.assert_array_equal(p.grad(wrt=["b"])["b"], np.full((2, 2), 2.0))


def test_let_unpacks_uneven_pieces_and_array_rows():
    p = problem({"y": "sum(a) + 10 * sum(b)", "z": "r0 - r1"},
                {"a, b": "array_split(x, [5])", "r0, r1": "x[:2]", "one,": "split(x, 1)"})
    x = np.asarray(p.values["x"])
    out = p.evaluate()
    assert out["y"] == pytest.approx(x[:5].sum() + 10 * x[5:].sum())
    np.testing.assert_array_equal(out["z"], x[0] - x[1])


@pytest.mark.parametrize("lets,message", [
    ({"a, b": "split(x, 3)"}, "2 names are bound, but the expression gives 3 arrays"),
    ({"a, b": "sum(x)"}, "gives one value, not a list"),
    ({"a, a": "split(x, 2)"}, "defined twice"),
    ({"a, 1b": "split(x, 2)"}, "must be an identifier"),
])
def test_let_unpacking_errors(lets, message):
    with pytest.raises(SpecError, match=message):
        problem({"y": "x"}, lets)


def test_an_uneven_list_as_a_value_says_how_to_use_it():
    with pytest.raises(SpecError, match=r"unpacked by a let with several names"):
        problem({"y": "array_split(x, 4)"})
    # equal pieces are one array, as np.array(np.split(x, 3))
    p = problem({"y": "split(x, 3)"})
    assert p.evaluate()["y"].shape == (3, 2, 2)


# ---- stacking, appending, moving axes --------------------------------------------------

@pytest.mark.parametrize("name", ["vstack", "hstack", "dstack", "column_stack"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (4, 3)], [(2, 3), (2, 1)],
                                    [(), ()], [(2, 3, 1), (2, 3, 2)], [(3,), (3, 2)]])
def test_stacks_match_numpy(name, shapes):
    arrays = [rand(s, k) for k, s in enumerate(shapes)]
    try:
        expected = getattr(np, name)(arrays)
    except ValueError:
        with pytest.raises(SpecError):
            build(name, [const(a) for a in arrays])
        return
    got = value(name, [const(a) for a in arrays])
    np.testing.assert_array_equal(got, expected)
    check_derivatives(lambda *xs: build(name, list(xs)), *arrays)


@pytest.mark.parametrize("shapes,axis", [([(2, 3), (4,)], None), ([(2, 3), (1, 3)], 0),
                                         ([(2, 3), (2, 2)], 1), ([(), (2,)], None)])
def test_append(shapes, axis):
    a, b = rand(shapes[0], 1), rand(shapes[1], 2)
    np.testing.assert_array_equal(value("append", a, b, axis=axis), np.append(a, b, axis=axis))
    check_derivatives(lambda x, y: build("append", x, y, axis=axis), a, b)
    if axis is not None:
        with pytest.raises(ShapeError):
            build("append", const(a), const(a[0]), axis=axis)


@pytest.mark.parametrize("source,destination", [(0, 2), (-1, 0), ((0, 1), (2, 0)),
                                                ([2, 0], [0, 1])])
def test_moveaxis(source, destination):
    x = rand((2, 3, 4), 3)
    np.testing.assert_array_equal(value("moveaxis", x, source, destination),
                                  np.moveaxis(x, source, destination))
    check_derivatives(lambda a: build("moveaxis", a, source, destination), x)


@pytest.mark.parametrize("a1,a2", [(0, 2), (1, -1), (1, 1)])
def test_swapaxes(a1, a2):
    x = rand((2, 3, 4), 4)
    np.testing.assert_array_equal(value("swapaxes", x, a1, a2), np.swapaxes(x, a1, a2))
    check_derivatives(lambda a: build("swapaxes", a, a1, a2), x)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_atleast(n, shape):
    x = rand(shape, 5)
    got = value(f"atleast_{n}d", x)
    np.testing.assert_array_equal(got, getattr(np, f"atleast_{n}d")(x))
    several = build(f"atleast_{n}d", const(x), const(x))
    assert isinstance(several, list) and len(several) == 2
    check_derivatives(lambda a: build(f"atleast_{n}d", a), x)


def test_moveaxis_errors():
    x = leaf("x", (2, 3), "float64")
    with pytest.raises(SpecError, match="same number of axes"):
        build("moveaxis", x, (0, 1), 0)
    with pytest.raises(ShapeError, match="repeat an axis"):
        build("moveaxis", x, (0, 0), (0, 1))


# ---- linspace with traced endpoints ---------------------------------------------------------

@pytest.mark.parametrize("num,endpoint,axis", [(5, True, 0), (4, False, 0), (1, True, 0),
                                               (1, False, 0), (0, True, 0), (3, True, 1),
                                               (3, True, -1), (2, True, 0)])
def test_linspace_with_array_endpoints(num, endpoint, axis):
    lo, hi = rand((2, 3), 6), rand((3,), 7)
    expected = np.linspace(lo, hi, num, endpoint=endpoint, axis=axis)
    got = value("linspace", lo, hi, num, endpoint=endpoint, axis=axis)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=4e-16)
    if num:
        check_derivatives(lambda a, b: build("linspace", a, b, num, endpoint=endpoint,
                                             axis=axis), lo, hi)


def test_linspace_of_inputs_through_the_api():
    p = gradcli.load({"inputs": {"a": 1.0, "b": 3.0}, "outputs": {"y": "linspace(a, b, 5)"}})
    np.testing.assert_array_equal(p.evaluate()["y"], np.linspace(1.0, 3.0, 5))
    jac = p.jacobian()["y"]
    np.testing.assert_allclose(jac["a"], [1.0, 0.75, 0.5, 0.25, 0.0], atol=1e-16)
    np.testing.assert_allclose(jac["b"], [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-16)
    # numbers still give numpy's constant, exactly
    np.testing.assert_array_equal(value("linspace", 0, 1, 7), np.linspace(0, 1, 7))


# ---- einsum's sublist form ---------------------------------------------------------------------

@pytest.mark.parametrize("args_of,expected_of", [
    (lambda a, b: (a, [0, 1], b, [1, 2], [0, 2]), lambda a, b: np.einsum(a, [0, 1], b, [1, 2],
                                                                         [0, 2])),
    (lambda a, b: (a, [0, 1], b, [1, 2]), lambda a, b: np.einsum(a, [0, 1], b, [1, 2])),
    (lambda a, b: (a, [1, 0], [0, 1]), lambda a, b: np.einsum(a, [1, 0], [0, 1])),
    (lambda a, b: (a, [Ellipsis, 1], b, [1, 5], [Ellipsis, 5]),
     lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1, 5], [Ellipsis, 5])),
    (lambda a, b: (a, [Ellipsis, 1], [Ellipsis]), lambda a, b: np.einsum(a, [Ellipsis, 1],
                                                                          [Ellipsis])),
    (lambda a, b: (a, [30, 2], b, [2, 40]), lambda a, b: np.einsum(a, [30, 2], b, [2, 40])),
])
def test_einsum_sublists(args_of, expected_of):
    a, b = rand((2, 3), 8), rand((3, 4), 9)
    got = value("einsum", *args_of(a, b))
    np.testing.assert_allclose(got, expected_of(a, b), rtol=1e-14)
    nodes = [i for i, item in enumerate(args_of(a, b)) if isinstance(item, np.ndarray)]

    def fn(*xs):
        items = list(args_of(a, b))
        for k, x in zip(nodes, xs):
            items[k] = x
        return build("einsum", *items)

    check_derivatives(fn, *[args_of(a, b)[k] for k in nodes])


def test_einsum_sublist_errors():
    x = leaf("x", (2, 2), "float64")
    with pytest.raises(SpecError, match="axis labels are integers 0 to 51"):
        build("einsum", x, [0, 52])
    with pytest.raises(SpecError, match="must be a list of axis labels"):
        build("einsum", x, [0, 1], x)


def test_schema_and_completion_know_let_keys_with_several_names(tmp_path):
    import yaml
    from schema_check import errors

    from gradcli.cli.completion import read_names
    from gradcli.language.schema import spec_schema

    spec = {"inputs": {"x": [1.0, 2.0]}, "let": {"a, b": "split(x, 2)", "c,": "split(x, 1)"},
            "outputs": {"y": "a + b + c"}}
    assert errors(spec, spec_schema()) == []
    bad = {**spec, "let": {"a b": "x"}}
    assert errors(bad, spec_schema()) != []
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert read_names(str(path)).lets == ("a", "b", "c")
    assert gradcli.load(spec).evaluate()["y"].tolist() == [4.0, 5.0]  # c is all of x


@pytest.mark.parametrize("spec,message", [
    ({"outputs": {"y": "array_split(x, 1000000000)[0]"}}, "more than 10000 arrays"),
    ({"let": {"a, b": "x"}, "outputs": {"y": "a"}}, "gives an array of 6 rows"),
    ({"outputs": {"y": "diff(zeros((20000,)), 10001)"}},
     "at most 10000"),
])
def test_typos_that_would_build_huge_lists_are_refused(spec, message):
    with pytest.raises(SpecError, match=message):
        gradcli.load({"inputs": {"x": rand((6, 2), 1).tolist()}, **spec})


def test_constant_masks_too_large_to_fold_are_still_constants():
    p = gradcli.load({"inputs": {"x": "ones((100, 100))"}, "outputs": {"y": "x[eye(100) > 0]"}})
    assert p.evaluate()["y"].shape == (100,)
