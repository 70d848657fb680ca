"""`gradcli check`: every derivative a spec asks about, computed by the
engine and compared three independent ways: (a) sympy's symbolic derivative
evaluated at the point, (b) central finite differences in float64, (c) the
golden values of the spec's `expect:` block.

The result is data (a `SpecReport` of rows); rendering lives in
`render/checks.py` and `render/junit.py`.  Only a mismatch fails a row: a
method that does not apply (no finite difference of a value, no `expect:`
entry) is left out, one that cannot run (graph too large for sympy) is a
SKIP with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcli.errors import GradcliError, SpecError
from gradcli.verify.compare import Outcome, Row, Worst, compare_arrays
from gradcli.verify.expect import DEFAULT_TOLERANCES, compare, tolerances
from gradcli.verify.quantities import KINDS, Expected, Quantity, expect_at, parse_what, quantities
from gradcli.verify.sympy_budget import SECONDS as SYMPY_SECONDS

__all__ = ["KINDS", "METHODS", "Options", "Outcome", "Quantity", "Row", "SpecReport", "Worst",
           "check_file", "check_problem", "compare_arrays", "parse_what", "quantities"]

METHODS = ("sympy", "fd", "expect")
DEFAULT_MAX_SYMBOLIC = 64
# Components compared by finite differences at most (sampled beyond, like sympy).
FD_LIMIT = 1024


@dataclass(frozen=True)
class SpecReport:
    file: str
    name: str
    dtype: str
    rtol: float | None
    atol: float | None
    rows: tuple[Row, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    tolerance_from: str = ""   # where rtol/atol came from, printed beside them

    @property
    def status(self) -> str:
        if self.error is not None:
            return "ERROR"
        return "FAIL" if any(r.status == "FAIL" for r in self.rows) else "PASS"


@dataclass(frozen=True)
class Options:
    what: tuple[str, ...] | None = None
    rtol: float | None = None
    atol: float | None = None
    max_symbolic: int = DEFAULT_MAX_SYMBOLIC
    methods: tuple[str, ...] = METHODS
    wrt: tuple[str, ...] | None = None   # exactly these sources (--wrt)
    sympy_seconds: float = SYMPY_SECONDS  # per quantity (--sympy-seconds)


# ---- engine values ---------------------------------------------------------------------

def engine_values(problem: Any, items: Sequence[Quantity]) -> dict[str, np.ndarray | None]:
    """Each quantity as the engine computes it, one engine call per kind."""
    got: dict[str, np.ndarray | None] = {}
    values = [q for q in items if q.kind == "value"]
    if values:
        result = problem.evaluate(outputs=list(dict.fromkeys(q.output for q in values)))
        got.update({q.key: result[q.output] for q in values})
    by_order: dict[int, list[Quantity]] = {}
    for q in items:
        if q.kind in ("grad", "orders"):
            by_order.setdefault(q.order, []).append(q)
    for order, group in by_order.items():
        result = problem.grad(wrt=list(dict.fromkeys(q.source for q in group)), order=order)
        got.update({q.key: result[q.source] for q in group})
    jac = [q for q in items if q.kind == "jacobian"]
    if jac:
        result = problem.jacobian(wrt=list(dict.fromkeys(q.source for q in jac)),
                                  outputs=list(dict.fromkeys(q.output for q in jac)))
        got.update({q.key: result[q.output][q.source] for q in jac})
    hes = [q for q in items if q.kind == "hessian"]
    if hes:
        keys = list(dict.fromkeys([q.source for q in hes] + [q.other for q in hes]))
        result = problem.hessian(wrt=keys)
        got.update({q.key: result[q.source][q.other] for q in hes})
    return got


# ---- one spec ----------------------------------------------------------------------------

def expect_row(q: Quantity, got: np.ndarray | None, expected: Expected, rtol: float,
               atol: float, location: Any = None) -> Row:
    """Method (c), with expect.compare (shared with the spec tests)."""
    try:
        c = compare(q.key, got, expected.value, rtol, atol)
    except SpecError as exc:  # not a numeric array: say where
        raise SpecError(exc.message, location) from None
    size = 0 if got is None else int(np.size(got))
    worst = None if c.passed or c.index is None else \
        Worst(c.index, c.got, c.expected, c.tolerance)
    return Row(q.key, "expect", "PASS" if c.passed else "FAIL", c.max_abs, c.max_rel,
               size, size, c.detail, worst)


def _origin(problem: Any, options: Options) -> str:
    expect = problem.spec.expect or {}
    if options.rtol is not None or options.atol is not None:
        return "from --rtol/--atol"
    if "rtol" in expect or "atol" in expect:
        return "from expect:"
    return "defaults: " + "; ".join(f"{d} rtol {r:g}, atol {a:g}"
                                    for d, (r, a) in DEFAULT_TOLERANCES.items())


def check_problem(problem: Any, options: Options, reference: Any | None = None) -> SpecReport:
    """Run the checks on a loaded Problem (the engine side, with whatever
    rules it was loaded with).  The references come from `reference`, by
    default the same spec loaded again in float64 with no rewrite rules
    (`reference.reference_problem`), never from the engine's programs."""
    from gradcli.verify.check_methods import References
    from gradcli.verify.reference import reference_problem

    rtol, atol = tolerances(problem, options.rtol, options.atol)
    items = quantities(problem, options.what, options.wrt)
    got = engine_values(problem, [q for q, _ in items])
    ref = reference if reference is not None else reference_problem(problem)
    methods = References(ref, [q for q, _ in items], options.max_symbolic, FD_LIMIT,
                         options.methods, options.sympy_seconds)
    rows: list[Row] = []
    for q, expected in items:
        value = got[q.key]
        if "sympy" in options.methods:
            rows.append(methods.sympy_row(q, value, rtol, atol))
        if "fd" in options.methods and q.kind != "value":
            rows.append(methods.fd_row(q, value, rtol, atol))
        if "expect" in options.methods and expected is not None:
            rows.append(expect_row(q, value, expected, rtol, atol,
                                   expect_at(problem, *q.path)))
    return SpecReport(problem.spec.file, problem.spec.name, problem.spec.dtype, rtol, atol,
                      tuple(rows), tolerance_from=_origin(problem, options))


def check_file(path: str, options: Options, dtype: str | None = None,
               rules: Any | None = None) -> SpecReport:
    """Load and check one spec; a bad spec becomes a report with `error` set.
    `rules`: the engine's rewrite rules (default: the engine's own,
    `rules.STANDARD`); the references never use them."""
    import gradcli

    start = time.perf_counter()
    try:
        problem = gradcli.load(path, dtype=dtype, rules=rules)
        report = check_problem(problem, options)
    except GradcliError as exc:
        return SpecReport(path, path, dtype or "", None, None, error=str(exc),
                          seconds=time.perf_counter() - start)
    return replace(report, file=path, seconds=time.perf_counter() - start)
