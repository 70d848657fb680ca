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
from gradcli.verify.expect import DEFAULT_TOLERANCES, compare, tolerances

KINDS = ("value", "grad", "orders", "jacobian", "hessian")
METHODS = ("sympy", "fd", "expect")
DEFAULT_MAX_SYMBOLIC = 64
# Components compared by finite differences at most (sampled beyond, like sympy).
FD_LIMIT = 1024


@dataclass(frozen=True)
class Quantity:
    """One checked quantity: `value.y`, `grad.a`, `orders.2.x`, `jacobian.y.a`, `hessian.a.b`."""

    kind: str
    key: str
    output: str | None = None
    source: str | None = None
    other: str | None = None
    order: int = 1
    path: tuple[Any, ...] = ()   # where it sits under expect: (for error locations)


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


def parse_what(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise SpecError(f"--what takes a comma-separated list of {', '.join(KINDS)}; "
                        f"got {text!r}", "--what")
    return kinds


# ---- which quantities ------------------------------------------------------------------

def _mapping(value: Any, where: str, at: Any = None) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"expect: {where} must be a mapping", at)
    return value


def _expect_at(problem: Any, *path: Any) -> Any:
    """The location of expect:/path in the spec file (its nearest located parent)."""
    doc = problem.spec.doc
    return doc.key_at(("expect",) + path) if doc is not None else problem.spec.expect_at


def _validate(problem: Any, q: Quantity, path: tuple[Any, ...]) -> None:
    """Names in expect: are checked here, so a typo is a located spec error
    (exit 2), not a failed comparison."""
    at = _expect_at(problem, q.kind, *path)
    names = [q.output] if q.output is not None else []
    for name in names:
        if name not in problem.named or name in problem.leaves:
            from gradcli.errors import suggest

            known = [n for n in problem.named if n not in problem.leaves]
            raise SpecError(f"expect: {q.key} names '{name}', which is not an output or let "
                            f"name{suggest(name, known)}", at)
    for key in (q.source, q.other):
        if key is not None:
            try:
                problem.sources([key])
            except SpecError as exc:
                raise SpecError(f"expect: {q.key}: {exc.message}", at) from None


def quantities(problem: Any, what: tuple[str, ...] | None) -> list[tuple[Quantity, Any]]:
    """The quantities to check with their expected value (or None when
    `expect:` does not name them).  Default: what `expect:` names, plus the
    gradient of every default source."""
    expect = problem.spec.expect or {}
    kinds = what or tuple(k for k in KINDS if k == "grad" or k in expect)
    outputs = list(problem.outputs)
    if problem.spec.wrt:  # the spec's own wrt:, checked with its own locations
        problem.sources(None)
    sources = problem.default_wrt()
    missing = object()
    found: list[tuple[Quantity, tuple[Any, ...], Any]] = []
    for kind in kinds:
        at = _expect_at(problem, kind)
        block = _mapping(expect.get(kind, {}), kind, at) if kind != "orders" else {}
        if kind == "value":
            for name in block or outputs:
                found.append((Quantity("value", f"value.{name}", output=name), (name,),
                              block.get(name, missing)))
        elif kind == "grad":
            for key in dict.fromkeys(sources + list(block)):
                found.append((Quantity("grad", f"grad.{key}", source=key), (key,),
                              block.get(key, missing)))
        elif kind == "orders":
            orders = _mapping(expect.get("orders", {}), "orders", at) or {2: {}}
            for order, wanted in orders.items():
                if isinstance(order, bool) or not isinstance(order, int) or order < 1:
                    raise SpecError(f"expect: orders keys must be integers >= 1, got {order!r}",
                                    _expect_at(problem, "orders", order))
                wanted = _mapping(wanted, f"orders.{order}", _expect_at(problem, "orders", order))
                for key in wanted or sources:
                    found.append((Quantity("orders", f"orders.{order}.{key}", source=key,
                                           order=order), (order, key), wanted.get(key, missing)))
        else:
            rows = block or {name: {} for name in (outputs if kind == "jacobian" else sources)}
            for first, inner in rows.items():
                inner = _mapping(inner, f"{kind}.{first}", _expect_at(problem, kind, first))
                for second in inner or sources:
                    q = Quantity(kind, f"{kind}.{first}.{second}",
                                 output=first if kind == "jacobian" else None,
                                 source=second if kind == "jacobian" else first,
                                 other=second if kind == "hessian" else None)
                    found.append((q, (first, second), inner.get(second, missing)))
    for q, path, _ in found:
        _validate(problem, q, path)
    return [(replace(q, path=(q.kind,) + path), None if want is missing else _Expected(want))
            for q, path, want in found]


@dataclass(frozen=True)
class _Expected:
    """Wraps an expected value so that `None` (an expected unconnected result)
    differs from "no expectation"."""

    value: Any


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


# ---- comparison ------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    max_abs: float
    max_rel: float
    failures: int


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
    bad = ~(diff <= atol + rtol * np.where(np.isfinite(scale), scale, 0.0) + allowance)
    return Outcome(float(diff.max(initial=0.0)), float(np.nan_to_num(rel, nan=np.inf)
                                                       .max(initial=0.0)), int(bad.sum()))


def row_from(key: str, method: str, outcome: Outcome, compared: int, total: int,
             notes: Sequence[str] = ()) -> Row:
    detail = list(notes)
    if outcome.failures:
        detail.insert(0, f"{outcome.failures} of {compared} components outside tolerance")
    if compared < total:
        detail.append(f"sampled {compared} of {total} components")
    return Row(key, method, "FAIL" if outcome.failures else "PASS", outcome.max_abs,
               outcome.max_rel, compared, total, "; ".join(detail))


def expect_row(q: Quantity, got: np.ndarray | None, expected: _Expected, rtol: float,
               atol: float, location: Any = None) -> Row:
    """Method (c), with expect.compare (shared with the spec tests)."""
    try:
        c = compare(q.key, got, expected.value, rtol, atol)
    except SpecError as exc:  # not a numeric array: say where
        raise SpecError(exc.message, location) from None
    size = 0 if got is None else int(np.size(got))
    return Row(q.key, "expect", "PASS" if c.passed else "FAIL", c.max_abs, c.max_rel,
               size, size, c.detail)


# ---- one spec ----------------------------------------------------------------------------

def check_problem(problem: Any, options: Options, reference: Any | None = None) -> SpecReport:
    """Run the checks on a loaded Problem.  `reference` is the same spec in
    float64 (for float32 problems); the sympy and FD references use it."""
    from gradcli.verify import check_methods

    rtol, atol = tolerances(problem, options.rtol, options.atol)
    expect = problem.spec.expect or {}
    if options.rtol is not None or options.atol is not None:
        origin = "from --rtol/--atol"
    elif "rtol" in expect or "atol" in expect:
        origin = "from expect:"
    else:
        origin = "defaults: " + "; ".join(f"{d} rtol {r:g}, atol {a:g}"
                                          for d, (r, a) in DEFAULT_TOLERANCES.items())
    items = quantities(problem, options.what)
    got = engine_values(problem, [q for q, _ in items])
    ref = reference if reference is not None else problem
    point = {name: np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f"
             else np.asarray(v) for name, v in problem.values.items()}
    methods = check_methods.References(ref, point, [q for q, _ in items], options.max_symbolic,
                                       FD_LIMIT)
    rows: list[Row] = []
    for q, expected in items:
        value = got[q.key]
        if "sympy" in options.methods:
            rows.append(methods.sympy_row(q, value, rtol, atol))
        if "fd" in options.methods and q.kind != "value":
            rows.append(methods.fd_row(q, value, rtol, atol))
        if "expect" in options.methods and expected is not None:
            rows.append(expect_row(q, value, expected, rtol, atol,
                                   _expect_at(problem, *q.path)))
    return SpecReport(problem.spec.file, problem.spec.name, problem.spec.dtype, rtol, atol,
                      tuple(rows), tolerance_from=origin)


def check_file(path: str, options: Options, dtype: str | None = None) -> SpecReport:
    """Load and check one spec; a bad spec becomes a report with `error` set."""
    import gradcli

    start = time.perf_counter()
    try:
        problem = gradcli.load(path, dtype=dtype)
        reference = None
        if problem.spec.dtype != "float64":
            reference = gradcli.load(path, dtype="float64")
            reference.values.update({k: np.asarray(v, dtype=reference.values[k].dtype)
                                     for k, v in problem.values.items()})
        report = check_problem(problem, options, reference)
    except GradcliError as exc:
        return SpecReport(path, path, dtype or "", None, None, error=str(exc),
                          seconds=time.perf_counter() - start)
    return replace(report, file=path, seconds=time.perf_counter() - start)
