"""Elementwise comparison of the engine with a reference, and the report row
it makes: status, largest errors, components left out (with why), and for a
failure the worst element (its index, the value got, the value expected and
the tolerance it missed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Worst:
    """The element that misses its tolerance by the largest factor."""

    index: tuple[int, ...]     # numpy index into the quantity
    got: float | None          # None: the engine's result is unconnected (None)
    expected: float
    tolerance: float

    def text(self) -> str:
        got = "None" if self.got is None else repr(self.got)
        return (f"worst at [{', '.join(str(i) for i in self.index)}]: got {got}, "
                f"expected {self.expected!r} (tolerance {self.tolerance:.3g})")


@dataclass(frozen=True)
class Row:
    quantity: str
    method: str
    status: str            # PASS, FAIL or SKIP
    max_abs: float
    max_rel: float
    compared: int = 0      # components compared
    total: int = 0         # components of the quantity
    detail: str = ""
    worst: Worst | None = None


@dataclass(frozen=True)
class Outcome:
    max_abs: float
    max_rel: float
    failures: int
    worst: int | None = None     # position (in the compared arrays) of the worst failure
    tolerance: float = 0.0       # its tolerance


def compare_arrays(got: np.ndarray, ref: np.ndarray, rtol: float, atol: float,
                   allowance: np.ndarray | float = 0.0) -> Outcome:
    """Elementwise |got - ref| <= atol + rtol |ref| + allowance; equal
    infinities and NaN against NaN agree."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(got - ref))
    diff = np.where(np.isnan(diff), np.inf, diff)
    scale = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / scale)
    tol = atol + rtol * np.where(np.isfinite(scale), scale, 0.0) + allowance
    tol = np.broadcast_to(tol, diff.shape)
    bad = ~(diff <= tol)
    worst = None
    if bad.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = np.where(bad, np.where(tol > 0, diff / tol, np.inf), -1.0)
        # the largest factor over the tolerance; among infinite ones the largest error
        top = np.flatnonzero(excess == excess.max())
        worst = int(top[np.argmax(diff.ravel()[top])]) if diff.ndim else 0
    return Outcome(float(diff.max(initial=0.0)),
                   float(np.nan_to_num(rel, nan=np.inf).max(initial=0.0)), int(bad.sum()),
                   worst, float(np.ravel(tol)[worst]) if worst is not None else 0.0)


def element_row(key: str, method: str, got: np.ndarray | None, shape: tuple[int, ...],
                flat: np.ndarray, ref: np.ndarray, rtol: float, atol: float,
                allowance: np.ndarray | float = 0.0,
                excluded: Sequence[tuple[np.ndarray, str]] = (),
                notes: Sequence[str] = ()) -> Row:
    """Compare the engine's elements at `flat` (positions in the flattened
    quantity of `shape`) with `ref`, leaving out each excluded mask with its
    reason.  Nothing left to compare is a SKIP, never a PASS."""
    total = int(np.prod(shape, dtype=np.int64))
    if got is not None and tuple(np.shape(got)) != tuple(shape):
        return Row(key, method, "FAIL", np.inf, np.inf, 0, total,
                   f"shape {tuple(np.shape(got))}, expected {tuple(shape)}")
    flat = np.asarray(flat, dtype=np.int64)
    ref = np.asarray(ref, dtype=np.float64)
    values = np.zeros(len(flat)) if got is None else \
        np.asarray(got, dtype=np.float64).reshape(-1)[flat]
    allowance = np.broadcast_to(np.asarray(allowance, dtype=np.float64), ref.shape)
    left_out = np.zeros(len(flat), dtype=bool)
    detail = list(notes)
    for mask, why in excluded:
        mask = np.asarray(mask, dtype=bool) & ~left_out
        if mask.any():
            detail.append(f"{int(mask.sum())} component(s) not compared: {why}")
            left_out |= mask
    keep = ~left_out
    if got is None:
        zero = bool(np.all(ref[keep] == 0))
        detail.insert(0, "unconnected (None); the reference is " + ("0" if zero else "not 0"))
    compared = int(keep.sum())
    if len(flat) < total:
        detail.append(f"sampled {len(flat)} of {total} components")
    if not compared:
        detail.append("nothing compared" if total else "nothing to compare (0 components)")
        return Row(key, method, "SKIP", np.nan, np.nan, 0, total, "; ".join(detail))
    outcome = compare_arrays(values[keep], ref[keep], rtol, atol, allowance[keep])
    worst = None
    if outcome.failures:
        detail.insert(0, f"{outcome.failures} of {compared} components outside tolerance")
        k = np.flatnonzero(keep)[outcome.worst]
        index = tuple(int(i) for i in np.unravel_index(int(flat[k]), shape)) if shape else ()
        worst = Worst(index, None if got is None else float(values[k]), float(ref[k]),
                      outcome.tolerance)
    return Row(key, method, "FAIL" if outcome.failures else "PASS", outcome.max_abs,
               outcome.max_rel, compared, total, "; ".join(detail), worst)
