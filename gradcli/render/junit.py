"""JUnit XML for `gradcli check --junit FILE`, the report format CI systems
(GitLab, Jenkins, GitHub test reporters) display.

Layout: one <testsuite> per spec file, one <testcase> per (quantity,
method) named like `grad.a [sympy]`; a mismatch is a <failure> whose
message names the worst element (index, got, expected, tolerance), a method
that could not run is <skipped>, and a spec that did not load is a single
testcase with an <error> carrying the location message.  Counts on every
suite and on the <testsuites> root add up, as the schema requires.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reports are plain data; rendering needs only their type
    from gradcli.verify.check import SpecReport


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if math.isinf(x) else f"{x:.6g}")


def render_junit(reports: Sequence[SpecReport], seconds: float) -> bytes:
    root = ET.Element("testsuites", name="gradcli check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        suite = ET.SubElement(root, "testsuite", name=report.file)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if report.error is not None:
            case = ET.SubElement(suite, "testcase", classname=report.name, name="load spec",
                                 time=f"{report.seconds:.3f}")
            error = ET.SubElement(case, "error", message=report.error, type="SpecError")
            error.text = report.error
            counts["tests"], counts["errors"] = 1, 1
        for row in report.rows:
            case = ET.SubElement(suite, "testcase", classname=report.name,
                                 name=f"{row.quantity} [{row.method}]", time="0")
            counts["tests"] += 1
            message = (f"max abs err {_fmt(row.max_abs)}, max rel err {_fmt(row.max_rel)}, "
                       f"rtol {report.rtol:g}, atol {report.atol:g}"
                       + (f"; {row.worst.text()}" if row.worst is not None else "")
                       + (f"; {row.detail}" if row.detail else ""))
            if row.status == "FAIL":
                failure = ET.SubElement(case, "failure", message=message, type="mismatch")
                failure.text = message
                counts["failures"] += 1
            elif row.status == "SKIP":
                ET.SubElement(case, "skipped", message=row.detail)
                counts["skipped"] += 1
            elif row.detail:
                ET.SubElement(case, "system-out").text = message
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{report.seconds:.3f}")
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") \
        + b"\n"
