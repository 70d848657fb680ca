"""The accuracy harness (issue 13, docs/accuracy.md): every op's values,
first and second derivatives against 50-digit mpmath references, over the
whole range of float64 and float32, to the bars of
gradcli/verify/accuracy/table.py or the bound the op documents in its row.

The references are computed once per session (tests/conftest-free: a
session fixture) and shared with the drift test of docs/accuracy.md."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcli.engine.ops import TABLE
from gradcli.language.functions import CATALOGUE
from gradcli.verify.accuracy.case import cross_check
from gradcli.verify.accuracy.harness import problems, verdict
from gradcli.verify.accuracy.measure import Measured, measure, reference
from gradcli.verify.accuracy.points import RANGES
from gradcli.verify.accuracy.table import (
    BARS,
    CASES,
    EXCLUDED,
    covered_names,
    documented,
    measured_ops,
    unaccounted,
)

DTYPES = sorted(BARS)


@pytest.fixture(scope="session")
def measured() -> dict[tuple[str, str], Measured]:
    """(op, dtype) -> measurement, filled lazily: mpmath once per session."""
    return {}


def get(measured: dict, op: str, dtype: str) -> Measured:
    key = (op, dtype)
    if key not in measured:
        measured[key] = measure(CASES[op], reference(CASES[op], dtype), dtype)
    return measured[key]


def test_every_op_has_point_generators_or_a_stated_exclusion() -> None:
    missing = unaccounted()
    assert not missing, (
        f"ops without accuracy point generators: {missing}. Add a Case (points and mpmath "
        "references) in gradcli/verify/accuracy/cases_*.py, or an entry with the reason in "
        "EXCLUDED of gradcli/verify/accuracy/table.py")


def test_cases_and_exclusions_name_real_ops_once() -> None:
    names = covered_names()
    ops = measured_ops()
    assert not ops & set(EXCLUDED)
    assert ops <= names, sorted(ops - names)
    assert set(EXCLUDED) <= names, sorted(set(EXCLUDED) - names)
    assert all(reason.strip() for reason in EXCLUDED.values())
    assert all(key == case.key for key, case in CASES.items())


def test_documented_exceptions_are_well_formed() -> None:
    for op in sorted(set(TABLE) | set(CATALOGUE)):
        for exception in documented(op):
            key = f"{op} {exception.variant}" if exception.variant else op
            assert key in CASES, f"{key} documents an accuracy bound the harness never checks"
            assert exception.order in (0, 1, 2) and exception.dtype in BARS
            assert exception.bound > BARS[exception.dtype][exception.order]
            assert len(exception.reason) > 40, f"{op}: say why, with the measured error"


def _moderate(points: np.ndarray, count: int = 3) -> np.ndarray:
    size = np.abs(points)
    # Moderate: mpmath.diff then keeps its digits (exp(-700) terms would not).
    ok = np.all((size == 0) | ((size > 1e-20) & (size < 30)), axis=1)
    chosen = points[ok]
    return chosen[np.linspace(0, len(chosen) - 1, min(count, len(chosen))).astype(int)]


@pytest.mark.parametrize("op", sorted(CASES))
def test_closed_forms_agree_with_mpmath_diff(op: str) -> None:
    case = CASES[op]
    points = np.asarray(case.points(RANGES["float64"]), dtype=np.float64)
    if case.avoid is not None:
        points = points[~np.asarray(case.avoid(points), dtype=bool)]
    for point in _moderate(points):
        assert not cross_check(case, point), (point, cross_check(case, point))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(CASES))
def test_op_meets_its_bar(measured: dict, op: str, dtype: str) -> None:
    results = verdict(get(measured, op, dtype), dtype)
    assert not problems(results, op)
    assert sum(r.checked for r in results) > 0, f"{op}: no entry with a normal truth"


def test_the_issue_examples_are_exact(measured: dict) -> None:
    import gradcli

    def run(expr: str, x: list[float], order: int = 0) -> np.ndarray:
        p = gradcli.load({"inputs": {"x": x}, "outputs": {"y": expr}})
        return p.evaluate()["y"] if order == 0 else p.grad(order=order)["x"]

    assert run("logsumexp(x)", [0.0, -40.0, -650.0]) == pytest.approx(math.exp(-40), rel=1e-15)
    assert run("arcsinh(x)", [1e200], 1)[0] == pytest.approx(1e-200, rel=1e-15)
    assert run("arccosh(x)", [1e300], 1)[0] == pytest.approx(1e-300, rel=1e-15)
    assert run("arcsinh(x)", [1e150], 2)[0] == pytest.approx(-1e-300, rel=1e-14)
    x = 1.0000000001
    truth = -x / ((x - 1) * (x + 1)) ** 1.5  # x - 1 is exact here; the rest rounds 4 times
    assert run("arccosh(x)", [x], 2)[0] == pytest.approx(truth, rel=1e-14)


def _doc_rows(text: str, dtype: str) -> dict[str, list[str]]:
    section = text.split(f"## {dtype}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("dtype", DTYPES)
def test_docs_accuracy_md_is_in_step(measured: dict, dtype: str) -> None:
    """Regenerate with: python -m benchmarks.accuracy > docs/accuracy.md.
    Same ops, and gradcli's worst errors within a factor 2 of the file's
    (libm builds differ in the last bits; peers' columns are not compared)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "accuracy.md").read_text()
    rows = _doc_rows(text, dtype)
    assert sorted(rows) == sorted(CASES), "docs/accuracy.md is stale: regenerate it"
    for op in sorted(CASES):
        results = verdict(get(measured, op, dtype), dtype)
        cells = rows[op]
        for r, cell in zip(results, cells[4::2]):
            if cell == "—":
                assert r.checked == 0, f"{op} order {r.order}: docs/accuracy.md is stale"
                continue
            doc = float(cell)
            assert (doc <= 2 * r.worst + 1e-300 and r.worst <= 2 * doc + 1e-300) or \
                max(doc, r.worst) < BARS[dtype][r.order] / 100, \
                f"{op} order {r.order}: docs/accuracy.md says {doc}, measured {r.worst:.2g}"
