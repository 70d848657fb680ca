"""Matrix calculus at 50 digits for the accuracy cases of the decompositions.

A decomposition's case is written as directional derivatives: its value at
the point, d1(j) the derivative along input entry j and d2(j, k) the second
derivative along entries j and k, each a list over the outputs.  `case`
turns them into a Case whose references compute the factorisation once per
point, and whose value form (what `mpmath.diff` differentiates in the
cross-check) is the factorisation alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath import mp

from gradcli.verify.accuracy.case import Case, Mp
from gradcli.verify.accuracy.points import Range

Matrix = Any  # mpmath.matrix


@dataclass(frozen=True)
class Directional:
    """One point's forms: value (m), d1(j) (m), d2(j, k) (m)."""

    value: list
    d1: Callable[[int], list]
    d2: Callable[[int, int], list]


def case(op: str, inputs: tuple[tuple[str, tuple[int, ...]], ...], outputs: Sequence[str],
         points: Callable[[Range], np.ndarray], value: Callable[[Sequence[Mp]], list],
         directional: Callable[[Sequence[Mp]], Directional], where: str,
         variant: str = "", loose: Callable | None = None) -> Case:
    """A Case from a value form and the directional forms at a point."""
    n = sum(int(np.prod(shape)) for _, shape in inputs)

    def forms(x: Sequence[Mp]) -> tuple[list, list, list]:
        d = directional(x)
        first = [d.d1(j) for j in range(n)]
        size = max(abs(v) for f in first for v in f)
        first = [flush(f, size) for f in first]
        jac = [[first[j][i] for j in range(n)] for i in range(len(d.value))]
        pairs = {(j, k): d.d2(j, k) for j in range(n) for k in range(j, n)}
        size = max(abs(v) for p in pairs.values() for v in p)
        pairs = {key: flush(p, size) for key, p in pairs.items()}
        sec = [[[pairs[min(j, k), max(j, k)][i] for k in range(n)] for j in range(n)]
               for i in range(len(d.value))]
        return flush(d.value), jac, sec

    return Case(op, inputs, tuple(outputs), points, value,
                lambda x: forms(x)[1], lambda x: forms(x)[2], where, loose=loose,
                variant=variant, forms=forms)


def flush(values: list, size: Mp | None = None) -> list:
    """Entries that are 0 in exact arithmetic come out of the matrix formulas
    as rounding residue, 1e-50 of their neighbours: those below 1e-35 of the
    largest (`size`, default among `values`) are set to 0, so they are not
    checked.  (Every entry of these homogeneous maps scales with the point,
    so true entries stay within a few decades of each other.)"""
    size = max((abs(v) for v in values), default=0) if size is None else size
    tiny = size * mp.mpf(10) ** -35
    return [mp.zero if abs(v) < tiny else v for v in values]


def mat(v: Sequence[Mp], rows: int, cols: int) -> Matrix:
    return mpmath.matrix([[v[i * cols + j] for j in range(cols)] for i in range(rows)])


def unit(rows: int, cols: int, j: int) -> Matrix:
    e = mpmath.zeros(rows, cols)
    e[j // cols, j % cols] = 1
    return e


def entries(m: Matrix) -> list:
    return [m[i, j] for i in range(m.rows) for j in range(m.cols)]


def hadamard(a: Matrix, b: Matrix) -> Matrix:
    return mpmath.matrix([[a[i, j] * b[i, j] for j in range(a.cols)] for i in range(a.rows)])


def tril(m: Matrix, k: int = 0) -> Matrix:
    return mpmath.matrix([[m[i, j] if j - i <= k else 0 for j in range(m.cols)]
                          for i in range(m.rows)])


def diag(values: Sequence[Mp]) -> Matrix:
    return mpmath.diag(list(values))


def sym_lower(m: Matrix) -> Matrix:
    """The symmetric matrix read from the lower triangle (numpy's UPLO='L')."""
    n = m.rows
    return mpmath.matrix([[m[max(i, j), min(i, j)] for j in range(n)] for i in range(n)])


def gaps(w: Sequence[Mp], square: bool = False) -> Matrix:
    """F_ij = 1/(w_j - w_i) (square: 1/(w_j**2 - w_i**2)), 0 on the diagonal."""
    n = len(w)
    return mpmath.matrix([[0 if i == j else 1 / ((w[j] ** 2 - w[i] ** 2) if square
                                                else (w[j] - w[i])) for j in range(n)]
                          for i in range(n)])


def reference_vector(n: int) -> list:
    """gradcli's r_i = 1 + frac((i + 1) * (sqrt 5 - 1)/2) (spectral.reference_vector),
    at the working precision: vectors are signed to have r . v > 0."""
    golden = (mp.sqrt(5) - 1) / 2
    return [1 + mp.frac((i + 1) * golden) for i in range(n)]


def oriented(columns: Matrix) -> list[int]:
    """+1/-1 per column making r . column > 0."""
    r = reference_vector(columns.rows)
    return [1 if mp.fsum(r[i] * columns[i, j] for i in range(columns.rows)) > 0 else -1
            for j in range(columns.cols)]


def scale_columns(m: Matrix, signs: Sequence[int]) -> Matrix:
    return mpmath.matrix([[m[i, j] * signs[j] for j in range(m.cols)] for i in range(m.rows)])


def scaled(r: Range, shapes: Sequence[Sequence[float]], step: int, span: int = 100
           ) -> np.ndarray:
    """The shapes (flattened matrices) times 1.3 * 10**k, k from -span to span
    in `step`s (float32: -12 to 12 in 6s)."""
    if r.dtype != "float64":
        span, step = 12, 6
    rows = [np.asarray(s) * 1.3 * 10.0 ** k for k in range(-span, span + 1, step)
            for s in shapes]
    return r.exact(np.ravel(rows)).reshape(len(rows), -1)
