"""`--check-finite`: the first NaN/inf is named (node, op, spec location,
forward or derivative program) with exit 3, for every command; numerically
delicate ops stay finite at extremes through the whole pipeline (first and
second derivatives, batched Hessians included), so they never trip it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.api import load
from gradcli.cli.group import cli
from gradcli.errors import NumericFault

SPEC = """\
inputs:
  x: [0.0, 4.0]
let:
  r: sqrt(x) * 2
outputs:
  y: sum(r + log(x + 1))
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def spec(tmp_path: Path) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    return str(path)


def _fault(err: str) -> str:
    assert err.startswith("gradcli: error: "), err
    assert err.count("\n") == 1, err  # one line, no traceback
    return err


# ---- localisation --------------------------------------------------------------------------

def test_forward_fault_names_op_and_column(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("inputs:\n  x: [0.0, 4.0]\noutputs:\n  y: sum(log(x - 1))\n")
    code, out, err = run("eval", str(path), "--check-finite")
    assert code == 3 and out == ""
    _fault(err)
    assert f"{path}:4:10: " in err  # the column of log(...) inside sum(...)
    assert "forward program" in err and "op 'log'" in err and "`log(x - 1)`" in err
    assert "first nan" in err and "element [0]" in err and "operands -1.0" in err
    assert "outputs.y" in err


def test_derivative_fault_is_traced_to_the_forward_op(spec: str) -> None:
    code, out, err = run("grad", spec, "--check-finite")
    assert code == 3 and out == ""
    _fault(err)
    assert f"{spec}:4:6: " in err  # `sqrt(x) * 2` in let: r
    assert "derivative program" in err and "grad/sqrt" in err
    assert "derivative of 'sqrt'" in err and "`sqrt(x)`" in err
    assert "first inf" in err and "element [0]" in err and "grad.x" in err


@pytest.mark.parametrize("args,rule,result", [
    (("jacobian", "--mode", "rev"), "grad/sqrt", "jacobian.y.x"),
    (("jacobian", "--mode", "fwd"), "jvp/sqrt", "jacobian.y.x"),
    (("hessian",), "jvp/", "hessian.x.x"),
    (("jvp", "--tangent", "x=[1.0, 1.0]"), "jvp/sqrt", "jvp.y"),
])
def test_every_derivative_command_localises(spec: str, args: tuple[str, ...], rule: str,
                                            result: str) -> None:
    code, out, err = run(args[0], spec, *args[1:], "--check-finite")
    assert code == 3 and out == "", err
    _fault(err)
    assert "derivative program" in err and rule in err and result in err
    assert re.search(rf"{re.escape(spec)}:4:\d+: ", err), err


def test_jvp_forward_values_are_checked_first(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text("inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: x / (x - 1)\n")
    code, _, err = run("jvp", str(path), "--tangent", "x=[1.0, 0.0]", "--check-finite")
    assert code == 3
    # x / (x - 1) is x * (x - 1)**-1: the reciprocal is where inf arises
    assert "forward program" in err and "op 'pow'" in err and "outputs.y" in err


def test_a_nan_given_as_input_is_named_as_input() -> None:
    code, _, err = run("eval", "-e", "x", "--set", "x=[1.0, .nan]", "--check-finite")
    assert code == 3
    assert "input 'x' holds nan at element [1]" in _fault(err)
    code, _, err = run("eval", "-e", "x * 2", "--set", "x=[.inf]", "--check-finite")
    assert code == 3 and "op 'mul'" in err and "input 'x' is non-finite there already" in err


def test_masked_intermediate_nan_is_not_a_fault() -> None:
    # log(-1) is NaN in the untaken branch: the results are finite, so exit 0
    code, out, err = run("grad", "-e", "sum(where(x > 0, log(x), 0.0))", "--set",
                         "x=[-1.0, 0.0, 2.0]", "--check-finite", "--format", "json")
    assert code == 0, err
    assert '"x": [0.0, 0.0, 0.5]' in out and err == ""


def test_without_the_flag_a_warning_and_exit_0(spec: str) -> None:
    code, out, err = run("grad", spec, "--format", "json")
    assert code == 0
    assert '"inf"' in out
    assert err.startswith("gradcli: warning: non-finite values") and "grad.x" in err


def test_api_check_finite(spec: str) -> None:
    problem = load(spec, check_finite=True)
    with pytest.raises(NumericFault, match="derivative of 'sqrt'") as caught:
        problem.grad()
    assert caught.value.exit_code == 3
    assert str(caught.value.location).endswith(":4:6")
    # new values through the same plans: finite now, so no fault
    grads = problem.grad(values={"x": np.array([1.0, 4.0])})
    np.testing.assert_allclose(grads["x"], [1.0 + 0.5, 0.5 + 0.2], rtol=1e-15)
    assert load(spec).grad()["x"][0] == np.inf  # default: no check


def test_first_fault_is_the_earliest_on_the_path() -> None:
    # exp overflows first; the later inf - inf = nan is its consequence
    code, _, err = run("eval", "-e", "exp(x) - exp(x)", "--set", "x=[1000.0]",
                       "--check-finite")
    assert code == 3
    assert "first inf" in err and "op 'exp'" in err and "--expr:1:1: " in err


# ---- extremes never trip --check-finite ----------------------------------------------------

INF = float("inf")
# expression, x, value, gradient of the sum, Hessian of the sum (exact in float64)
EXTREMES = [
    ("sum(sigmoid(x))", [-1000.0, 1000.0], 1.0, [0.0, 0.0], [[0.0, 0.0], [0.0, 0.0]]),
    ("sum(softplus(x))", [-1000.0, 1000.0], 1000.0, [0.0, 1.0], [[0.0, 0.0], [0.0, 0.0]]),
    ("logsumexp(x)", [1000.0, 1000.0], 1000.0 + np.log(2.0), [0.5, 0.5],
     [[0.25, -0.25], [-0.25, 0.25]]),
    ("sum(log_softmax(x))", [1000.0, -1000.0, 0.0], -3000.0, [-2.0, 1.0, 1.0],
     np.zeros((3, 3))),
    ("sum(softmax(x) * x)", [1000.0, -1000.0, 0.0], 1000.0, [1.0, 0.0, 0.0],
     np.zeros((3, 3))),
    ("sum(cross_entropy([[1.0, 0.0]], x))", [[-1000.0, 1000.0]], 2000.0, [[-1.0, 1.0]],
     np.zeros((1, 2, 1, 2))),
    ("sum(sparse_cross_entropy([0], x))", [[-1000.0, 1000.0]], 2000.0, [[-1.0, 1.0]],
     np.zeros((1, 2, 1, 2))),
    ("sum(tanh(x))", [-1000.0, 1000.0], 0.0, [0.0, 0.0], np.zeros((2, 2))),
    ("sum(gelu(x)) + sum(silu(x))", [-1000.0, 1000.0], 2000.0, [0.0, 2.0], np.zeros((2, 2))),
    ("norm(x)", [0.0, 0.0], 0.0, [0.0, 0.0], np.zeros((2, 2))),
    ("std(x)", [1.0, 1.0, 1.0], 0.0, [0.0, 0.0, 0.0], np.zeros((3, 3))),
    ("sum(where(x > 0, log(x), 0.0))", [0.0, 2.0], np.log(2.0), [0.0, 0.5],
     [[0.0, 0.0], [0.0, -0.25]]),
    ("sum(where(x > 0, sqrt(x), 0.0))", [-1.0, 0.0, 4.0], 2.0, [0.0, 0.0, 0.25],
     np.diag([0.0, 0.0, -0.03125])),
    ("sum(abs(x)) + sum(relu(x))", [0.0, -2.0], 2.0, [0.0, -1.0], np.zeros((2, 2))),
]


@pytest.mark.parametrize("expr,x,total,grad,hessian", EXTREMES, ids=[e[0] for e in EXTREMES])
def test_stable_forms_at_extremes(expr: str, x: list, total: float, grad: list,
                                  hessian: np.ndarray) -> None:
    problem = load({"inputs": {"x": x}, "outputs": {"y": expr}}, check_finite=True)
    assert float(problem.evaluate()["y"]) == pytest.approx(total, rel=1e-15)
    np.testing.assert_array_equal(problem.grad()["x"], grad)
    np.testing.assert_array_equal(problem.hessian()["x"]["x"], hessian)
    # the batched second-order paths: rows of the gradient's Jacobian
    (g_row,) = problem.grad(order=2).values()
    np.testing.assert_array_equal(g_row, np.sum(hessian, axis=tuple(range(len(np.shape(x))))))


def test_sqrt_at_zero_is_the_documented_inf_and_exit_3() -> None:
    """sqrt'(0) = +inf is the documented convention (not a NaN): it is
    reported as a derivative fault, not hidden."""
    problem = load({"inputs": {"x": [0.0]}, "outputs": {"y": "sqrt(x)"}})
    assert problem.grad()["x"].tolist() == [INF]
    code, _, err = run("grad", "-e", "sum(sqrt(x))", "--set", "x=[0.0]", "--check-finite")
    assert code == 3 and "grad/sqrt" in err and "first inf" in err
