"""The verdict of the harness on one case: the worst error per order on the
strict points (the bar) and on the points of the op's documented exception
(its bound), and what is wrong, if anything.  Used by the tests and by the
generator of docs/accuracy.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcli.verify.accuracy.measure import ORDERS, Measured
from gradcli.verify.accuracy.table import BARS, bound


@dataclass(frozen=True)
class OrderResult:
    order: int
    checked: int  # entries whose truth is a normal number
    points: int  # points with at least one checked entry
    worst: float  # over all checked entries
    worst_at: tuple[float, ...] | None
    strict_worst: float  # over the points where the bar holds
    loose_worst: float  # over the points of the documented exception
    bar: float
    bound: float  # the documented bound, or the bar
    reason: str  # the documented reason, "" for none


def verdict(m: Measured, dtype: str) -> list[OrderResult]:
    case = m.case
    points = m.reference.points
    loose = np.ones(len(points), bool) if case.loose is None else \
        np.asarray(case.loose(points), dtype=bool)
    out = []
    for order in ORDERS:
        e = m.errors[order]
        allowed, exception = bound(case.op, order, dtype, case.variant)
        mask = loose if exception is not None else np.zeros(len(points), bool)
        worst, at = m.worst(order)
        out.append(OrderResult(
            order, m.count(order), int(np.sum(np.any(~np.isnan(e), axis=1))) if e.size else 0,
            worst, None if at is None else tuple(float(v) for v in at),
            _max(e[~mask]), _max(e[mask]), BARS[dtype][order], allowed,
            exception.reason if exception else ""))
    return out


def _max(e: np.ndarray) -> float:
    return float(np.nanmax(e)) if e.size and np.any(~np.isnan(e)) else 0.0


def problems(results: list[OrderResult], op: str) -> list[str]:
    """What the harness objects to (empty: the op meets its bar or bound)."""
    out = []
    for r in results:
        if r.strict_worst > r.bar:
            out.append(f"{op} order {r.order}: relative error {r.strict_worst:.3g} > "
                       f"bar {r.bar:g} (worst at {r.worst_at})")
        if r.reason and r.loose_worst > r.bound:
            out.append(f"{op} order {r.order}: relative error {r.loose_worst:.3g} > its "
                       f"documented bound {r.bound:g}")
        if r.reason and r.loose_worst <= r.bar:
            out.append(f"{op} order {r.order}: the documented bound {r.bound:g} is no longer "
                       f"needed (worst {r.loose_worst:.3g} meets the bar {r.bar:g}): "
                       "remove it from the op's row")
    return out
