"""`patches` and `unpatch` (engine/ops/windows.py): windows against a naive
loop, the pair as adjoints, derivatives of the pair and of the pools built
on it (max over the taps: ties split evenly; a -inf padded cell never wins),
batching and sympy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives
from vmapcheck import check_vmap

from gradcli.engine.autodiff import grad
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops.windows import ROWS, patches
from gradcli.errors import ShapeError


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


# (id, shape, axes, window, strides, dilation, padding)
CASES = [
    ("2d-pool", (2, 4, 6, 3), (1, 2), (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0))),
    ("2d-overlap-same", (1, 5, 5, 2), (1, 2), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),
    ("2d-dilated-asym", (2, 6, 5, 1), (1, 2), (2, 3), (1, 2), (2, 1), ((0, 1), (1, 0))),
    ("1d", (3, 7, 2), (1,), (3,), (2,), (1,), ((1, 1),)),
    ("middle-axis", (4, 5), (0,), (2,), (1,), (1,), ((0, 1),)),
]
IDS = [c[0] for c in CASES]


def _attrs(case, value: float = 0.0) -> dict:
    _, _, axes, window, strides, dilation, padding = case
    return {"axes": axes, "window": window, "strides": strides, "dilation": dilation,
            "padding": padding, "value": value}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_patches_are_the_windows(case) -> None:
    _, shape, axes, window, strides, dilation, padding = case
    x = rand(*shape)
    p = evaluate([apply("patches", (leaf("x", shape, "float64"),), _attrs(case, -7.0))],
                 {"x": x})[0]
    widths = [(0, 0)] * len(shape)
    for a, pads in zip(axes, padding):
        widths[a] = pads
    xp = np.pad(x, widths, constant_values=-7.0)
    for position in np.ndindex(p.shape):
        cell = list(position[:len(shape)])
        for j, a in enumerate(axes):
            cell[a] = cell[a] * strides[j] + position[len(shape) + j] * dilation[j]
        assert p[position] == xp[tuple(cell)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unpatch_is_the_adjoint(case) -> None:
    shape = case[1]
    node = apply("patches", (leaf("x", shape, "float64"),), _attrs(case))
    back = apply("unpatch", (leaf("p", node.shape, "float64"),),
                 {**{k: v for k, v in _attrs(case).items() if k != "value"}, "shape": shape})
    x, p = rand(*shape), rand(*node.shape, seed=1)
    px, up = evaluate([node, back], {"x": x, "p": p})
    assert np.isclose(float(np.sum(px * p)), float(np.sum(x * up)), rtol=1e-12)


def _builders(case):
    shape = case[1]
    attrs = _attrs(case)
    out = apply("patches", (leaf("x", shape, "float64"),), attrs).shape
    back = {**{k: v for k, v in attrs.items() if k != "value"}, "shape": shape}
    n = len(case[3])
    axes = tuple(range(len(shape), len(shape) + n))
    return [("patches", lambda x: apply("patches", (x,), attrs), shape),
            ("unpatch", lambda p: apply("unpatch", (p,), back), out),
            ("max_pool", lambda x: apply("max", (apply("patches", (x,), {**attrs,
                                                                         "value": -np.inf}),),
                                         {"axes": axes}), shape)]


def test_every_row_is_covered() -> None:
    assert {name for name, _, _ in _builders(CASES[0])} >= {row.name for row in ROWS}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_derivatives(case) -> None:
    for _, build, shape in _builders(case):
        check_derivatives(build, rand(*shape))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_batching(case) -> None:
    for name, build, shape in _builders(case):
        if name in TABLE:
            check_batching(build, rand(*shape), batched=(True,))
        check_vmap(build, [rand(3, *shape)], [True])  # the node, and its gradient


@pytest.mark.parametrize("case", CASES[1:4], ids=IDS[1:4])
def test_sympy_rules_agree_with_the_forward(case) -> None:
    for name, build, shape in _builders(case)[:2]:
        x = rand(*shape)
        node = build(leaf("x", shape, "float64"))
        want = evaluate([node], {"x": x})[0]
        symbolic = np.empty(shape, dtype=object)
        for index in np.ndindex(shape):
            symbolic[index] = sympy.Float(float(x[index]), 30)
        got = TABLE[name].sympy(symbolic, **node.attrs)
        np.testing.assert_allclose(np.array(got, dtype=float), want, rtol=1e-13)


def test_max_pool_ties_split_evenly_and_padding_never_wins() -> None:
    x = np.array([[1.0, 3.0, 3.0], [0.0, 3.0, -1.0]]).reshape(1, 2, 3, 1)
    node = leaf("x", x.shape, "float64")
    windows = patches(node, (1, 2), (2, 2), (2, 2), (1, 1), ((0, 0), (0, 1)), -np.inf)
    pooled = apply("max", (windows,), {"axes": (4, 5)})
    value = evaluate([pooled], {"x": x})[0]
    np.testing.assert_array_equal(value.ravel(), [3.0, 3.0])
    (g,) = grad([pooled], [node])
    got = evaluate([g], {"x": x})[0].reshape(2, 3)
    # first window: two 3s share its cotangent; second (a padded column): its one 3 gets it
    np.testing.assert_array_equal(got, [[0.0, 0.5, 1.0], [0.0, 0.5, 0.0]])


def test_negative_infinity_padding_never_reaches_a_derivative() -> None:
    x = rand(1, 3, 3, 1)
    node = leaf("x", x.shape, "float64")
    windows = patches(node, (1, 2), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), -np.inf)
    (g,) = grad([windows], [node])
    assert np.all(np.isfinite(evaluate([g], {"x": x})[0]))


@pytest.mark.parametrize("shape,attrs,fragment", [
    ((2, 3), {"axes": (1,), "window": (4,)}, "does not fit"),
    ((2, 3), {"axes": (2,), "window": (1,)}, "increasing axes"),
    ((2, 3), {"axes": (1,), "window": (0,)}, ">= 1"),
])
def test_shape_errors_are_plain(shape, attrs, fragment) -> None:
    full = {"strides": (1,), "dilation": (1,), "padding": ((0, 0),), "value": 0.0, **attrs}
    with pytest.raises(ShapeError, match=fragment):
        apply("patches", (leaf("x", shape, "float64"),), full)


def test_every_tap_of_every_window_is_listed_once() -> None:
    """A window count check independent of the layout: unpatch(ones) counts
    how many windows cover each cell."""
    shape, attrs = (1, 5, 1), {"axes": (1,), "window": (3,), "strides": (2,), "dilation": (1,),
                               "padding": ((1, 1),)}
    node = apply("patches", (leaf("x", shape, "float64"),), {**attrs, "value": 0.0})
    counts = evaluate([apply("unpatch", (leaf("p", node.shape, "float64"),),
                             {**attrs, "shape": shape})], {"p": np.ones(node.shape)})[0]
    expected = np.zeros(7)
    for start in itertools.islice(range(0, 5, 2), 3):
        expected[start:start + 3] += 1
    np.testing.assert_array_equal(counts.ravel(), expected[1:6])
