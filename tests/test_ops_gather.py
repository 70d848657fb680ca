"""Primitive-level tests of `gather`, `scatter_add` and `scatter_set`
(engine/ops/gather.py): first and second derivatives against central
differences at several shapes, batching with every combination of batched
operands, the sympy rules, and the conventions: repeated indices accumulate
in gather's vjp and in scatter_add; scatter_set's last write lands."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives

from gradcli.engine.autodiff import grad, jvp, vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops.gather import ROWS
from gradcli.errors import ShapeError, SpecError


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 31 * len(shape)).standard_normal(shape)


def ints(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def gather(x: Node, *idx: Node) -> Node:
    return apply("gather", (x, *idx))


def scatter(kind: str) -> Callable[..., Node]:
    return lambda x, *rest: apply(kind, (x, *rest))


# (id, builder, arrays): the index arrays are operands (integer leaves), so the
# derivatives are taken with the indices as inputs of the graph, as `x[i]` builds them.
Case = tuple[str, Callable[..., Node], tuple[np.ndarray, ...]]
CASES: list[Case] = [
    ("gather-1d", gather, (rand(5), ints(4, 0, 2))),
    ("gather-1d-repeated", gather, (rand(5), ints(1, 1, 3, 1))),
    ("gather-negative", gather, (rand(5), ints(-1, -5, 2))),
    ("gather-rows", gather, (rand(4, 3), ints(3, 0, 3))),
    ("gather-2d-index", gather, (rand(4, 3), ints([0, 2], [2, 2]))),
    ("gather-0d-index", gather, (rand(4, 3), np.int64(2))),
    ("gather-two-axes", gather, (rand(4, 3, 2), ints(0, 3, 3), ints(2, 1, 2))),
    ("gather-broadcast", gather, (rand(4, 3), ints([0], [3]), ints(0, 1, 1))),
    ("gather-all-axes", gather, (rand(3, 2), ints(0, 2, 0), ints(1, 1, 1))),
    ("gather-empty", gather, (rand(4, 3), np.zeros((0,), dtype=np.int64))),
    ("scatter_add-1d", scatter("scatter_add"), (rand(5), ints(4, 0, 2), rand(3, seed=1))),
    ("scatter_add-repeated", scatter("scatter_add"),
     (rand(5), ints(1, 1, 3, 1), rand(4, seed=1))),
    ("scatter_add-rows", scatter("scatter_add"),
     (rand(4, 3), ints([0, 2], [2, 2]), rand(2, 2, 3, seed=1))),
    ("scatter_add-two-axes", scatter("scatter_add"),
     (rand(4, 3, 2), ints(0, 3, 0), ints(2, 1, 2), rand(3, 2, seed=1))),
    ("scatter_set-1d", scatter("scatter_set"), (rand(5), ints(4, 0, 2), rand(3, seed=1))),
    ("scatter_set-repeated", scatter("scatter_set"),
     (rand(5), ints(1, 1, 3, 1), rand(4, seed=1))),
    ("scatter_set-rows-repeated", scatter("scatter_set"),
     (rand(4, 3), ints([0, 2], [2, 0]), rand(2, 2, 3, seed=1))),
    ("scatter_set-two-axes", scatter("scatter_set"),
     (rand(4, 3, 2), ints(0, 3, 0), ints(2, 1, 2), rand(3, 2, seed=1))),
    ("scatter_set-negative", scatter("scatter_set"),
     (rand(4, 3), ints(-1, 3), rand(2, 3, seed=1))),
]


def test_every_row_is_covered():
    ops = {case[1](*[leaf(f"x{i}", np.shape(a), str(np.asarray(a).dtype))
                     for i, a in enumerate(case[2])]).op for case in CASES}
    assert ops == {row.name for row in ROWS}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_derivatives(case: Case):
    _, build, arrays = case
    check_derivatives(build, *arrays)
    floats = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
    if len(floats) > 1:
        for i in floats:
            check_derivatives(build, *arrays, wrt=[i])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batching(case: Case):
    _, build, arrays = case
    count = len(arrays)
    for k in range(count):  # each operand alone batched, then all of them
        check_batching(build, *arrays, batched=tuple(i == k for i in range(count)))
    check_batching(build, *arrays, batched=(True,) * count)


def _sym(array: np.ndarray) -> np.ndarray:
    out = np.empty(np.shape(array), dtype=object)
    for index in np.ndindex(out.shape):
        value = np.asarray(array)[index]
        out[index] = sympy.Integer(int(value)) if value.dtype.kind in "iu" else \
            sympy.Float(float(value))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sympy(case: Case):
    _, build, arrays = case
    xs = [leaf(f"x{i}", np.shape(a), str(np.asarray(a).dtype)) for i, a in enumerate(arrays)]
    out = build(*xs)
    expected = evaluate([out], {f"x{i}": np.asarray(a) for i, a in enumerate(arrays)})[0]
    symbolic = TABLE[out.op].sympy(*(_sym(a) for a in arrays), **out.attrs)
    assert np.shape(symbolic) == expected.shape
    got = np.array([float(v) for v in np.ravel(symbolic)]).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


# ---- conventions ---------------------------------------------------------------------

def _leaves():
    return leaf("x", (5,), "float64"), leaf("i", (4,), "int64"), leaf("v", (4,), "float64")


def test_gather_vjp_accumulates_repeated_indices():
    x, i, _ = _leaves()
    (g,) = grad([gather(x, i)], [x])
    got = evaluate([g], {"x": np.zeros(5), "i": ints(1, 1, 3, 1)})[0]
    np.testing.assert_array_equal(got, [0.0, 3.0, 0.0, 1.0, 0.0])


def test_scatter_add_accumulates_and_set_keeps_the_last_write():
    x, i, v = _leaves()
    values = {"x": np.zeros(5), "i": ints(1, 3, 1, 1), "v": np.array([1.0, 2.0, 4.0, 8.0])}
    added = evaluate([apply("scatter_add", (x, i, v))], values)[0]
    np.testing.assert_array_equal(added, [0.0, 13.0, 0.0, 2.0, 0.0])
    out = apply("scatter_set", (x, i, v))
    np.testing.assert_array_equal(evaluate([out], values)[0], [0.0, 8.0, 0.0, 2.0, 0.0])
    gx, gv = vjp([out], [const(np.arange(1.0, 6.0))], [x, v])
    got = evaluate([gx, gv], values)
    np.testing.assert_array_equal(got[0], [1.0, 0.0, 3.0, 0.0, 5.0])  # replaced: 0
    np.testing.assert_array_equal(got[1], [0.0, 4.0, 0.0, 2.0])       # overwritten: 0
    (t,) = jvp([out], {id(v): const(np.array([1.0, 10.0, 100.0, 1000.0]))})
    np.testing.assert_array_equal(evaluate([t], values)[0], [0.0, 1000.0, 0.0, 10.0, 0.0])


def test_integer_indices_are_never_differentiated():
    x, i, _ = _leaves()
    assert vjp([gather(x, i)], [const(np.ones(4))], [i]) == [None]


def test_index_out_of_range_is_a_clear_error():
    x, i, _ = _leaves()
    with pytest.raises(SpecError, match="index 5 is out of range for an axis of size 5"):
        evaluate([gather(x, i)], {"x": np.zeros(5), "i": ints(0, 5, 1, 1)})
    with pytest.raises(SpecError, match="index -6 is out of range"):
        evaluate([gather(x, i)], {"x": np.zeros(5), "i": ints(0, -6, 1, 1)})


def test_shape_errors():
    x = leaf("x", (5,), "float64")
    with pytest.raises(ShapeError, match="index arrays must be integers"):
        gather(x, leaf("f", (2,), "float64"))
    with pytest.raises(ShapeError, match="2 index arrays do not fit"):
        gather(x, const(ints(0)), const(ints(0)))
    with pytest.raises(ShapeError, match="do not broadcast"):
        gather(leaf("y", (3, 3), "float64"), const(ints(0, 1)), const(ints(0, 1, 2)))
    with pytest.raises(ShapeError, match=r"scatter values of shape \(3,\) must have shape"):
        apply("scatter_add", (x, const(ints(0, 1)), leaf("v", (3,), "float64")))


def test_derivative_programs_stay_in_the_family():
    # the vjp of gather is a scatter_add; its vjp again a gather (second order)
    x, i, _ = _leaves()
    (g,) = vjp([gather(x, i)], [leaf("u", (4,), "float64")], [x])
    assert g.op == "scatter_add"
    u = leaf("u", (4,), "float64")
    (back,) = vjp([apply("scatter_add", (x, i, u))], [leaf("w", (5,), "float64")], [u])
    assert back.op == "gather"
