"""Comparisons within the rounding the arithmetic allows: a result that is
a sum of terms is compared with its reference to within a few ulps of the
*size of the terms* (`scale`), not of the result, which can cancel to
nearly 0.  BLAS and LAPACK builds order their sums differently, so nothing
tighter holds everywhere."""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def assert_within(got: np.ndarray, ref: np.ndarray, scale: np.ndarray | float,
                  terms: int = 1) -> None:
    """|got - ref| <= 8 * terms * eps * scale, elementwise (scale broadcasts)."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    bound = 8.0 * terms * EPS * np.asarray(scale, dtype=np.float64)
    error = np.abs(got - ref)
    assert np.all(error <= bound), f"max error {error.max():.3g}, bound {np.min(bound):.3g}"


def matrix_scale(a: np.ndarray) -> np.ndarray:
    """The 2-norm of each matrix of a stack, shaped to broadcast against the
    stack's matrices (eigenvalues and singular values are accurate to
    eps times this, not relative to themselves)."""
    norms = np.linalg.norm(a, ord=2, axis=(-2, -1))
    return norms[..., None, None]
