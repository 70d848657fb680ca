"""`gradcli check`: passes on every shipped spec, and fails (exit 1) when an
expect: value is wrong or a derivative rule is broken, each method on its
own; kinks are noted, not failed; JUnit XML and json are well formed."""

from __future__ import annotations

import dataclasses
import json
import shutil
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
from gradcli.verify.check import Options, Quantity, check_file, compare_arrays, quantities

SPECS = Path(__file__).parent.parent / "specs"
SIN_MATMUL = str(SPECS / "symbolic-gradient-sin-matmul.yaml")
NETWORK = str(SPECS / "partial-derivatives-of-a-network.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def rows_of(out: str) -> dict[tuple[str, str, str], str]:
    """(spec name, quantity, method) -> status, from --format json."""
    doc = json.loads(out)
    return {(s["name"], r["quantity"], r["method"]): r["status"]
            for s in doc["specs"] for r in s["rows"]}


def write_spec(tmp_path: Path, data: dict, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


# ---- every shipped spec ---------------------------------------------------------------

def test_check_passes_on_every_spec_with_all_three_methods(tmp_path: Path) -> None:
    specs = sorted(str(p) for p in SPECS.glob("*.yaml"))
    junit = tmp_path / "report.xml"
    code, out, err = run("check", *specs, "--format", "json", "--junit", str(junit))
    assert code == 0, err + out
    doc = json.loads(out)
    assert doc["ok"] and doc["passed"] == len(specs) and doc["failed"] == doc["errors"] == 0
    for spec in doc["specs"]:
        methods = {(r["quantity"], r["method"]) for r in spec["rows"]}
        grads = {q for q, _ in methods if q.startswith("grad.")}
        assert grads, spec["file"]
        for q in grads:  # every gradient is checked by sympy and by finite differences
            assert {(q, "sympy"), (q, "fd")} <= methods, (spec["file"], q)
        assert all(r["status"] == "PASS" for r in spec["rows"]), spec["file"]
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == len(specs)


def test_quoted_globs_are_expanded_and_unmatched_ones_are_errors() -> None:
    code, out, _ = run("check", str(SPECS / "quick*.yaml"))
    assert code == 0 and "specs/quickstart.yaml: PASS" in out.replace("\\", "/")
    code, out, err = run("check", str(SPECS / "no-such-*.yaml"))
    assert code == 2 and out == "" and "no spec file matches" in err


def test_text_report_states_tolerances_and_columns() -> None:
    code, out, _ = run("check", SIN_MATMUL)
    assert code == 0
    assert "rtol 1e-07, atol 1e-10" in out and "float32 rtol 1e-05, atol 1e-06" in out
    header = next(line for line in out.splitlines() if "quantity" in line)
    assert header.split() == ["quantity", "method", "max", "abs", "err", "max", "rel", "err",
                              "result"]
    assert "checked 1 spec(s): 1 passed, 0 failed, 0 with errors" in out


def test_float32_engine_is_checked_with_the_looser_stated_tolerance() -> None:
    code, out, _ = run("check", SIN_MATMUL, "--dtype", "float32", "--format", "json")
    assert code == 0
    spec = json.loads(out)["specs"][0]
    assert spec["dtype"] == "float32" and (spec["rtol"], spec["atol"]) == (1e-5, 1e-6)
    # a float32 gradient really is float32: its error against the float64
    # references is far above float64 rounding, yet inside the float32 tolerance
    grad_a = [r for r in spec["rows"] if r["quantity"] == "grad.a" and r["method"] == "sympy"]
    assert 1e-9 < grad_a[0]["max_rel"] < 1e-5


# ---- it can fail -------------------------------------------------------------------------

def test_a_wrong_expect_value_fails_with_exit_1_and_only_the_expect_method(
        tmp_path: Path) -> None:
    data = yaml.safe_load((SPECS / "quickstart.yaml").read_text())
    data["expect"]["grad"]["w"][1] += 1e-4
    code, out, err = run("check", write_spec(tmp_path, data), "--format", "json")
    assert code == 1
    rows = rows_of(out)
    name = data["name"]
    assert rows[(name, "grad.w", "expect")] == "FAIL"
    assert rows[(name, "grad.w", "sympy")] == rows[(name, "grad.w", "fd")] == "PASS"
    assert rows[(name, "grad.x", "expect")] == "PASS"
    assert "grad.w [expect]" in err


def _broken(monkeypatch: pytest.MonkeyPatch, op: str, **rules: object) -> None:
    """Swap a row of the table autodiff reads for one with a broken rule."""
    table = dict(TABLE)
    table[op] = dataclasses.replace(TABLE[op], **rules)
    monkeypatch.setattr(gradcli.engine.autodiff, "TABLE", table)


def _sin_vjp_off_by_a_permille(g, out, needs):
    cos = N.mul(N.unary("cos", out.inputs[0]), N.scalar(1.001, g))
    return (N.mul(g, cos),)


@pytest.mark.parametrize("method", ["sympy", "fd", "expect"])
def test_a_broken_derivative_rule_fails_each_method_on_its_own(
        monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    _broken(monkeypatch, "sin", vjp=_sin_vjp_off_by_a_permille)
    code, out, err = run("check", SIN_MATMUL, "--method", method, "--format", "json")
    assert code == 1, out
    rows = rows_of(out)
    name = "symbolic-gradient-sin-matmul"
    assert rows[(name, "grad.a", method)] == "FAIL"
    assert rows[(name, "grad.b", method)] == "PASS"  # b's gradient does not use sin's rule
    assert f"grad.a [{method}]" in err


def test_a_broken_forward_mode_rule_fails_only_the_hessian(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Hessians are forward-over-reverse; nested gradients are reverse-over-reverse.
    def jvp(t, out):
        return None if t[0] is None else N.mul(t[0], N.mul(out, out))  # not s(x) s(-x)

    _broken(monkeypatch, "sigmoid", jvp=jvp)
    code, out, _ = run("check", NETWORK, "--format", "json")
    assert code == 1
    rows = rows_of(out)
    name = "partial-derivatives-of-a-network"
    failed = {(q, m) for (n, q, m), s in rows.items() if s == "FAIL" and n == name}
    assert {q for q, _ in failed} == {q for (_, q, _) in rows if q.startswith("hessian.")}
    assert {m for _, m in failed} == {"sympy", "fd", "expect"}


# ---- kinks, sampling, unconnected ------------------------------------------------------------

KINKY = {"inputs": {"x": [0.0001, -0.5, 1.0, 0.0], "w": [0.3, 0.2, 0.1, 0.4]},
         "outputs": {"y": "sum(abs(x) * w + relu(x - 0.9999) + maximum(x, 0.0))"}}


def test_kinks_within_a_step_are_noted_not_failed(tmp_path: Path) -> None:
    report = check_file(write_spec(tmp_path, KINKY), Options(what=("grad",)))
    assert report.status == "PASS"
    fd = next(r for r in report.rows if r.quantity == "grad.x" and r.method == "fd")
    # x[0] = 1e-4 (abs), x[2] = 1.0 (relu at 0.9999) and x[3] = 0 (abs, maximum)
    # are within one step of a kink; x[1] is not and is compared.
    assert "3 component(s) not compared: straddles a kink" in fd.detail
    assert "abs" in fd.detail and "maximum" in fd.detail


def _fd(path: str, q: Quantity):
    """The finite-difference units of q on the reference graph of a spec."""
    from gradcli.verify.finite_diff import FiniteDifferences
    from gradcli.verify.reference import Reference, reference_problem

    problem = gradcli_load(path)
    fd = FiniteDifferences(Reference(reference_problem(problem), [q.source]))
    return problem, fd.units(q, np.arange(fd.layout(q).units))


def test_difference_quotients_across_a_kink_are_meaningless_and_flagged(
        tmp_path: Path) -> None:
    problem, units = _fd(write_spec(tmp_path, KINKY), Quantity("grad", "grad.x", source="x"))
    engine = problem.grad(wrt=["x"])["x"]
    assert [bool(k) for k in units.kinks] == [True, False, True, True]
    assert units.kinks[0] == {"abs", "maximum"} and units.kinks[2] == {"gt"}
    off = np.abs(engine - units.value[:, 0])
    # 1e-4 from abs's kink and 1e-4 from relu's: the quotients are nothing like
    # the derivative at the point (at x = 0 abs and maximum happen to agree)
    assert off[0] > 0.1 and off[2] > 0.1
    assert off[1] < 1e-10


def test_the_finite_difference_error_estimate_is_tight_where_smooth() -> None:
    problem, units = _fd(str(SPECS / "quickstart.yaml"), Quantity("grad", "grad.w", source="w"))
    assert not any(units.kinks)
    assert np.all(units.error < 1e-10)
    engine = problem.grad(wrt=["w"])["w"]
    np.testing.assert_allclose(units.value[:, 0], engine, rtol=1e-11)
    # the estimate is honest: it bounds the actual error
    assert np.all(np.abs(units.value[:, 0] - engine) <= units.error[:, 0])


def gradcli_load(path: str):
    import gradcli

    return gradcli.load(path)


def test_components_beyond_max_symbolic_are_sampled_deterministically(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {"inputs": {"x": {"random": "normal", "shape": [5, 6],
                                                  "seed": 1}},
                                 "outputs": {"y": "sum(sin(x) * x)"}})
    first = check_file(spec, Options(max_symbolic=7))
    again = check_file(spec, Options(max_symbolic=7))
    row = next(r for r in first.rows if r.quantity == "grad.x" and r.method == "sympy")
    assert first.status == "PASS"
    assert (row.compared, row.total) == (7, 30) and "sampled 7 of 30 components" in row.detail
    assert [r.max_abs for r in first.rows] == [r.max_abs for r in again.rows]


def test_an_unconnected_source_passes_when_every_reference_is_zero(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {"inputs": {"x": [1.0, 2.0], "z": 3.0},
                                 "outputs": {"y": "sum(x * x)"}})
    report = check_file(spec, Options(what=("grad",)))
    assert report.status == "PASS"
    rows = [r for r in report.rows if r.quantity == "grad.z"]
    assert {r.method for r in rows} == {"sympy", "fd"}
    assert all("unconnected (None)" in r.detail for r in rows)


def test_jacobian_and_hessian_on_request(tmp_path: Path) -> None:
    code, out, _ = run("check", str(SPECS / "quickstart.yaml"), "--what", "jacobian,hessian",
                       "--format", "json")
    assert code == 0
    quantities_seen = {q for (_, q, _) in rows_of(out)}
    assert {"jacobian.y.x", "jacobian.y.w", "hessian.x.x", "hessian.x.w", "hessian.w.x",
            "hessian.w.w"} <= quantities_seen


def test_what_rejects_unknown_kinds() -> None:
    code, out, err = run("check", SIN_MATMUL, "--what", "grad,curl")
    assert code == 2 and out == "" and "--what" in err


def test_default_quantities_follow_the_expect_block() -> None:
    problem = gradcli_load(str(SPECS / "higher-derivatives-through-concat.yaml"))
    keys = [q.key for q, _ in quantities(problem, None)]
    assert keys == ["grad.x", "grad.t", "orders.2.x", "orders.3.x"]


# ---- bad specs, JUnit --------------------------------------------------------------------

def test_a_bad_spec_exits_2_with_its_location_and_the_others_still_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs:\n  x: 1.0\noutputs:\n  y: sin(x +)\n")
    junit = tmp_path / "r.xml"
    code, out, err = run("check", str(bad), SIN_MATMUL, "--junit", str(junit))
    assert code == 2
    assert f"gradcli: error: {bad}:4:" in err and "Traceback" not in err
    assert "symbolic-gradient-sin-matmul.yaml: PASS" in out
    root = ET.parse(junit).getroot()
    assert root.get("errors") == "1"
    error = root.find("testsuite/testcase/error")
    assert error is not None and f"{bad}:4:" in error.get("message")


def test_junit_xml_is_structurally_valid_and_counts_add_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _broken(monkeypatch, "sin", vjp=_sin_vjp_off_by_a_permille)
    junit = tmp_path / "r.xml"
    code, _, _ = run("check", SIN_MATMUL, str(SPECS / "quickstart.yaml"), "--junit", str(junit))
    assert code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name").endswith(".yaml")
        cases = suite.findall("testcase")
        assert all(set(c.keys()) >= {"classname", "name", "time"} for c in cases)
        failures = [c for c in cases if c.find("failure") is not None]
        counts = {"tests": len(cases), "failures": len(failures),
                  "errors": sum(c.find("error") is not None for c in cases),
                  "skipped": sum(c.find("skipped") is not None for c in cases)}
        for key, value in counts.items():
            assert suite.get(key) == str(value), (key, suite.get("name"))
            total[key] += value
        for case in failures:
            assert "max abs err" in case.find("failure").get("message")
        float(suite.get("time"))
    assert {k: root.get(k) for k in total} == {k: str(v) for k, v in total.items()}
    assert total["failures"] == 3 + 6  # grad.a x3 methods; grad.x and grad.w x3 methods
    names = {c.get("name") for c in root.iter("testcase")}
    assert {"grad.a [sympy]", "grad.a [fd]", "grad.a [expect]"} <= names


def test_compare_arrays_treats_matching_infinities_and_nans_as_equal() -> None:
    got = np.array([np.inf, np.nan, 1.0, -np.inf])
    assert compare_arrays(got, got.copy(), 1e-7, 0.0).failures == 0
    assert compare_arrays(got, np.array([np.inf, 0.0, 1.0, np.inf]), 1e-7, 0.0).failures == 2


def test_ci_script_runs_check_after_pytest() -> None:
    script = (Path(__file__).parent.parent / ".ci" / "run").read_text().splitlines()
    pytest_line = next(i for i, line in enumerate(script) if "pytest" in line)
    check_line = next(i for i, line in enumerate(script) if "gradcli check" in line)
    assert check_line > pytest_line and "set -euo pipefail" in script


@pytest.mark.skipif(shutil.which("xmllint") is None, reason="xmllint not installed")
def test_junit_is_well_formed_for_xmllint(tmp_path: Path) -> None:
    import subprocess

    junit = tmp_path / "r.xml"
    code, out, err = run("check", SIN_MATMUL, "--junit", str(junit))
    assert code == 0, err + out
    linted = subprocess.run(["xmllint", "--noout", str(junit)], capture_output=True, text=True,
                            timeout=300)
    assert linted.returncode == 0 and linted.stderr == "", linted.stderr


def test_names_and_values_in_expect_are_checked_with_their_location(tmp_path: Path) -> None:
    base = "inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: sum(x * x)\nexpect:\n  grad:\n"
    typo = tmp_path / "typo.yaml"
    typo.write_text(base + "    z: [2.0, 4.0]\n")
    text = tmp_path / "text.yaml"
    text.write_text(base + "    x: [two, four]\n")
    for path, words in ((typo, "unknown source 'z'"), (text, "not a numeric array")):
        code, _, err = run("check", str(path))
        assert code == 2 and f"gradcli: error: {path}:7:5: expect: grad." in err, err
        assert words in err


def test_let_sources_and_mixed_hessian_blocks(tmp_path: Path) -> None:
    """The gradient at a let node is its adjoint (upstream held fixed); a
    Hessian block between it and an input is the second derivative of the
    spec with a zero perturbation EPS added at the let, so sympy checks it
    too (it used to be skipped as "rule-dependent")."""
    spec = write_spec(tmp_path, {"inputs": {"x": [0.5, 1.5]}, "let": {"X": "exp(x)"},
                                 "outputs": {"y": "sum(X * X * x)"}, "wrt": ["x", "X"]})
    report = check_file(spec, Options(what=("grad", "hessian", "orders")))
    status = {(r.quantity, r.method): r.status for r in report.rows}
    assert report.status == "PASS"
    assert {q for q, _ in status} >= {"hessian.x.X", "hessian.X.x", "hessian.X.X"}
    assert all(s == "PASS" for s in status.values()), status


def test_command_line_tolerances_are_used_and_stated() -> None:
    code, out, _ = run("check", SIN_MATMUL, "--rtol", "1e-3", "--atol", "0")
    assert code == 0 and "rtol 0.001, atol 0 (from --rtol/--atol)" in out
