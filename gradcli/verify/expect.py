"""Comparison of a Problem's results with the golden values of its spec's
`expect:` block (used by `gradcli check` and by the test of every spec)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.errors import SpecError

# float32 keeps about 7 digits; a looser default is stated, not hidden.
DEFAULT_TOLERANCES = {"float64": (1e-7, 1e-10), "float32": (1e-5, 1e-6)}


@dataclass(frozen=True)
class Comparison:
    quantity: str          # "grad.a", "orders.2.x", "value.y"
    max_abs: float
    max_rel: float
    passed: bool
    detail: str = ""
    # the element that misses its tolerance by the largest factor (failures only)
    index: tuple[int, ...] | None = None
    got: float | None = None
    expected: float = float("nan")
    tolerance: float = float("nan")


def tolerances(problem: Any, rtol: float | None = None,
               atol: float | None = None) -> tuple[float, float]:
    expect = problem.spec.expect or {}
    default_rtol, default_atol = DEFAULT_TOLERANCES[problem.spec.dtype]
    return (rtol if rtol is not None else float(expect.get("rtol", default_rtol)),
            atol if atol is not None else float(expect.get("atol", default_atol)))


def compare(quantity: str, got: np.ndarray | None, want: Any, rtol: float,
            atol: float) -> Comparison:
    if want is None:
        if got is None:
            return Comparison(quantity, 0.0, 0.0, True, "unconnected, as expected")
        return Comparison(quantity, np.inf, np.inf, False, "expected unconnected (null), "
                          "got a value")
    try:
        expected = np.asarray(want, dtype="float64")
    except (TypeError, ValueError):
        raise SpecError(f"expect: {quantity} is not a numeric array") from None
    if got is None:
        top = int(np.argmax(np.abs(expected))) if expected.size else 0
        index = tuple(int(i) for i in np.unravel_index(top, expected.shape)) \
            if expected.size else ()
        return Comparison(quantity, np.inf, np.inf, False, "unconnected (None)", index, None,
                          float(expected.reshape(-1)[top]) if expected.size else np.nan,
                          atol + rtol * float(np.abs(expected).max(initial=0.0)))
    got = np.asarray(got, dtype="float64")
    if expected.shape != got.shape:
        if expected.size == got.size:
            expected = expected.reshape(got.shape)
        else:
            return Comparison(quantity, np.inf, np.inf, False,
                              f"shape {got.shape}, expected {expected.shape}")
    diff = np.abs(got - expected)
    both_nan = np.isnan(got) & np.isnan(expected)
    diff = np.where(both_nan, 0.0, diff)
    scale = np.abs(expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / scale)
    # Equal values pass even when infinite (inf - inf is nan); nan matches nan.
    tol = atol + rtol * scale
    good = (got == expected) | both_nan | (diff <= tol)
    ok = bool(np.all(good))
    extra: tuple[Any, ...] = ()
    if not ok:
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = np.where(good, -1.0, np.where(tol > 0, diff / tol, np.inf))
        excess = np.where(np.isnan(excess), np.inf, excess)
        top = int(np.argmax(excess))
        extra = (tuple(int(i) for i in np.unravel_index(top, got.shape)),
                 float(got.reshape(-1)[top]), float(expected.reshape(-1)[top]),
                 float(np.reshape(tol, -1)[top]))
    detail = "" if ok else f"{int((~good).sum())} of {got.size} components outside tolerance"
    return Comparison(quantity, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)), ok,
                      detail, *extra)


def compare_expect(problem: Any, rtol: float | None = None,
                   atol: float | None = None) -> list[Comparison]:
    """Every quantity the `expect:` block names, compared with the engine."""
    expect = problem.spec.expect or {}
    rtol, atol = tolerances(problem, rtol, atol)
    results: list[Comparison] = []
    if "value" in expect:
        wanted = _mapping(expect["value"], "value")
        values = problem.evaluate(outputs=list(wanted))
        results += [compare(f"value.{k}", values[k], v, rtol, atol) for k, v in wanted.items()]
    if "grad" in expect:
        wanted = _mapping(expect["grad"], "grad")
        grads = problem.grad(wrt=list(wanted))
        results += [compare(f"grad.{k}", grads[k], v, rtol, atol) for k, v in wanted.items()]
    for order, block in _mapping(expect.get("orders", {}), "orders").items():
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise SpecError(f"expect: orders keys must be integers >= 1, got {order!r}")
        wanted = _mapping(block, f"orders.{order}")
        grads = problem.grad(wrt=list(wanted), order=order)
        results += [compare(f"orders.{order}.{k}", grads[k], v, rtol, atol)
                    for k, v in wanted.items()]
    if "jacobian" in expect:
        for out, block in _mapping(expect["jacobian"], "jacobian").items():
            wanted = _mapping(block, f"jacobian.{out}")
            got = problem.jacobian(wrt=list(wanted), outputs=[out])[out]
            results += [compare(f"jacobian.{out}.{k}", got[k], v, rtol, atol)
                        for k, v in wanted.items()]
    if "hessian" in expect:
        rows = _mapping(expect["hessian"], "hessian")
        keys = list(dict.fromkeys([*rows, *(k for r in rows.values()
                                            for k in _mapping(r, "hessian row"))]))
        got = problem.hessian(wrt=keys)
        for i, row in rows.items():
            results += [compare(f"hessian.{i}.{j}", got[i][j], v, rtol, atol)
                        for j, v in _mapping(row, f"hessian.{i}").items()]
    return results


def _mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"expect: {where} must be a mapping")
    return value
