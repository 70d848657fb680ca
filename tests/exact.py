"""Exact references for sums and products, and the rounding bound that tells
a wrong result from a different order of the same arithmetic.

A float64 sum of products may differ from its exact value by up to about
n·u·Σ|terms| (u = eps/2, n the roundings on the way to one element: Higham,
Accuracy and Stability of Numerical Algorithms, §3.1), whatever order a BLAS
build or a numpy version adds the terms in; when the terms cancel, that is
many times the size of the result, so a relative tolerance against numpy's
own result fails on some machines.  The checks here compare with the exact
value (Fractions: every float is a binary fraction) and allow k·n·eps·Σ|terms|,
k = 2 by default: four times the worst case of one evaluation (twice, when the
reference is numpy's own float result rather than exact), and still far below
the error of any wrong rule.  No tests here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

EPS = float(np.finfo(np.float64).eps)
# LU-based results (det, inv, solve) carry LAPACK's backward error,
# γ_3n·|L||U| (Higham, Theorem 9.4), rather than a sum's γ_n·|a|: k = 4 allows
# for that on the small, well-conditioned matrices of the tests.
LAPACK = 4.0


def exact(a: Any) -> np.ndarray:
    """An object array of Fractions equal to `a` element by element."""
    a = np.asarray(a)
    out = np.empty(a.shape, dtype=object)
    for index in np.ndindex(a.shape):
        item = a[index]
        out[index] = Fraction(item.item() if isinstance(item, np.generic) else item)
    return out


def assert_rounded(got: Any, want: Any, magnitude: Any, ops: Any, k: float = 2.0,
                   what: str = "") -> None:
    """|got - want| <= k·ops·eps·magnitude, element by element, computed exactly.

    `want` is exact (Fractions) or a float64 result of the same quantity,
    `magnitude` the sum of the absolute values of the terms that make one
    element, `ops` the number of roundings on the way to it (both broadcast).
    """
    got_array = np.asarray(got)
    assert got_array.shape == np.shape(want), (what, got_array.shape, np.shape(want))
    if got_array.dtype != object:
        assert np.all(np.isfinite(got_array)), (what, got_array)
    difference = np.asarray(exact(got_array) - exact(want), dtype=object)
    error = np.array([float(abs(d)) for d in difference.ravel()]).reshape(difference.shape)
    bound = k * np.asarray(ops, dtype=float) * EPS * np.asarray(magnitude, dtype=float)
    bad = error > bound
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(np.broadcast_to(bad, error.shape))[0])
        raise AssertionError(
            f"{what}: {int(np.sum(bad))} of {error.size} elements beyond the rounding bound; "
            f"at {first}: got {got_array[first]!r}, exact {float(exact(want)[first])!r}, "
            f"error {error[first]:.3g} > bound {np.broadcast_to(bound, error.shape)[first]:.3g}")


def assert_sum_of_products(got: Any, fn: Callable[..., Any], *operands: Any, ops: Any = None,
                           more_ops: int = 0, k: float = 2.0, what: str = "") -> None:
    """`got` equals fn(*operands) up to rounding, where fn adds up products of
    operand entries with coefficient 1 (matmul, dot, tensordot, einsum, trace,
    sum, prod, ...): the reference is fn on Fractions, the magnitude fn of the
    absolute operands (= Σ|terms|), and ops, unless given, the number of terms
    (fn of ones) plus the factors per term (log2 of fn of twos over fn of ones),
    plus `more_ops`.  Read the other way round it is a residual check:
    `got` the exact right-hand side, the operands a computed solution.
    """
    arrays = [np.asarray(x) for x in operands]
    want = np.asarray(fn(*(exact(x) for x in arrays)), dtype=object)
    magnitude = fn(*(np.abs(x).astype(float) for x in arrays))
    if ops is None:
        terms = np.asarray(fn(*(np.ones(x.shape) for x in arrays)), dtype=float)
        doubled = np.asarray(fn(*(np.full(x.shape, 2.0) for x in arrays)), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = np.where(terms > 0, np.log2(doubled / np.where(terms > 0, terms, 1)), 0)
        ops = terms + np.round(factors)
    assert_rounded(got, want, magnitude, np.asarray(ops) + more_ops, k,
                   what or getattr(fn, "__name__", ""))


def leibniz_det(a: Any, signed: bool = True) -> Any:
    """det over the last two axes as a sum of n! products (exact on Fractions);
    signed=False gives the permanent, which for |a| is the Σ|terms| of det."""
    n = np.shape(a)[-1]
    total: Any = 0
    for perm in itertools.permutations(range(n)):
        inversions = sum(perm[i] > perm[j] for i in range(n) for j in range(i + 1, n))
        term: Any = -1 if signed and inversions % 2 else 1
        for row, column in enumerate(perm):
            term = term * a[..., row, column]
        total = total + term
    return total


def assert_det(got: Any, a: Any, k: float = LAPACK) -> None:
    """`got` is det(a) of an LU factorisation: within the rounding bound of
    the n!-term sum, with LAPACK's k."""
    n = np.shape(a)[-1]
    assert_rounded(got, leibniz_det(exact(a)), leibniz_det(np.abs(a), signed=False),
                   math.factorial(n) + n, k, "det")
