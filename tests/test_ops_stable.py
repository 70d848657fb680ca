"""The rows of engine/ops/stable.py (log2, log10) and engine/ops/softmax.py
(logsumexp, log_softmax, softmax, softmax_c over the last axis): derivatives
against finite differences, batching, sympy forms, and the values the
stable forms exist for.  Their accuracy over the whole float64 range is the
accuracy harness's (tests/test_accuracy.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fdcheck import check_batching, check_derivatives

from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import leaf
from gradcli.engine.ops import TABLE, apply, softmax, stable

FAMILY = [row.name for row in softmax.ROWS]
LOGS = [row.name for row in stable.ROWS]


def _op(name: str):
    return lambda x: apply(name, (x,))


def _run(name: str, x: np.ndarray) -> np.ndarray:
    node = leaf("x", x.shape, str(x.dtype))
    return np.asarray(evaluate([apply(name, (node,))], {"x": x})[0])


@pytest.mark.parametrize("shape", [(3,), (2, 4)], ids=str)
@pytest.mark.parametrize("name", FAMILY)
def test_family_derivatives(name: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    check_derivatives(_op(name), rng.standard_normal(shape) * 2)


@pytest.mark.parametrize("name", LOGS)
def test_log_derivatives(name: str) -> None:
    rng = np.random.default_rng(4)
    check_derivatives(_op(name), rng.uniform(0.3, 3.0, (2, 3)))


@pytest.mark.parametrize("name", FAMILY + LOGS)
def test_batching(name: str) -> None:
    rng = np.random.default_rng(5)
    check_batching(_op(name), rng.uniform(0.3, 3.0, (3, 4)), batched=(True,))


@pytest.mark.parametrize("name", FAMILY + LOGS)
def test_sympy_form_matches_forward(name: str) -> None:
    x = np.array([[0.3, -1.2, 2.0], [1.0, 1.0, 0.5]])
    if name in LOGS:
        x = np.abs(x)
    expected = _run(name, x)
    got = TABLE[name].sympy(np.asarray(x, dtype=object))
    values = np.array([float(v) for v in np.ravel(got)]).reshape(np.shape(got))
    np.testing.assert_allclose(values, expected, rtol=1e-13, atol=0)


def test_a_dominant_logit_keeps_its_last_digits() -> None:
    # log1p(e**-40 + e**-650) = 4.248354255291589e-18; log(1 + ...) would be 0.
    x = np.array([0.0, -40.0, -650.0])
    assert _run("logsumexp", x) == pytest.approx(math.exp(-40), rel=1e-15)
    assert _run("log_softmax", x)[0] == pytest.approx(-math.exp(-40), rel=1e-15)
    assert _run("softmax_c", x)[0] == pytest.approx(math.exp(-40), rel=1e-15)


def test_offsets_do_not_overflow_and_ties_split() -> None:
    x = np.array([1000.0, 1000.0, -1e300])
    np.testing.assert_allclose(_run("softmax", x), [0.5, 0.5, 0.0], rtol=0, atol=0)
    np.testing.assert_allclose(_run("softmax_c", x), [0.5, 0.5, 1.0], rtol=0, atol=0)
    assert _run("logsumexp", x) == 1000.0 + math.log(2.0)


def test_infinite_and_empty_logits() -> None:
    assert _run("logsumexp", np.array([np.inf, 0.0])) == np.inf
    assert _run("logsumexp", np.array([-np.inf, -np.inf])) == -np.inf
    assert _run("logsumexp", np.zeros((2, 0))).shape == (2,)


def test_the_family_needs_a_class_axis() -> None:
    from gradcli.errors import ShapeError

    with pytest.raises(ShapeError, match="axis of classes"):
        apply("softmax", (leaf("x", (), "float64"),))


def test_log10_second_derivative_does_not_overflow_early() -> None:
    from gradcli.engine.autodiff import grad

    x = leaf("x", (), "float64")
    y = apply("log10", (x,))
    (d1,) = grad([y], [x])
    (d2,) = grad([d1], [x])
    got = float(evaluate([d2], {"x": np.array(6e-155)})[0])
    assert got == pytest.approx(-1 / (6e-155 ** 2 * math.log(10)), rel=1e-15)


