"""The convolution rows (engine/ops/conv.py): values against a naive loop and
scipy.signal, the three rows as each other's adjoints, first and second
derivatives against central differences (strides, dilation, asymmetric
'same' padding, 1-D and 2-D), batching with every operand batched, and the
sympy rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from fdcheck import check_batching, check_derivatives

from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops.conv import ROWS, conv_attrs
from gradcli.engine.ops.windows import out_sizes, same_padding
from gradcli.errors import ShapeError


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape)


def naive_conv(x: np.ndarray, w: np.ndarray, strides, dilation, padding) -> np.ndarray:
    """The definition, one output element at a time (an independent reference)."""
    n = len(strides)
    kernel = w.shape[:n]
    xp = np.pad(x, [(0, 0), *padding, (0, 0)])
    out = out_sizes(x.shape[1:1 + n], kernel, strides, dilation, padding)
    y = np.zeros((x.shape[0], *out, w.shape[-1]))
    for b in range(x.shape[0]):
        for o in itertools.product(*(range(k) for k in out)):
            for k in itertools.product(*(range(k) for k in kernel)):
                cell = tuple(oi * s + ki * d for oi, ki, s, d in zip(o, k, strides, dilation))
                y[(b, *o)] += xp[(b, *cell)] @ w[k]
    return y


# (id, x shape, kernel shape, strides, dilation, padding)
GEOMETRIES = [
    ("1d-valid", (2, 7, 3), (3, 3, 2), (1,), (1,), ((0, 0),)),
    ("1d-stride-dilation", (2, 9, 2), (2, 2, 3), (2,), (3,), ((1, 0),)),
    ("1d-causal", (1, 6, 2), (3, 2, 2), (1,), (2,), ((4, 0),)),
    ("2d-valid", (2, 5, 6, 3), (3, 2, 3, 2), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ("2d-same-stride", (1, 6, 5, 2), (3, 3, 2, 2), (2, 2), (1, 1), ((0, 1), (1, 1))),
    ("2d-dilated-asym", (2, 7, 6, 1), (2, 3, 1, 3), (1, 2), (2, 1), ((1, 2), (0, 1))),
    ("2d-stride-gt-kernel", (1, 7, 7, 2), (2, 2, 2, 1), (3, 3), (1, 1), ((0, 0), (0, 0))),
    ("2d-1x1", (2, 3, 3, 4), (1, 1, 4, 2), (1, 1), (1, 1), ((0, 0), (0, 0))),
]
IDS = [g[0] for g in GEOMETRIES]


def _nodes(geometry) -> tuple[Node, Node, dict, tuple[int, ...], tuple[int, ...]]:
    _, xs, ws, strides, dilation, padding = geometry
    attrs = conv_attrs(strides, dilation, padding)
    n = len(strides)
    out = (xs[0], *out_sizes(xs[1:1 + n], ws[:n], strides, dilation, padding), ws[-1])
    return leaf("x", xs, "float64"), leaf("w", ws, "float64"), attrs, out, ws[:n]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=IDS)
def test_conv_matches_a_naive_loop(geometry) -> None:
    _, xs, ws, strides, dilation, padding = geometry
    x, w = rand(*xs), rand(*ws, seed=1)
    X, W, attrs, _, _ = _nodes(geometry)
    got = evaluate([apply("conv", (X, W), attrs)], {"x": x, "w": w})[0]
    np.testing.assert_allclose(got, naive_conv(x, w, strides, dilation, padding),
                               rtol=1e-13, atol=1e-13)


def test_conv2d_matches_scipy_correlate() -> None:
    signal = pytest.importorskip("scipy.signal")
    x, w = rand(2, 6, 7, 3), rand(3, 2, 3, 4, seed=1)
    X, W = leaf("x", x.shape, "float64"), leaf("w", w.shape, "float64")
    got = evaluate([apply("conv", (X, W), conv_attrs((1, 1), (1, 1), ((0, 0), (0, 0))))],
                   {"x": x, "w": w})[0]
    want = np.stack([np.stack([sum(signal.correlate(x[b, :, :, c], w[:, :, c, o], "valid")
                                   for c in range(3)) for o in range(4)], -1)
                     for b in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=IDS)
def test_the_three_rows_are_adjoints(geometry) -> None:
    """<conv(x, w), g> = <x, conv_transpose(g, w)> = <w, conv_filter(x, g)>."""
    X, W, attrs, out, kernel = _nodes(geometry)
    G = leaf("g", out, "float64")
    x, w, g = rand(*X.shape), rand(*W.shape, seed=1), rand(*out, seed=2)
    y, gx, gw = evaluate([apply("conv", (X, W), attrs),
                          apply("conv_transpose", (G, W), {**attrs, "size": X.shape[1:-1]}),
                          apply("conv_filter", (X, G), {**attrs, "kernel": kernel})],
                         {"x": x, "w": w, "g": g})
    reference = float(np.sum(y * g))
    assert np.isclose(float(np.sum(x * gx)), reference, rtol=1e-12)
    assert np.isclose(float(np.sum(w * gw)), reference, rtol=1e-12)


def _builders(geometry):
    X, W, attrs, out, kernel = _nodes(geometry)
    size = X.shape[1:-1]
    return [
        ("conv", lambda x, w: apply("conv", (x, w), attrs), (X.shape, W.shape)),
        ("conv_transpose", lambda g, w: apply("conv_transpose", (g, w), {**attrs, "size": size}),
         (out, W.shape)),
        ("conv_filter", lambda x, g: apply("conv_filter", (x, g), {**attrs, "kernel": kernel}),
         (X.shape, out)),
    ]


def test_every_row_is_covered() -> None:
    assert {name for name, _, _ in _builders(GEOMETRIES[0])} == {row.name for row in ROWS}


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=IDS)
def test_first_and_second_derivatives(geometry) -> None:
    for _, build, shapes in _builders(geometry):
        arrays = [rand(*s, seed=k) for k, s in enumerate(shapes)]
        check_derivatives(build, *arrays)
        for i in range(2):
            check_derivatives(build, *arrays, wrt=[i])


@pytest.mark.parametrize("geometry", GEOMETRIES[::2], ids=IDS[::2])
def test_batching(geometry) -> None:
    for _, build, shapes in _builders(geometry):
        arrays = [rand(*s, seed=k) for k, s in enumerate(shapes)]
        for flags in ((True, False), (False, True), (True, True)):
            check_batching(build, *arrays, batched=flags)


def test_nested_batching_pairs_leading_axes() -> None:
    """A row built with lead=1 (a batch of problems) batched again."""
    geometry = GEOMETRIES[4]
    X, W, attrs, out, kernel = _nodes(geometry)
    lead = {**attrs, "lead": 1}
    x, w = rand(2, *X.shape), rand(2, *W.shape, seed=1)
    build = lambda a, b: apply("conv", (a, b), lead)  # noqa: E731
    for flags in ((True, False), (False, True), (True, True)):
        check_batching(build, x, w, batched=flags)
    check_derivatives(build, x, w)


def _sym(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(array.shape):
        out[index] = sympy.Float(float(array[index]), 30)
    return out


@pytest.mark.parametrize("geometry", [GEOMETRIES[1], GEOMETRIES[4]], ids=[IDS[1], IDS[4]])
def test_sympy_rules_agree_with_the_forward(geometry) -> None:
    for name, build, shapes in _builders(geometry):
        arrays = [rand(*s, seed=k) for k, s in enumerate(shapes)]
        xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
        out = build(*xs)
        want = evaluate([out], {f"x{i}": a for i, a in enumerate(arrays)})[0]
        got = TABLE[name].sympy(*(_sym(a) for a in arrays), **out.attrs)
        assert got.shape == want.shape
        np.testing.assert_allclose(np.array(got, dtype=float), want, rtol=1e-12, atol=1e-14)


def test_float32_stays_float32() -> None:
    X, W = leaf("x", (1, 4, 4, 2), "float32"), leaf("w", (2, 2, 2, 3), "float32")
    y = apply("conv", (X, W), conv_attrs((1, 1), (1, 1), ((0, 1), (0, 1))))
    value = evaluate([y], {"x": np.ones((1, 4, 4, 2), np.float32),
                           "w": np.ones((2, 2, 2, 3), np.float32)})[0]
    assert y.dtype == "float32" and value.dtype == np.float32 and value.shape == (1, 4, 4, 3)


@pytest.mark.parametrize("size,window,stride,dilation,pads", [
    (5, 3, 1, 1, (1, 1)), (6, 3, 2, 1, (0, 1)), (5, 3, 2, 1, (1, 1)), (4, 2, 1, 1, (0, 1)),
    (7, 3, 1, 2, (2, 2)), (5, 1, 3, 1, (0, 0)), (2, 5, 1, 1, (2, 2))])
def test_same_padding_is_tensorflows(size, window, stride, dilation, pads) -> None:
    """ceil(size / stride) positions, the odd cell at the end (values from TF's formula)."""
    assert same_padding(size, window, stride, dilation) == pads
    lo, hi = pads
    assert out_sizes([size], [window], [stride], [dilation], ((lo, hi),)) == \
        (-(-size // stride),)


@pytest.mark.parametrize("xs,ws,fragment", [
    ((1, 4, 4, 2), (2, 2, 3, 1), "2 channels"),
    ((1, 2, 2, 1), (3, 3, 1, 1), "does not fit"),
    ((4, 4, 2), (2, 2, 2, 1), "axes"),
])
def test_shape_errors_are_plain(xs, ws, fragment) -> None:
    with pytest.raises(ShapeError, match=fragment):
        apply("conv", (leaf("x", xs, "float64"), leaf("w", ws, "float64")),
              conv_attrs((1, 1), (1, 1), ((0, 0), (0, 0))))


def test_batch_chunks_of_the_column_matrix_give_the_same_numbers(monkeypatch) -> None:
    """The im2col copy is bounded by COLUMNS elements, the batch taken in chunks."""
    from gradcli.engine.ops import conv as module

    attrs = conv_attrs((2, 2), (1, 1), ((0, 1), (1, 1)))
    x, w, g = rand(3, 6, 5, 2), rand(3, 3, 2, 2, seed=1), rand(3, 3, 3, 2, seed=2)
    X, W, G = (leaf(n, a.shape, "float64") for n, a in (("x", x), ("w", w), ("g", g)))
    nodes = [apply("conv", (X, W), attrs),
             apply("conv_transpose", (G, W), {**attrs, "size": (6, 5)}),
             apply("conv_filter", (X, G), {**attrs, "kernel": (3, 3)})]
    whole = evaluate(nodes, {"x": x, "w": w, "g": g})
    monkeypatch.setattr(module, "COLUMNS", 7)  # every sample a chunk of its own
    for chunked, reference in zip(evaluate(nodes, {"x": x, "w": w, "g": g}), whole):
        np.testing.assert_allclose(chunked, reference, rtol=1e-14, atol=1e-14)
