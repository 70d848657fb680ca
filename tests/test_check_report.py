"""What `gradcli check` reports: a failure names its worst element (index,
value got, value expected, tolerance) in text, JSON and JUnit; `--wrt`
checks exactly the sources it names; `expect: orders` N checks 1..N."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import gradcli.engine.autodiff
from gradcli.cli.group import cli
from gradcli.engine.ops import TABLE
from gradcli.engine.ops import nodes as N
from gradcli.verify.check import Options, check_file, quantities

SPECS = Path(__file__).parent.parent / "specs"
QUICKSTART = SPECS / "quickstart.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_spec(tmp_path: Path, data: dict, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


# ---- the worst element of a failure -------------------------------------------------------

def _wrong_expect(tmp_path: Path) -> str:
    data = yaml.safe_load(QUICKSTART.read_text())
    data["expect"]["grad"]["w"][2] += 1e-3   # element [2] of grad.w
    return write_spec(tmp_path, data)


def test_a_failure_names_its_worst_element_in_text_json_and_junit(tmp_path: Path) -> None:
    path = _wrong_expect(tmp_path)
    junit = tmp_path / "r.xml"
    code, out, _ = run("check", path, "--junit", str(junit))
    assert code == 1
    want = yaml.safe_load(Path(path).read_text())["expect"]["grad"]["w"][2]
    line = next(x for x in out.splitlines() if "worst at" in x)
    assert line.strip().startswith("worst at [2]: got 1.1036007891056088")
    assert f"expected {want!r}" in line and "tolerance" in line

    code, out, _ = run("check", path, "--format", "json")
    rows = json.loads(out)["specs"][0]["rows"]
    failed = [r for r in rows if r["status"] == "FAIL"]
    assert [(r["quantity"], r["method"]) for r in failed] == [("grad.w", "expect")]
    worst = failed[0]["worst"]
    assert worst["index"] == [2] and worst["expected"] == want
    assert worst["got"] == pytest.approx(1.1036007891056088, rel=1e-15)
    assert worst["tolerance"] == pytest.approx(1e-10 + 1e-7 * abs(want))
    assert all(r["worst"] is None for r in rows if r["status"] != "FAIL")

    case = next(c for c in ET.parse(junit).getroot().iter("testcase")
                if c.get("name") == "grad.w [expect]")
    message = case.find("failure").get("message")
    assert "worst at [2]: got 1.1036007891056088" in message and repr(want) in message


def _cos_times_2(g, out, needs):  # d sin / dx = 2 cos: a wrong derivative rule
    return (N.mul(g, N.mul(N.unary("cos", out.inputs[0]), N.scalar(2.0, g))),)


def test_sympy_and_fd_failures_name_a_multi_axis_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = dict(TABLE)
    table["sin"] = dataclasses.replace(TABLE["sin"], vjp=_cos_times_2)
    monkeypatch.setattr(gradcli.engine.autodiff, "TABLE", table)
    path = write_spec(tmp_path, {"inputs": {"a": [[0.1, 0.2], [0.3, 3.0]]},
                                 "outputs": {"y": "sum(sin(a))"}})
    report = check_file(path, Options(what=("grad",)))
    for row in report.rows:
        assert row.status == "FAIL" and row.worst is not None
        # |2 cos(a) - cos(a)| over the tolerance is largest where |cos a| is
        assert row.worst.index == (0, 0)
        assert row.worst.got == pytest.approx(2 * np.cos(0.1), rel=1e-12)
        assert row.worst.expected == pytest.approx(np.cos(0.1), rel=1e-9)


def test_an_unconnected_engine_result_is_a_worst_element_with_got_null(
        tmp_path: Path) -> None:
    data = {"inputs": {"x": [1.0, 2.0], "z": 3.0}, "outputs": {"y": "sum(x * x)"},
            "expect": {"grad": {"z": 5.0}}}
    code, out, _ = run("check", write_spec(tmp_path, data), "--format", "json")
    assert code == 1
    row = next(r for r in json.loads(out)["specs"][0]["rows"] if r["status"] == "FAIL")
    assert row["worst"] == {"index": [], "got": None, "expected": 5.0,
                            "tolerance": pytest.approx(1e-10 + 5e-7)}


# ---- --wrt ------------------------------------------------------------------------------

LETS = {"inputs": {"x": [0.5, 1.5], "c": 2.0}, "let": {"h": "exp(x) * c", "k": "sin(h)"},
        "outputs": {"y": "sum(k * h)"},
        "expect": {"grad": {"x": [0.0, 0.0]}, "hessian": {"x": {"x": [[0.0, 0.0], [0.0, 0.0]]}}}}


def test_wrt_checks_exactly_the_named_sources(tmp_path: Path) -> None:
    path = write_spec(tmp_path, LETS)
    # expect: names x (with wrong numbers); --wrt h leaves those entries out
    code, out, err = run("check", path, "--wrt", "h", "--wrt", "k[1]",
                         "--what", "grad,hessian,orders", "--format", "json")
    assert code == 0, err + out
    rows = json.loads(out)["specs"][0]["rows"]
    quantities_seen = {r["quantity"] for r in rows}
    assert quantities_seen == {"grad.h", "grad.k[1]", "hessian.h.h", "hessian.h.k[1]",
                               "hessian.k[1].h", "hessian.k[1].k[1]", "orders.2.h",
                               "orders.2.k[1]"}
    assert {r["method"] for r in rows} == {"sympy", "fd"}
    assert all(r["status"] == "PASS" and r["compared"] > 0 for r in rows), rows


def test_wrt_with_an_unknown_source_is_a_located_error(tmp_path: Path) -> None:
    code, out, err = run("check", write_spec(tmp_path, LETS), "--wrt", "hh")
    assert code == 2 and "unknown source 'hh'" in err and "--wrt" in err


def test_wrt_keeps_the_expect_entries_of_its_sources(tmp_path: Path) -> None:
    code, out, _ = run("check", write_spec(tmp_path, LETS), "--wrt", "x", "--format", "json")
    assert code == 1  # the (wrong) expect: grad.x is compared
    rows = json.loads(out)["specs"][0]["rows"]
    assert {(r["quantity"], r["method"]) for r in rows if r["status"] == "FAIL"} == {
        ("grad.x", "expect"), ("hessian.x.x", "expect")}


def test_wrt_is_in_the_help() -> None:
    code, out, _ = run("check", "--help")
    assert code == 0 and "--wrt SOURCE" in out


# ---- nested orders ---------------------------------------------------------------------------

def test_expect_orders_n_checks_every_order_up_to_n(tmp_path: Path) -> None:
    import gradcli

    data = {"inputs": {"x": [0.3, -0.7]}, "let": {"h": "tanh(x) * x"},
            "outputs": {"y": "sum(h * h)"}, "wrt": ["x", "h"]}
    problem = gradcli.load(data)
    data["expect"] = {"orders": {4: {"x": problem.grad(wrt=["x"], order=4)["x"].tolist()}}}
    path = write_spec(tmp_path, data)
    keys = [q.key for q, _ in quantities(gradcli.load(path), None)]
    assert keys == ["grad.x", "grad.h", "orders.2.x", "orders.3.x", "orders.4.x"]
    keys = [q.key for q, _ in quantities(gradcli.load(path), ("orders",))]
    assert keys == ["orders.1.x", "orders.2.x", "orders.3.x", "orders.4.x"]
    report = check_file(path, Options(what=("orders",)))
    rows = {(r.quantity, r.method): r for r in report.rows}
    assert report.status == "PASS"
    for order in (1, 2, 3, 4):
        assert rows[(f"orders.{order}.x", "sympy")].status == "PASS"
        assert rows[(f"orders.{order}.x", "fd")].status == "PASS"
    assert [m for (q, m) in rows if m == "expect"] == ["expect"]  # only the order it names
    assert ("orders.4.x", "expect") in rows


def test_nested_orders_of_a_let_source_are_checked_against_both_references(
        tmp_path: Path) -> None:
    data = {"inputs": {"x": [0.3, -0.7]}, "let": {"h": "tanh(x) * x"},
            "outputs": {"y": "sum(exp(h) * h)"}, "expect": {"orders": {3: {}}}}
    report = check_file(write_spec(tmp_path, data), Options(what=("orders",), wrt=("h",)))
    rows = {(r.quantity, r.method): r.status for r in report.rows}
    assert rows == {(f"orders.{n}.h", m): "PASS" for n in (1, 2, 3) for m in ("sympy", "fd")}
