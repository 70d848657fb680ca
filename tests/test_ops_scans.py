"""Primitive-level tests of the scan and order rows (engine/ops/scans.py):
cumsum, cumprod, linrec, sort, argsort.  First and second derivatives
against central differences at several shapes and axes, batching, sympy
(sort and argsort have none), and the conventions: cumprod's derivatives are exact where x has zeros
(compared with the products of the other factors, exactly), sort's
derivative follows a stable sort at ties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives

from gradcli.engine.autodiff import grad, jvp, vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops.scans import ROWS
from gradcli.errors import NoSymbolicForm


def op(name: str, **attrs: Any) -> Callable[..., Node]:
    return lambda *xs: apply(name, xs, attrs)


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 13 * len(shape)).standard_normal(shape)


def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values 0.5 apart in random order: no ties within a finite-difference step."""
    size = int(np.prod(shape, dtype=int))
    return (np.random.default_rng(seed).permutation(size) * 0.5 - size / 4).reshape(shape)


def with_zeros(*shape: int, where: tuple[tuple[int, ...], ...]) -> np.ndarray:
    x = rand(*shape, seed=5)
    for position in where:
        x[position] = 0.0
    return x


Case = tuple[str, Callable[..., Node], tuple[np.ndarray, ...]]
CASES: list[Case] = [
    *[(f"cumsum-{shape}-axis{axis}-rev{rev}", op("cumsum", axis=axis, reverse=rev),
       (rand(*shape),))
      for shape, axis in [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 2), 2)]
      for rev in (False, True)],
    ("cumsum-empty", op("cumsum", axis=0, reverse=False), (rand(0, 3),)),
    *[(f"cumprod-{shape}-axis{axis}", op("cumprod", axis=axis), (rand(*shape),))
      for shape, axis in [((5,), 0), ((1,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 2), 1)]],
    ("cumprod-one-zero", op("cumprod", axis=0), (with_zeros(5, where=((2,),)),)),
    ("cumprod-two-zeros", op("cumprod", axis=0), (with_zeros(6, where=((1,), (4,))),)),
    ("cumprod-zero-first", op("cumprod", axis=0), (with_zeros(4, where=((0,),)),)),
    ("cumprod-zero-last", op("cumprod", axis=0), (with_zeros(4, where=((3,),)),)),
    ("cumprod-zeros-2d", op("cumprod", axis=1),
     (with_zeros(3, 4, where=((0, 1), (1, 1), (1, 2), (2, 3))),)),
    ("cumprod-all-zeros", op("cumprod", axis=0), (np.zeros(3),)),
    ("cumprod-empty", op("cumprod", axis=1), (rand(2, 0),)),
    *[(f"linrec-{shape}-axis{axis}-rev{rev}", op("linrec", axis=axis, reverse=rev),
       (rand(*shape), rand(*shape, seed=1)))
      for shape, axis in [((5,), 0), ((3, 4), 1), ((3, 4), 0)] for rev in (False, True)],
    ("linrec-zeros", op("linrec", axis=0, reverse=False),
     (with_zeros(5, where=((1,), (3,))), rand(5, seed=2))),
    *[(f"sort-{shape}-axis{axis}", op("sort", axis=axis), (distinct(*shape),))
      for shape, axis in [((6,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 2), ((1,), 0)]],
    ("sort-empty", op("sort", axis=0), (rand(0),)),
]


def test_every_row_is_covered():
    ops = {case[1](*[leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(case[2])]).op
           for case in CASES}
    assert ops | {"argsort"} == {row.name for row in ROWS}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_derivatives(case: Case):
    _, build, arrays = case
    check_derivatives(build, *arrays)
    if len(arrays) > 1:
        for i in range(len(arrays)):
            check_derivatives(build, *arrays, wrt=[i])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batching(case: Case):
    _, build, arrays = case
    count = len(arrays)
    for k in range(count):
        check_batching(build, *arrays, batched=tuple(i == k for i in range(count)))
    if count > 1:
        check_batching(build, *arrays, batched=(True,) * count)


def _sym(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(array.shape):
        out[index] = sympy.Float(float(array[index]))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sympy(case: Case):
    _, build, arrays = case
    xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
    out = build(*xs)
    if out.op == "sort":  # sympy has no sort: check uses finite differences
        with pytest.raises(NoSymbolicForm, match="sympy has no sort"):
            TABLE["sort"].sympy(*(_sym(a) for a in arrays), **out.attrs)
        return
    expected = evaluate([out], {f"x{i}": a for i, a in enumerate(arrays)})[0]
    symbolic = TABLE[out.op].sympy(*(_sym(a) for a in arrays), **out.attrs)
    assert np.shape(symbolic) == expected.shape
    got = np.array([float(v) for v in np.ravel(symbolic)]).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_argsort_rows():
    x = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 0.0, -1.0, 5.0]])
    node = leaf("x", x.shape, "float64")
    out = apply("argsort", (node,), {"axis": 1})
    assert out.dtype == "int64" and TABLE["argsort"].vjp is None
    np.testing.assert_array_equal(evaluate([out], {"x": x})[0], [[1, 3, 0, 2], [2, 0, 1, 3]])
    check_batching(op("argsort", axis=0), x, batched=(True,))
    with pytest.raises(NoSymbolicForm):
        TABLE["argsort"].sympy(_sym(x), axis=1)


# ---- cumprod at zeros: the exact products of the other factors ---------------------------

def _jacobian_by_products(x: np.ndarray) -> np.ndarray:
    n = len(x)
    out = np.zeros((n, n))
    for k in range(n):
        for j in range(k + 1):
            out[k, j] = np.prod([x[i] for i in range(k + 1) if i != j])
    return out


@pytest.mark.parametrize("zeros", [(), (0,), (2,), (4,), (1, 3), (0, 4), (1, 2, 3)])
def test_cumprod_derivatives_are_exact_at_zeros(zeros):
    x = np.array([1.5, -2.0, 0.5, 3.0, -0.25])
    x[list(zeros)] = 0.0
    expected = _jacobian_by_products(x)
    node = leaf("x", (5,), "float64")
    out = apply("cumprod", (node,), {"axis": 0})
    for k in range(5):  # each row of the Jacobian by a vjp, each column by a jvp
        seed = np.eye(5)[k]
        (g,) = vjp([out], [const(seed)], [node])
        np.testing.assert_array_equal(evaluate([g], {"x": x})[0], expected[k])
        (t,) = jvp([out], {id(node): const(seed)})
        np.testing.assert_array_equal(evaluate([t], {"x": x})[0], expected[:, k])


def test_cumprod_second_derivative_at_zeros():
    # d2 c_k / dx_i dx_j = product of the factors other than i and j (i != j, both <= k)
    x = np.array([2.0, 0.0, -3.0, 0.0])
    node = leaf("x", (4,), "float64")
    (g,) = grad([apply("cumprod", (node,), {"axis": 0})], [node])
    hessian = np.array([evaluate([h], {"x": x})[0] for h in [
        grad([apply("sum", (apply("mul", (g, const(np.eye(4)[j]))),), {"axes": (0,)})],
             [node])[0] for j in range(4)]])
    expected = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                expected[i, j] = sum(np.prod([x[m] for m in range(k + 1) if m not in (i, j)])
                                     for k in range(max(i, j), 4))
    np.testing.assert_array_equal(hessian, expected)


# ---- sort at ties: the stable permutation ---------------------------------------------------

def test_sort_ties_follow_the_stable_order():
    x = np.array([2.0, 1.0, 2.0, 2.0, 0.0])
    node = leaf("x", (5,), "float64")
    out = apply("sort", (node,), {"axis": 0})
    np.testing.assert_array_equal(evaluate([out], {"x": x})[0], [0.0, 1.0, 2.0, 2.0, 2.0])
    # output places 2, 3, 4 hold the tied 2.0s of inputs 0, 2, 3, in that order
    (g,) = vjp([out], [const(np.array([1.0, 10.0, 100.0, 1000.0, 10000.0]))], [node])
    np.testing.assert_array_equal(evaluate([g], {"x": x})[0],
                                  [100.0, 10.0, 1000.0, 10000.0, 1.0])
    (t,) = jvp([out], {id(node): const(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))})
    np.testing.assert_array_equal(evaluate([t], {"x": x})[0], [5.0, 2.0, 1.0, 3.0, 4.0])


def test_sort_gradient_is_a_scatter_by_the_permutation():
    node = leaf("x", (4,), "float64")
    (g,) = vjp([apply("sort", (node,), {"axis": 0})], [leaf("u", (4,), "float64")], [node])
    assert g.op == "scatter_add"
    assert any(i.op == "argsort" for i in g.inputs)
