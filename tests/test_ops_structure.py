"""Primitive-level tests of every row in `gradcli/engine/ops/structure.py`.

The structural ops move, select, reduce or create elements; their
derivatives are other structural ops, so the finite-difference checks go to
second order (vjp of vjp) to exercise the rules' own derivatives too.  Each
case is also checked for batching (with batched and unbatched operands) and
for its sympy rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives

from gradcli.engine.autodiff import grad, jvp, vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import ROWS

E = Ellipsis
S = slice


def op(name: str, **attrs: Any) -> Callable[..., Node]:
    """A builder applying the primitive itself (the nodes.* helpers skip no-ops)."""
    return lambda *xs: apply(name, xs, attrs)


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.asarray(np.random.default_rng(seed + 97 * len(shape)).standard_normal(shape))


def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values 0.5 apart in random order, so `max` has no ties within h of each other."""
    size = int(np.prod(shape, dtype=int))
    rng = np.random.default_rng(seed)
    return (rng.permutation(size) * 0.5 - size / 4).reshape(shape).astype(float)


# (case id, builder, arrays, batched-flag combinations to check)
Case = tuple[str, Callable[..., Node], tuple[np.ndarray, ...], list[tuple[bool, ...]]]
ONE = [(True,)]
TWO = [(True, False), (False, True), (True, True)]
THREE = [(True, False, False), (False, True, False), (False, False, True), (True, True, True)]

CASES: list[Case] = [
    ("reshape-(2,3)->(3,2)", op("reshape", shape=(3, 2)), (rand(2, 3),), ONE),
    ("reshape-(6,)->(1,2,3)", op("reshape", shape=(1, 2, 3)), (rand(6),), ONE),
    ("reshape-()->(1,1)", op("reshape", shape=(1, 1)), (rand(),), ONE),
    ("reshape-(2,3)->(6,)", op("reshape", shape=(6,)), (rand(2, 3),), ONE),
    ("broadcast_to-(3,)->(2,3)", op("broadcast_to", shape=(2, 3)), (rand(3),), ONE),
    ("broadcast_to-(2,1)->(2,4)", op("broadcast_to", shape=(2, 4)), (rand(2, 1),), ONE),
    ("broadcast_to-()->(2,2)", op("broadcast_to", shape=(2, 2)), (rand(),), ONE),
    ("broadcast_to-(1,3)->(4,2,3)", op("broadcast_to", shape=(4, 2, 3)), (rand(1, 3),), ONE),
    ("transpose-(1,0)", op("transpose", perm=(1, 0)), (rand(2, 3),), ONE),
    ("transpose-(2,0,1)", op("transpose", perm=(2, 0, 1)), (rand(2, 3, 4),), ONE),
    ("transpose-(1,2,0)", op("transpose", perm=(1, 2, 0)), (rand(2, 3, 4),), ONE),
    ("transpose-0d", op("transpose", perm=()), (rand(),), ONE),
    *[(f"sum-{axes}", op("sum", axes=axes), (rand(2, 3, 4),), ONE)
      for axes in [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2), ()]],
    ("sum-1d", op("sum", axes=(0,)), (rand(5),), ONE),
    ("sum-0d", op("sum", axes=()), (rand(),), ONE),
    *[(f"max-{axes}", op("max", axes=axes), (distinct(2, 3, 4),), ONE)
      for axes in [(0,), (1,), (2,), (0, 2), (0, 1, 2)]],
    ("max-1d", op("max", axes=(0,)), (distinct(5),), ONE),
    *[(f"getitem-{index}", op("getitem", index=index), (rand(4, 5, 3),), ONE) for index in [
        (1,), (-1,), (S(None, None, 2),), (S(3, None, -2),), (None,), (E, 1), (E, S(1, None, 2)),
        (1, None, S(None), -2), (S(1, -1), E, None), (-2, -1, 0), (S(None), S(4, 0, -3), E),
        (E,), (), (None, E, None),
    ]],
    ("getitem-0d-None", op("getitem", index=(None,)), (rand(),), ONE),
    ("concat-2-axis0", op("concat", axis=0), (rand(2, 3), rand(1, 3, seed=1)), TWO),
    ("concat-3-axis1", op("concat", axis=1),
     (rand(2, 1), rand(2, 3, seed=1), rand(2, 2, seed=2)), THREE),
    ("concat-3-1d", op("concat", axis=0), (rand(2), rand(3, seed=1), rand(1, seed=2)), THREE),
    ("concat-3d-axis2", op("concat", axis=2), (rand(2, 3, 1), rand(2, 3, 2, seed=1)), TWO),
    ("concat-1", op("concat", axis=0), (rand(3),), ONE),
    ("pad-zero", op("pad", widths=((1, 2), (0, 1)), value=0.0), (rand(2, 3),), ONE),
    ("pad-value", op("pad", widths=((1, 2), (0, 1)), value=1.5), (rand(2, 3),), ONE),
    ("pad-1d", op("pad", widths=((3, 0),), value=-2.0), (rand(4),), ONE),
    ("pad-3d", op("pad", widths=((0, 0), (1, 1), (2, 0)), value=0.25), (rand(2, 1, 3),), ONE),
    ("cast-float64", op("cast", dtype="float64"), (rand(2, 3),), ONE),
    ("named", lambda x: apply("named", (x,), {"name": "h"}), (rand(2, 3),), ONE),
]

# setitem/addat: (index into a (4, 5) x, shape of v) with v broadcast where smaller.
UPDATES = [
    ((1,), (5,)), ((1,), ()), ((1,), (1,)), ((S(1, 3),), (5,)), ((S(1, 3),), (2, 1)),
    ((S(1, 3),), (2, 5)), ((S(None, None, 2), -1), (2,)), ((E, S(4, 0, -2)), (4, 2)),
    ((None, 2), (1, 5)), ((-1, -2), ()), ((E,), (4, 5)), ((S(None), None, 3), (4, 1)),
]
for _kind in ("setitem", "addat"):
    for _index, _vshape in UPDATES:
        CASES.append((f"{_kind}-{_index}-v{_vshape}", op(_kind, index=_index),
                      (rand(4, 5), rand(*_vshape, seed=3)), TWO))

NONDIFF = {"fill", "stop_gradient"}


def test_every_row_is_covered():
    ops_in_cases = {case[1](*[leaf(f"x{i}", a.shape, "float64")
                              for i, a in enumerate(case[2])]).op for case in CASES}
    assert ops_in_cases | NONDIFF == {row.name for row in ROWS}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_derivatives(case: Case):
    _, build, arrays, _ = case
    check_derivatives(build, *arrays)
    if len(arrays) > 1:  # each operand alone, the others held fixed
        for i in range(len(arrays)):
            check_derivatives(build, *arrays, wrt=[i])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batching(case: Case):
    _, build, arrays, flag_sets = case
    for flags in flag_sets:
        check_batching(build, *arrays, batched=flags)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sympy(case: Case):
    _, build, arrays, _ = case
    xs = [leaf(f"x{i}", a.shape, str(a.dtype)) for i, a in enumerate(arrays)]
    out = build(*xs)
    expected = evaluate([out], {f"x{i}": a for i, a in enumerate(arrays)})[0]
    symbolic = TABLE[out.op].sympy(*(to_sympy(a) for a in arrays), **out.attrs)
    got = np.array([float(v) for v in np.asarray(symbolic, dtype=object).ravel()])
    assert np.shape(symbolic) == expected.shape
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-12, atol=0)


def to_sympy(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(array.shape):
        out[index] = sympy.Float(float(array[index]))
    return out


def test_max_sympy_with_ties():
    x = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, -5.0]])
    got = TABLE["max"].sympy(to_sympy(x), axes=(1,))
    assert [float(v) for v in got] == [3.0, -2.0]


# ---- kink conventions of max ---------------------------------------------------------

def _grad_max(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    node = leaf("x", x.shape, "float64")
    (g,) = grad([apply("max", (node,), {"axes": axes})], [node])
    return evaluate([g], {"x": x})[0]


def test_max_ties_split_evenly():
    np.testing.assert_array_equal(_grad_max(np.array([1.0, 3.0, 3.0]), (0,)), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(_grad_max(np.full(4, 2.0), (0,)), [0.25] * 4)
    x = np.array([[1.0, 3.0, 3.0], [5.0, 0.0, 5.0]])
    np.testing.assert_array_equal(_grad_max(x, (1,)), [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    np.testing.assert_array_equal(_grad_max(x, (0,)), [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(_grad_max(x, (0, 1)), [[0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])


def test_max_tie_tangent_is_the_mean():
    x = leaf("x", (3,), "float64")
    out = apply("max", (x,), {"axes": (0,)})
    (t,) = jvp([out], {id(x): leaf("t", (3,), "float64")})
    got = evaluate([t], {"x": np.array([1.0, 3.0, 3.0]), "t": np.array([7.0, 2.0, 4.0])})[0]
    assert got == 3.0


# ---- rows with no derivative ---------------------------------------------------------

def test_stop_gradient_is_unconnected():
    assert TABLE["stop_gradient"].vjp is None and TABLE["stop_gradient"].jvp is None
    x = leaf("x", (3,), "float64")
    s = N.stop_gradient(x)
    assert vjp([s], [N.ones_like(s)], [x]) == [None]
    assert jvp([s], {id(x): leaf("t", (3,), "float64")}) == [None]
    # x * stop_gradient(x): the gradient is the stopped value, not 2x
    (g,) = grad([N.mul(x, s)], [x])
    values = np.array([1.0, -2.0, 3.5])
    np.testing.assert_array_equal(evaluate([g], {"x": values})[0], values)


def test_stop_gradient_batching():
    check_batching(N.stop_gradient, rand(2, 3), batched=(True,))


def test_fill_has_no_derivative_and_matches_sympy():
    row = TABLE["fill"]
    assert row.vjp is None and row.jvp is None
    node = N.fill(2.5, (2, 3), "float32")
    assert (node.shape, node.dtype) == ((2, 3), "float32")
    value = evaluate([node], {})[0]
    np.testing.assert_array_equal(value, np.full((2, 3), 2.5, dtype=np.float32))
    assert value.dtype == np.float32
    symbolic = row.sympy(value=2.5, shape=(2, 3), dtype="float64")
    assert [float(v) for v in symbolic.ravel()] == [2.5] * 6


# ---- setitem/addat semantics ---------------------------------------------------------

def test_setitem_replaced_elements_get_zero():
    x = leaf("x", (4,), "float64")
    v = leaf("v", (2,), "float64")
    out = apply("setitem", (x, v), {"index": (S(1, 3),)})
    gx, gv = vjp([out], [leaf("g", (4,), "float64")], [x, v])
    got = evaluate([gx, gv], {"x": np.zeros(4), "v": np.zeros(2),
                              "g": np.array([1.0, 2.0, 3.0, 4.0])})
    np.testing.assert_array_equal(got[0], [1.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(got[1], [2.0, 3.0])


def test_setitem_broadcast_value_collects_its_cotangent():
    x = leaf("x", (3, 4), "float64")
    v = leaf("v", (), "float64")
    out = apply("setitem", (x, v), {"index": (E, S(None, None, 2))})
    (gv,) = grad([out], [v])
    assert evaluate([gv], {"x": np.zeros((3, 4)), "v": np.array(1.0)})[0] == 6.0


# ---- cast ----------------------------------------------------------------------------

def test_cast_between_float_dtypes():
    x = leaf("x", (3,), "float32")
    out = apply("cast", (x,), {"dtype": "float64"})
    (g,) = grad([N.mul(out, out)], [x])
    assert g.dtype == "float32"
    values = np.array([1.5, -2.0, 0.25], dtype=np.float32)
    got = evaluate([g], {"x": values})[0]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, 2 * values)
    (t,) = jvp([out], {id(x): leaf("t", (3,), "float32")})
    assert t.dtype == "float64"
    tangent = evaluate([t], {"x": values, "t": values})[0]
    assert tangent.dtype == np.float64
    np.testing.assert_array_equal(tangent, values.astype(np.float64))


def test_cast_to_int_has_no_derivative():
    # Truncation to an integer is piecewise constant: no cotangent, no tangent.
    x = leaf("x", (3,), "float64")
    out = apply("cast", (x,), {"dtype": "int64"})
    assert vjp([out], [N.ones_like(out)], [x]) == [None]
    assert jvp([out], {id(x): leaf("t", (3,), "float64")}) == [None]


def test_cast_from_int_has_no_derivative():
    i = leaf("i", (3,), "int64")
    out = apply("cast", (i,), {"dtype": "float64"})
    assert vjp([out], [N.ones_like(out)], [i]) == [None]
    check_batching(op("cast", dtype="float64"), np.arange(3), batched=(True,))
