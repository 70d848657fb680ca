"""Text and json for `gradcli check` reports and `gradcli symbolic` closed forms.

Check text: per spec a header (file, name, dtype, status, tolerances and what
they mean for each method), then one row per (quantity, method) with the
largest absolute and relative error and PASS/FAIL/SKIP; details (sampling,
kinks, counts outside tolerance) follow on the row, and a failed row is
followed by its worst element (index, value got, value expected, tolerance).
json carries the same rows (`worst`: {index, got, expected, tolerance} or
null); numbers that are not finite are the strings "inf"/"nan" (DESIGN §2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the reports are plain data; rendering needs only their types
    from gradcli.verify.check import SpecReport, Worst

TOLERANCE_NOTE = ("pass when |engine - reference| <= atol + rtol*|reference|; fd adds its "
                  "own error estimate (difference of two Richardson levels plus rounding) "
                  "and leaves out components whose estimate exceeds 1e-3 of their scale; "
                  "references are the spec as written (no rewrite rules), never the "
                  "engine's derivative programs")


def _number(x: float) -> str:
    if math.isnan(x):
        return "-"
    return "inf" if math.isinf(x) else f"{x:.3g}"


def _json_number(x: float) -> Any:
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _json_worst(worst: Worst | None) -> dict[str, Any] | None:
    """The failing element: index into the quantity, the engine's value
    (null when unconnected), the reference's, and the tolerance it missed."""
    if worst is None:
        return None
    return {"index": list(worst.index),
            "got": None if worst.got is None else _json_number(worst.got),
            "expected": _json_number(worst.expected),
            "tolerance": _json_number(worst.tolerance)}


def render_check_text(reports: Sequence[SpecReport], seconds: float) -> bytes:
    out: list[str] = []
    for report in reports:
        out.append(f"{report.file}: {report.status}  ({report.name}, {report.dtype or '?'}, "
                   f"{report.seconds:.2f} s)")
        if report.error is not None:
            out.append(f"  error: {report.error}")
            out.append("")
            continue
        out.append(f"  rtol {report.rtol:g}, atol {report.atol:g} ({report.tolerance_from})")
        rows = [("quantity", "method", "max abs err", "max rel err", "result", "")]
        rows += [(r.quantity, r.method, _number(r.max_abs), _number(r.max_rel), r.status,
                  r.detail) for r in report.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row, data in zip(rows, (None,) + report.rows):
            cells = "  ".join(c.ljust(w) for c, w in zip(row, widths))
            out.append(("  " + cells + ("  " + row[5] if row[5] else "")).rstrip())
            if data is not None and data.worst is not None:
                out.append("    " + data.worst.text())
        out.append("")
    counts = {s: sum(r.status == s for r in reports) for s in ("PASS", "FAIL", "ERROR")}
    out.append(TOLERANCE_NOTE)
    out.append(f"checked {len(reports)} spec(s): {counts['PASS']} passed, {counts['FAIL']} "
               f"failed, {counts['ERROR']} with errors ({seconds:.1f} s)")
    return ("\n".join(out) + "\n").encode()


def render_check_json(reports: Sequence[SpecReport], seconds: float) -> bytes:
    specs = []
    for report in reports:
        specs.append({
            "file": report.file, "name": report.name, "dtype": report.dtype,
            "status": report.status, "error": report.error, "seconds": report.seconds,
            "rtol": report.rtol, "atol": report.atol, "tolerances": report.tolerance_from,
            "rows": [{"quantity": r.quantity, "method": r.method, "status": r.status,
                      "max_abs": _json_number(r.max_abs), "max_rel": _json_number(r.max_rel),
                      "compared": r.compared, "total": r.total, "detail": r.detail,
                      "worst": _json_worst(r.worst)}
                     for r in report.rows]})
    document = {"command": "check", "ok": all(r.status == "PASS" for r in reports),
                "passed": sum(r.status == "PASS" for r in reports),
                "failed": sum(r.status == "FAIL" for r in reports),
                "errors": sum(r.status == "ERROR" for r in reports),
                "seconds": seconds, "specs": specs}
    return (json.dumps(document) + "\n").encode()


# ---- symbolic -----------------------------------------------------------------------------

def render_symbolic_text(report: Any, latex: bool) -> bytes:
    """Closed forms (optionally LaTeX) and the matrix form of each source."""
    import sympy

    names = report.latex_names if latex else {}

    def show(expr: Any) -> str:
        return sympy.latex(expr, symbol_names=names) if latex else sympy.sstr(expr)

    out = [f"# {line}" for line in report.summary]
    for form, title, matrix in zip(report.forms, report.titles, report.matrices):
        out.append("")
        sampled = (f", sampled {form.picked} of {form.total} components"
                   if form.picked < form.total else "")
        count = f"{form.total} component{'s' if form.total != 1 else ''}"
        out.append(f"{title}  ({count}{sampled})")
        for sym, expr in form.shared:
            out.append(f"  {show(sym)} = {show(expr)}")
        for label, tex, expr in zip(form.labels, form.latex_labels, form.exprs):
            key = f"\\frac{{\\partial}}{{\\partial {tex}}}" if latex else f"d/d{label}"
            out.append(f"  {key} = {show(expr)}")
        if form.skipped is not None:
            out.append(f"  SKIPPED: {form.skipped}")
        lets, text = matrix
        if text is None:
            out.append("  matrix form: None (unconnected: every derivative is 0)")
        else:
            out.append("  matrix form (from the simplified gradient program):")
            out += [f"    {name} = {value}" for name, value in lets]
            out.append(f"    {title} = {text}")
    return ("\n".join(out) + "\n").encode()


def render_symbolic_json(report: Any, latex: bool) -> bytes:
    import sympy

    names = report.latex_names if latex else {}

    def show(expr: Any) -> str:
        return sympy.latex(expr, symbol_names=names) if latex else sympy.sstr(expr)

    sources = {}
    for form, title, (lets, text) in zip(report.forms, report.titles, report.matrices):
        sources[form.source] = {
            "title": title, "components": form.total, "sampled": form.picked < form.total,
            "shared": {str(sym): show(expr) for sym, expr in form.shared},
            "derivatives": {label: show(expr) for label, expr in zip(form.labels, form.exprs)},
            "skipped": form.skipped,
            "matrix": None if text is None else {"lets": dict(lets), "expression": text}}
    document = {"command": "symbolic", "latex": latex, "summary": list(report.summary),
                "symbolic": sources}
    return (json.dumps(document) + "\n").encode()
