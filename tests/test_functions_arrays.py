"""Rearranging functions, pad and the constant creators: numpy's values and
shapes, derivatives against finite differences, argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import CTX, CTX32, build, builder, gradients, rand, value

from gradcli.engine.graph import const, leaf
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions import OPERATORS
from gradcli.language.functions.context import Context


@pytest.mark.parametrize("shape,target", [((2, 3), (3, 2)), ((2, 3), (-1,)), ((2, 3), 6),
                                          ((2, 3, 4), (4, -1)), ((6,), (1, 2, 1, 3))])
def test_reshape(shape, target):
    x = rand(shape, 1)
    got = value("reshape", x, target)
    np.testing.assert_array_equal(got, np.reshape(x, target))
    check_derivatives(builder("reshape", shape=target), x)


def test_reshape_errors():
    x = leaf("x", (2, 3), "float64")
    with pytest.raises(ShapeError, match=r"^reshape: cannot reshape an array of 6 elements"):
        build("reshape", x, (4, -1))
    with pytest.raises(SpecError, match="at most one -1"):
        build("reshape", x, (-1, -1))
    with pytest.raises(SpecError, match="argument 'shape' must be an integer or a tuple"):
        build("reshape", x, (2.5, 3))


def test_flatten_stack_concat():
    a, b = rand((2, 3), 1), rand((2, 3), 2)
    np.testing.assert_array_equal(value("flatten", a), a.reshape(-1))
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(value("concat", [const(a), const(b)], axis=axis),
                                      np.concatenate([a, b], axis=axis))
    np.testing.assert_array_equal(value("concat", [const(a), const(b)], axis=None),
                                  np.concatenate([a, b], axis=None))
    for axis in (0, 1, 2, -1):
        np.testing.assert_array_equal(value("stack", [const(a), const(b)], axis=axis),
                                      np.stack([a, b], axis=axis))
    check_derivatives(lambda x, y: build("concat", [x, y], axis=1), a, rand((2, 1), 3))
    check_derivatives(lambda x, y: build("stack", [x, y], axis=1), a, b)
    check_derivatives(builder("flatten"), a)


def test_concat_mixes_numbers_and_integer_nodes():
    n = const(np.array([[1], [2]]))
    out = build("concat", [leaf("x", (2, 1), "float64"), n], axis=1)
    assert out.shape == (2, 2) and out.dtype == "float64"
    with pytest.raises(ShapeError, match="^concat: cannot concatenate shapes"):
        build("concat", [leaf("x", (2, 1), "float64"), leaf("y", (3, 1), "float64")], axis=1)
    with pytest.raises(SpecError, match="^concat: argument 'arrays' must be a non-empty list"):
        build("concat", leaf("x", (2, 1), "float64"))
    with pytest.raises(ShapeError, match="^stack: all arrays must have the same shape"):
        build("stack", [leaf("x", (2,), "float64"), leaf("y", (3,), "float64")])


@pytest.mark.parametrize("shape,target", [((3,), (2, 3)), ((2, 1), (2, 4)), ((), (3,)),
                                          ((1, 3), (2, 2, 3))])
def test_broadcast_to(shape, target):
    x = rand(shape, 4)
    np.testing.assert_array_equal(value("broadcast_to", x, target), np.broadcast_to(x, target))
    check_derivatives(builder("broadcast_to", shape=target), x)


def test_broadcast_to_error():
    with pytest.raises(ShapeError, match=r"^broadcast_to: cannot broadcast shape \(3,\)"):
        build("broadcast_to", leaf("x", (3,), "float64"), (2, 4))


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), (-1, 0)])
def test_expand_dims(axis):
    x = rand((2, 3), 5)
    got = value("expand_dims", x, axis)
    assert got.shape == np.expand_dims(x, axis).shape
    check_derivatives(builder("expand_dims", axis=axis), x)


@pytest.mark.parametrize("axis", [None, 0, 2, (0, -1)])
def test_squeeze(axis):
    x = rand((1, 3, 1), 6)
    assert value("squeeze", x, axis).shape == np.squeeze(x, axis).shape
    check_derivatives(builder("squeeze", axis=axis), x)


def test_squeeze_error():
    with pytest.raises(ShapeError, match="^squeeze: cannot squeeze axis 1"):
        build("squeeze", leaf("x", (1, 3), "float64"), axis=1)


@pytest.mark.parametrize("shape,reps", [((3,), 2), ((3,), (2, 2)), ((2, 3), (2, 1)),
                                        ((2, 3), 3), ((2, 1, 2), (2, 1, 3)), ((2,), (0, 2))])
def test_tile(shape, reps):
    x = rand(shape, 7)
    np.testing.assert_array_equal(value("tile", x, reps), np.tile(x, reps))
    check_derivatives(builder("tile", reps=reps), x)


@pytest.mark.parametrize("shape,repeats,axis", [((3,), 2, None), ((2, 3), 2, None),
                                                ((2, 3), 3, 0), ((2, 3), 2, -1),
                                                ((2, 3), 0, 1)])
def test_repeat(shape, repeats, axis):
    x = rand(shape, 8)
    np.testing.assert_array_equal(value("repeat", x, repeats, axis=axis),
                                  np.repeat(x, repeats, axis=axis))
    check_derivatives(builder("repeat", repeats=repeats, axis=axis), x)


def test_repeat_rejects_counts_per_element():
    with pytest.raises(SpecError, match="^repeat: argument 'repeats' must be one integer"):
        build("repeat", leaf("x", (2,), "float64"), [1, 2])


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (-1, 0, 1)])
def test_transpose(axes):
    x = rand((2, 3, 4), 9)
    np.testing.assert_array_equal(value("transpose", x, axes), np.transpose(x, axes))
    check_derivatives(builder("transpose", axes=axes), x)


def test_transpose_error():
    with pytest.raises(ShapeError, match="^transpose: axes .* repeat an axis"):
        build("transpose", leaf("x", (2, 3), "float64"), (0, -2))


def test_stop_gradient():
    x = rand((3,), 1)
    (g,) = gradients(lambda v: build("stop_gradient", v), x)
    assert g.tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_array_equal(value("stop_gradient", x), x)


# ---- pad ------------------------------------------------------------------------------

PAD_WIDTHS = [1, (2,), (1, 2), ((1, 2),), ((0, 1), (2, 0)), ((3, 5), (4, 1))]


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", PAD_WIDTHS)
def test_pad_matches_numpy(mode, width):
    x = rand((3, 2), 10)
    got = value("pad", x, width, mode=mode)
    np.testing.assert_array_equal(got, np.pad(x, width, mode=mode))
    check_derivatives(builder("pad", pad_width=width, mode=mode), x)


def test_pad_constant_value_and_wide_1d():
    x = rand((4,), 11)
    np.testing.assert_array_equal(value("pad", x, (2, 3), constant_values=-1.5),
                                  np.pad(x, (2, 3), constant_values=-1.5))
    for mode in ("reflect", "symmetric", "wrap", "edge"):
        np.testing.assert_array_equal(value("pad", x, (9, 11), mode=mode),
                                      np.pad(x, (9, 11), mode=mode))
    single = rand((1,), 12)
    for mode in ("reflect", "symmetric", "wrap", "edge"):
        np.testing.assert_array_equal(value("pad", single, 2, mode=mode),
                                      np.pad(single, 2, mode=mode))


def test_pad_errors():
    x = leaf("x", (2, 3), "float64")
    with pytest.raises(SpecError, match="^pad: argument 'mode' must be one of"):
        build("pad", x, 1, mode="mean")
    with pytest.raises(SpecError, match="^pad: pad_width .* cannot be negative"):
        build("pad", x, -1)
    with pytest.raises(SpecError, match="^pad: pad_width .* does not fit"):
        build("pad", x, ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(SpecError, match="^pad: argument 'pad_width' must be"):
        build("pad", x, 1.5)
    with pytest.raises(SpecError, match="^pad: argument 'constant_values' must be one number"):
        build("pad", x, 1, constant_values=(1, 2))


# ---- creation ------------------------------------------------------------------------

def test_creators_match_numpy():
    np.testing.assert_array_equal(value("zeros", (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(value("ones", 4), np.ones(4))
    np.testing.assert_array_equal(value("full", (2, 2), 3.5), np.full((2, 2), 3.5))
    for n, m, k in ((3, None, 0), (3, 4, 0), (4, 3, 0), (3, None, 1), (3, 5, -2), (2, 2, 5)):
        np.testing.assert_array_equal(value("eye", n, m, k), np.eye(n, m, k))
    np.testing.assert_array_equal(value("linspace", 0, 1, 5), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(value("linspace", 0, 1), np.linspace(0, 1))
    np.testing.assert_array_equal(value("linspace", 0, 1, 4, endpoint=False),
                                  np.linspace(0, 1, 4, endpoint=False))
    np.testing.assert_array_equal(value("arange", 5), np.arange(5.0))
    np.testing.assert_array_equal(value("arange", 1, 2, 0.25), np.arange(1, 2, 0.25))
    np.testing.assert_array_equal(value("arange", 5, 1, -1), np.arange(5.0, 1, -1))
    assert value("arange", 3, 1).shape == (0,)


def test_creators_are_lazy_and_typed():
    # laziness is what lets a raised --max-elements build these instantly
    roomy = Context("float64", max_elements=10**10)
    big = build("zeros", (10_000, 10_000), ctx=roomy)
    assert big.op == "fill" and big.dtype == "float64"
    assert build("eye", 100_000, ctx=roomy).shape == (100_000, 100_000)
    for name, args in (("zeros", (3,)), ("ones", (3,)), ("full", (3, 1.0)), ("eye", (3,)),
                       ("linspace", (0, 1, 3)), ("arange", (3,))):
        assert build(name, *args, ctx=CTX32).dtype == "float32"


def test_full_with_an_array_value_is_differentiable():
    check_derivatives(lambda v: build("full", (2, 3), v), rand((3,), 1))


def test_creator_errors():
    with pytest.raises(SpecError, match="^zeros: argument 'shape' is a shape and cannot have"):
        build("zeros", (2, -1))
    with pytest.raises(SpecError, match="^arange: argument 'step' cannot be 0"):
        build("arange", 0, 1, 0)
    with pytest.raises(SpecError, match="^arange: .* more than"):
        build("arange", 1e12)
    with pytest.raises(SpecError, match="^eye: argument 'n' must be an integer"):
        build("eye", 2.5)
    with pytest.raises(SpecError, match="^linspace: argument 'num' must be at least 0"):
        build("linspace", 0, 1, -1)


def test_constant_expressions_count_as_static_numbers():
    # `linspace(0, 2 * pi, 3)` and `zeros((2 * 2,))` pass 0-d constant nodes.
    two_pi = OPERATORS["Mult"](CTX, 2, np.pi)
    np.testing.assert_allclose(value("linspace", 0, two_pi, 3), [0, np.pi, 2 * np.pi])
    four = OPERATORS["Mult"](CTX, 2, 2)
    assert value("zeros", (four,)).shape == (4,)
