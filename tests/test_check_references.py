"""`gradcli check` catches the engine: its references are the spec as
written (float64, no rewrite rules, a zero perturbation EPS at each let
source), never the engine's derivative programs, so a deliberately wrong
rewrite rule in the engine fails the check; the trust issue's reproductions
pass; sympy never crashes it; finite differences are honest about their
own error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import gradcli.api
from gradcli.cli.group import cli
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.rules import STANDARD, Rule
from gradcli.verify.check import Options, Quantity, check_file

SPECS = Path(__file__).parent.parent / "specs"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_spec(tmp_path: Path, data: dict, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def statuses(report) -> dict[tuple[str, str], str]:
    return {(r.quantity, r.method): r.status for r in report.rows}


# ---- the trust issue's reproductions ----------------------------------------------------

R1 = {"inputs": {"A": [[0.5, -0.2, 0.9], [1.2, 0.4, -0.6]], "x": [0.3, -0.8, 1.1]},
      "let": {"y": "A @ x"}, "outputs": {"f": "dot(y, y)"}}
R2 = {"inputs": {"X": [[0.1, -0.5], [0.7, 0.2]]},
      "let": {"h": "reshape(X, (4,))", "k": "reshape(h, (4, 1))"},
      "outputs": {"y": "sum(k * k) + sum(-h)"}}
R3 = {"inputs": {"x": [0.3, -0.8, 1.1], "W": [[0.5, -0.2, 0.9], [1.2, 0.4, -0.6]], "c": 0.7},
      "let": {"h1": "W @ x", "h2": "tanh(h1) * c"}, "outputs": {"y": "dot(h2, h1)"}}
REPRODUCTIONS = [(R1, "y", [2.6, -1.24], 1e-12), (R2, "h", [-0.8, -2.0, 0.4, -0.6], 1e-12),
                 (R3, "h1", [0.837, -0.688], 1e-3)]


@pytest.mark.parametrize("spec,source,truth,tol", REPRODUCTIONS)
def test_the_trust_issue_reproductions_pass_and_are_right(
        tmp_path: Path, spec: dict, source: str, truth: list, tol: float) -> None:
    from gradcli.verify.check_methods import References
    from gradcli.verify.reference import reference_problem

    path = write_spec(tmp_path, spec)
    report = check_file(path, Options(what=("grad", "hessian", "orders"), wrt=(source,)))
    assert report.status == "PASS", report.rows
    rows = statuses(report)
    assert rows[(f"grad.{source}", "sympy")] == rows[(f"grad.{source}", "fd")] == "PASS"
    assert {q for q, _ in rows} == {f"grad.{source}", f"hessian.{source}.{source}",
                                    f"orders.2.{source}"}
    # the engine is right, and so are both references on their own
    problem = gradcli.api.load(path)
    np.testing.assert_allclose(problem.grad(wrt=[source])[source], truth, atol=tol)
    q = Quantity("grad", f"grad.{source}", source=source)
    refs = References(reference_problem(problem), [q], 64, 1024)
    layout = refs.fd.layout(q)
    fd = refs.fd.units(q, np.arange(layout.units)).value[:, 0]
    sym = refs.sympy.values(q, np.arange(layout.size), layout.n)
    np.testing.assert_allclose(fd, truth, atol=tol)
    np.testing.assert_allclose(sym, truth, atol=tol)


def test_a_max_that_sympy_cannot_order_never_exits_70(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {"inputs": {"a": [0.3, -1.2, 2.0]},
                                 "outputs": {"z": "max(abs(sech2(a) + tanh(a)**2 - 1))"}})
    for extra in (("--what", "value"), ()):
        code, out, err = run("check", spec, *extra, "--format", "json")
        assert code in (0, 1), err
        assert "internal error" not in err
        json.loads(out)


# ---- a deliberately wrong rewrite rule in the engine ---------------------------------------

def _sin_is_cos(node, rw):
    return apply("cos", node.inputs)


def _square_is_double(node, rw):
    a, b = node.inputs
    return N.mul(a, N.scalar(2.0, a)) if a is b else None


def _drop_negation(node, rw):
    return node.inputs[0]


SIN_IS_COS = Rule("wrong-sin", ("sin",), _sin_is_cos, "deliberately wrong: sin = cos",
                  passes=frozenset({"evaluate"}))
SQUARE_IS_DOUBLE = Rule("wrong-square", ("mul",), _square_is_double,
                        "deliberately wrong: a * a = 2 a")
# Only in the pass that settles what derivative rules build: the engine's
# values stay right, its derivatives go wrong (cos' = -sin becomes +sin).
DROP_NEGATION = Rule("wrong-neg", ("neg",), _drop_negation, "deliberately wrong: -x = x",
                     passes=frozenset({"build"}))

LET_CHAIN = {"inputs": {"x": [0.3, -0.8, 1.1], "w": [1.5, 0.5, -2.0]},
             "let": {"h1": "x * w", "h2": "cos(h1)", "h3": "h2 * h1 + sin(x)"},
             "outputs": {"y": "sum(h3 * h3)"}, "wrt": ["x", "h1", "h2"]}


@pytest.mark.parametrize("spec", ["quickstart.yaml", "symbolic-gradient-sin-matmul.yaml"])
def test_a_wrong_evaluate_rule_fails_check_on_shipped_specs(spec: str) -> None:
    path = str(SPECS / spec)
    assert check_file(path, Options()).status == "PASS"
    report = check_file(path, Options(), rules=STANDARD.with_rule(SIN_IS_COS))
    rows = statuses(report)
    assert report.status == "FAIL"
    value = next(q for q, _ in rows if q.startswith("value."))
    assert rows[(value, "sympy")] == rows[(value, "expect")] == "FAIL"
    assert "FAIL" in {rows[(q, "fd")] for q, m in rows if m == "fd"}


@pytest.mark.parametrize("rule,values,derivatives", [
    (SIN_IS_COS, True, True),
    (SQUARE_IS_DOUBLE, True, False),   # h3 * h3 in the forward program only
    (DROP_NEGATION, False, True),      # derivative programs only
], ids=lambda r: getattr(r, "name", ""))
def test_a_wrong_rule_fails_check_on_a_let_chain(tmp_path: Path, rule: Rule, values: bool,
                                                 derivatives: bool) -> None:
    path = write_spec(tmp_path, LET_CHAIN)
    options = Options(what=("value", "grad", "hessian"))
    assert check_file(path, options).status == "PASS"
    report = check_file(path, options, rules=STANDARD.with_rule(rule))
    rows = statuses(report)
    assert report.status == "FAIL"
    assert (rows[("value.y", "sympy")] == "FAIL") == values
    for method in ("sympy", "fd"):  # each reference catches it on its own
        failed = {q for (q, m), s in rows.items() if m == method and s == "FAIL"}
        assert bool(failed & {"grad.x", "grad.h1", "grad.h2"}) == derivatives, (method, rows)
        if derivatives:  # let sources and their mixed blocks too
            assert any(q.startswith("hessian.") and "h" in q for q in failed), rows


def test_a_wrong_rule_makes_the_cli_exit_1(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    path = write_spec(tmp_path, LET_CHAIN)
    code, _, _ = run("check", str(SPECS / "quickstart.yaml"), path)
    assert code == 0
    monkeypatch.setattr(gradcli.api, "STANDARD",
                        STANDARD.with_rule(SIN_IS_COS).with_rule(DROP_NEGATION))
    code, out, err = run("check", str(SPECS / "quickstart.yaml"), path, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert [s["status"] for s in doc["specs"]] == ["FAIL", "FAIL"]
    assert "gradcli: check failed" in err


def test_the_references_do_not_use_the_engine_rules(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """The reference problem is planned and evaluated with NO_RULES, whatever
    table the engine runs: the wrong rule changes no reference value."""
    from gradcli.verify.check_methods import References
    from gradcli.verify.reference import reference_problem

    path = write_spec(tmp_path, LET_CHAIN)
    q = Quantity("grad", "grad.h1", source="h1")

    def reference_values(rules):
        problem = gradcli.api.load(path, rules=rules)
        refs = References(reference_problem(problem), [q], 64, 1024)
        return (refs.fd.units(q, np.arange(3)).value[:, 0],
                refs.sympy.values(q, np.arange(3), 3))

    plain = reference_values(None)
    broken = reference_values(STANDARD.with_rule(SIN_IS_COS).with_rule(DROP_NEGATION))
    for a, b in zip(plain, broken):
        np.testing.assert_array_equal(a, b)


# ---- honest finite differences --------------------------------------------------------------

def test_finite_differences_say_when_they_cannot_conclude(tmp_path: Path) -> None:
    """sin(1e4 x) turns many times within any usable step: the estimate is
    huge, so the components are not compared and the row is a SKIP (never a
    PASS), while sympy still checks them."""
    path = write_spec(tmp_path, {"inputs": {"x": [0.3, 0.7]},
                                 "outputs": {"y": "sum(sin(10000.0 * x))"}})
    report = check_file(path, Options(what=("grad",)))
    fd = next(r for r in report.rows if r.method == "fd")
    assert fd.status == "SKIP" and fd.compared == 0
    assert "2 component(s) not compared: finite differences inconclusive" in fd.detail
    assert "nothing compared" in fd.detail
    assert statuses(report)[("grad.x", "sympy")] == "PASS"


def test_the_fd_allowance_is_no_wider_than_the_estimate(tmp_path: Path) -> None:
    """An engine off by 1e-6 relative fails the fd row: the allowance is the
    estimate itself (about 1e-12 here), not ten times it."""
    from gradcli.verify.check_methods import References
    from gradcli.verify.reference import reference_problem

    problem = gradcli.api.load(str(SPECS / "quickstart.yaml"))
    q = Quantity("grad", "grad.w", source="w")
    refs = References(reference_problem(problem), [q], 64, 1024)
    right = problem.grad(wrt=["w"])["w"]
    assert refs.fd_row(q, right, 1e-9, 0.0).status == "PASS"
    row = refs.fd_row(q, right * (1 + 1e-6), 1e-9, 0.0)
    assert row.status == "FAIL" and row.worst is not None


# ---- sympy never crashes check ----------------------------------------------------------

def test_any_sympy_failure_is_a_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import sympy

    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(sympy, "diff", deep)
    report = check_file(str(SPECS / "quickstart.yaml"), Options())
    sym = {r.quantity: r for r in report.rows if r.method == "sympy"}
    assert sym["grad.x"].status == "SKIP" and "recursion" in sym["grad.x"].detail
    assert sym["value.y"].status == "PASS"  # values need no derivative
    assert report.status == "PASS"


def test_an_expression_over_the_size_budget_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcli.verify import sympy_ref

    monkeypatch.setattr(sympy_ref, "MAX_NODES", 5)
    report = check_file(str(SPECS / "quickstart.yaml"), Options())
    row = next(r for r in report.rows if r.quantity == "grad.w" and r.method == "sympy")
    assert row.status == "SKIP" and "too large for sympy" in row.detail


def test_sympy_leaves_out_the_same_kink_components_as_finite_differences(
        tmp_path: Path) -> None:
    path = write_spec(tmp_path, {
        "inputs": {"x": [0.0001, -0.5, 1.0, 0.0], "w": [0.3, 0.2, 0.1, 0.4]},
        "outputs": {"y": "sum(abs(x) * w + relu(x - 0.9999) + maximum(x, 0.0))"}})
    report = check_file(path, Options(what=("grad", "hessian"), wrt=("x",)))
    for quantity in ("grad.x", "hessian.x.x"):
        fd, sym = (next(r for r in report.rows if r.quantity == quantity and r.method == m)
                   for m in ("fd", "sympy"))
        note = next(p for p in fd.detail.split("; ") if "straddles a kink" in p)
        assert note in sym.detail.split("; "), (fd.detail, sym.detail)
        assert fd.compared == sym.compared


def test_a_nested_order_too_large_for_sympy_is_skipped(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    from gradcli.verify import sympy_ref

    monkeypatch.setattr(sympy_ref, "MAX_NESTED_WORK", 10)
    path = write_spec(tmp_path, {"inputs": {"x": [0.3, 0.5, 0.7]},
                                 "outputs": {"y": "sum(sin(x) * x)"}})
    report = check_file(path, Options(what=("orders",)))
    rows = {(r.quantity, r.method): r for r in report.rows}
    assert rows[("orders.2.x", "sympy")].status == "SKIP"
    assert "too much for sympy" in rows[("orders.2.x", "sympy")].detail
    assert rows[("orders.2.x", "fd")].status == "PASS"
    assert report.status == "PASS"


def test_a_whole_power_is_smooth_through_zero_and_abs_is_a_kink(tmp_path: Path) -> None:
    path = write_spec(tmp_path, {"inputs": {"x": [0.5001, 2.0]},
                                 "outputs": {"y": "sum((x - 0.5)**2) + sum(abs(x - 2.0))"}})
    report = check_file(path, Options(what=("grad", "hessian")))
    for row in report.rows:
        # x[0] is compared (a square is smooth where its base changes sign);
        # x[1] sits on abs's kink: every derivative that moves it is left out
        assert row.status == "PASS" and row.compared == 1
        assert "straddles a kink (abs)" in row.detail


def test_stop_gradient_is_a_constant_to_both_references(tmp_path: Path) -> None:
    """The engine defines d stop_gradient(x)/dx = 0: finite differences hold
    the node at its value (differences of the plain graph would see through
    it) and sympy lowers it to a function with derivative 0."""
    path = write_spec(tmp_path, {"inputs": {"x": [0.5, -1.5, 2.0]},
                                 "let": {"s": "stop_gradient(x) * x"},
                                 "outputs": {"y": "sum(s * exp(x))", "flag": "x > 0"}})
    report = check_file(path, Options(what=("value", "grad", "orders", "hessian")))
    rows = statuses(report)
    assert report.status == "PASS", report.rows
    assert rows[("grad.x", "fd")] == rows[("grad.x", "sympy")] == "PASS"
    assert rows[("hessian.x.x", "fd")] == rows[("hessian.x.x", "sympy")] == "PASS"


def test_rounding_through_a_cancellation_is_in_the_fd_estimate(tmp_path: Path) -> None:
    """(x*x + 1e8) - 1e8 is x*x with errors of eps * 1e8: correlated across
    the power-of-two steps, they once made the Richardson levels agree and a
    correct engine fail.  The estimate now scales rounding by the largest
    value on the way to the function."""
    path = write_spec(tmp_path, {
        "inputs": {"x": [0.3, -0.7, 1.3, 0.11, 2.5, -3.3], "w": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]},
        "outputs": {"y": "sum(((x * x + 1.0e8) - 1.0e8) * w) + sum(exp(x) * 1.0e-3)"}})
    report = check_file(path, Options(what=("grad", "hessian", "orders"), wrt=("x",),
                                      methods=("fd",)))
    assert {r.status for r in report.rows} <= {"PASS", "SKIP"}, report.rows
