"""Measuring one case: the references at its points (mpmath, once per
process and dtype at the caller's choice), gradcli's values and derivatives
through the public API, and the relative error of every entry whose truth is
a normal number of the dtype.

gradcli is asked the way a user would ask: `evaluate()` for the values,
`jacobian(batch_axis=0)` for the first derivatives and, per output,
`hessian(batch_axis=0)` for the second; all points go through in one
vectorised call each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

from gradcli.verify.accuracy.case import Case, references
from gradcli.verify.accuracy.points import RANGES, Range

ORDERS = (0, 1, 2)


@dataclass(frozen=True)
class Reference:
    """The truth of a case at its points: per order an array of shape
    (P, entries) in float64 with NaN where the truth is not a normal number
    of the dtype (those entries are not checked), and the exact values."""

    points: np.ndarray  # (P, n)
    truth: tuple[np.ndarray, ...]  # per order: (P, entries), float64, NaN = unchecked
    low: tuple[np.ndarray, ...]  # truth - float64(truth): the exact truth is truth + low


def _flat(order: int, value: list, jac: list, sec: list) -> list:
    if order == 0:
        return list(value)
    if order == 1:
        return [v for row in jac for v in row]
    return [v for plane in sec for row in plane for v in row]


def _checkable(v: object, r: Range) -> bool:
    if isinstance(v, mpmath.mpc) or v is None:
        return False
    v = mpmath.mpf(v)
    if not mpmath.isfinite(v):
        return False
    info = np.finfo(r.dtype)
    return float(info.tiny) <= abs(v) <= float(info.max)


def _representable(v: object, r: Range) -> bool:
    """A real value that is 0 or a normal number of the dtype: where the value
    overflows (pow: a**b = inf) or is subnormal (a**b = 1e-330), derivatives
    formed through it are not asked for, though d2/da db may be normal."""
    if isinstance(v, mpmath.mpc) or v is None:
        return False
    v = mpmath.mpf(v)
    return v == 0 or _checkable(v, r)


def reference(case: Case, dtype: str) -> Reference:
    """The references of `case` at its points for `dtype` (slow: mpmath)."""
    r = RANGES[dtype]
    points = np.asarray(case.points(r), dtype=np.float64)
    if case.avoid is not None:
        points = points[~np.asarray(case.avoid(points), dtype=bool)]
    exact: list[list[tuple]] = [[], [], []]
    for point in points:
        try:
            found = references(case, point)
        except (ZeroDivisionError, ValueError, OverflowError):
            found = None
        # Where the value itself overflows, derivatives formed through it are
        # not asked for (pow: a**b = inf, yet d2/da db is a normal number).
        exists = found is not None and all(_representable(v, r) for v in found[0])
        for order in ORDERS:
            if found is None or (order and not exists):
                exact[order].append(())
                continue
            entries = tuple(_flat(order, *found))
            exact[order].append(tuple(e if _checkable(e, r) else None for e in entries))
    truth, low = [], []
    for order in ORDERS:
        width = max((len(e) for e in exact[order]), default=0)
        table = np.full((len(points), width), np.nan)
        rest = np.zeros((len(points), width))
        for i, entries in enumerate(exact[order]):
            for j, e in enumerate(entries):
                if e is not None:
                    with mpmath.workdps(40):
                        table[i, j] = float(e)
                        rest[i, j] = float(mpmath.mpf(e) - table[i, j])
        truth.append(table)
        low.append(rest)
    return Reference(points, tuple(truth), tuple(low))


@dataclass(frozen=True)
class Measured:
    """Relative errors of one case at one dtype: per order (P, entries), NaN
    where unchecked; inf where gradcli gave a non-finite or wrong-signed
    number for a normal truth."""

    case: Case
    reference: Reference
    errors: tuple[np.ndarray, ...]

    def count(self, order: int) -> int:
        return int(np.sum(~np.isnan(self.errors[order])))

    def worst(self, order: int) -> tuple[float, np.ndarray | None]:
        """The largest relative error and the point where it occurs."""
        e = self.errors[order]
        if not np.any(~np.isnan(e)):
            return 0.0, None
        index = np.unravel_index(np.nanargmax(e), e.shape)
        return float(e[index]), self.reference.points[index[0]]


Computed = Callable[[Case, np.ndarray, str], tuple[np.ndarray, ...]]


def gradcli_results(case: Case, points: np.ndarray, dtype: str) -> tuple[np.ndarray, ...]:
    """gradcli's values (P, m), Jacobians (P, m*n) and second derivatives
    (P, m*n*n) at the points, in float64."""
    import gradcli

    count = len(points)
    spec_inputs: dict[str, object] = {
        name: {"value": 0.0, "shape": [count, *shape]} for name, shape in case.inputs}
    for name, kind, value in case.fixed:
        spec_inputs[name] = {"value": value, "shape": [count], "dtype": kind}
    outputs = {f"y{i}": text for i, text in enumerate(case.outputs)}
    problem = gradcli.load({"inputs": spec_inputs, "outputs": outputs}, dtype=dtype)
    values = {k: v.astype(dtype) for k, v in case.split(points).items()}
    wrt = [name for name, _ in case.inputs]
    evaluated = problem.evaluate(values=values)
    value = np.stack([np.asarray(evaluated[f"y{i}"], np.float64).reshape(count)
                      for i in range(len(outputs))], axis=1)
    jac = problem.jacobian(batch_axis=0, values=values, wrt=wrt)
    sizes = dict(zip(wrt, (_size(shape) for _, shape in case.inputs)))
    first = np.stack([_row(jac[f"y{i}"], sizes, count, 1) for i in range(len(outputs))],
                     axis=1)
    planes = []
    for i in range(len(outputs)):
        hess = problem.hessian(batch_axis=0, values=values, wrt=wrt, outputs=[f"y{i}"])
        rows = [_row(hess.get(a) or {}, sizes, count, sizes[a], matrix=True) for a in wrt]
        planes.append(np.concatenate(rows, axis=1).reshape(count, -1))
    second = np.stack(planes, axis=1)
    return value, first.reshape(count, -1), second.reshape(count, -1)


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _row(blocks: dict, sizes: dict[str, int], count: int, lead: int,
         matrix: bool = False) -> np.ndarray:
    """Per point, the derivatives by every source side by side in source order
    (an unconnected source: zeros): (P, lead * n), or (P, lead, n) as a matrix."""
    parts = []
    for name, size in sizes.items():
        block = blocks.get(name)
        parts.append(np.zeros((count, lead, size)) if block is None
                     else np.asarray(block, np.float64).reshape(count, lead, size))
    joined = np.concatenate(parts, axis=2)
    return joined if matrix else joined.reshape(count, -1)


def measure(case: Case, ref: Reference, dtype: str,
            compute: Computed = gradcli_results) -> Measured:
    with np.errstate(all="ignore"):
        got = compute(case, ref.points, dtype)
    errors = tuple(relative_errors(np.asarray(got[order], np.float64), ref.truth[order],
                                   ref.low[order]) for order in ORDERS)
    return Measured(case, ref, errors)


def relative_errors(got: np.ndarray, truth: np.ndarray, low: np.ndarray) -> np.ndarray:
    """|got - exact| / |exact| with exact = truth + low (a double-double), so
    the rounding of the truth to float64 does not hide the last half ulp.
    got - truth is exact whenever the two are within a factor 2 (Sterbenz);
    otherwise the error is at least 1/2 and its last digits do not matter."""
    if got.shape != truth.shape:
        raise AssertionError(f"gradcli gave shape {got.shape}, the reference {truth.shape}")
    with np.errstate(all="ignore"):
        err = np.abs((got - truth) - low) / np.abs(truth)
    err[~np.isfinite(got) & ~np.isnan(truth)] = np.inf
    return np.where(np.isnan(truth), np.nan, err)


def ulps(relative: float, dtype: str) -> float:
    """A relative error in units of the dtype's epsilon (ulps of 1)."""
    return relative / float(np.finfo(dtype).eps)
