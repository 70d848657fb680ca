"""Nothing to differentiate: every input is an integer or bool input (or there
is none) and neither --wrt nor `wrt:` names a source.  grad, jacobian, hessian
(and graph --grad/--hessian, symbolic) exit 2 with the reason on stderr and
print nothing; before, they printed a bare header, exit 0, and JSON without
its `grad` key.  eval and check still work.  Documents that are printed
always carry their section key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli.group import cli
from gradcli.errors import SpecError
from gradcli.render import render
from gradcli.render.model import Result

INT_SPEC = "inputs:\n  n: {value: [1, 2, 3], dtype: int64}\noutputs:\n  y: sum(n * 2.0)\n"
REASON = ("no float sources: every input is an integer input (n int64), and integer "
          "inputs are never differentiated; give one a float dtype")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def int_spec(tmp_path: Path) -> str:
    path = tmp_path / "labels.yaml"
    path.write_text(INT_SPEC, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command", [
    ["grad"], ["grad", "--order", "2"], ["jacobian"], ["jacobian", "--mode", "fwd"],
    ["hessian"], ["graph", "--grad"], ["graph", "--hessian"], ["symbolic"]])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_derivative_commands_exit_2_with_the_reason(int_spec: str, command: list[str],
                                                    fmt: str):
    code, out, err = run(*command, int_spec, "--format", fmt)
    assert code == 2
    assert out == ""
    assert err == f"gradcli: error: {int_spec}: {REASON}\n"


def test_inline_expression():
    code, out, err = run("grad", "-e", "n * 2.0", "--set", "n={value: 3, dtype: int64}")
    assert (code, out) == (2, "")
    assert err == f"gradcli: error: --expr: {REASON}\n"


def test_no_inputs_at_all():
    code, _, err = run("jacobian", "-e", "2.0")
    assert code == 2
    assert err == ("gradcli: error: --expr: nothing to differentiate: the spec has no "
                   "inputs; define one with --set NAME=VALUE\n")


def test_bool_and_integer_inputs_with_let_and_model_hints(tmp_path: Path):
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs:\n  n: {value: [[1, 2]], dtype: int64}\n"
                    "  m: {value: [true], dtype: bool}\n"
                    "let:\n  t: n * 1.0\n"
                    "models:\n  net: {layers: [{dense: 1}], init: {seed: 0}}\n"
                    "outputs:\n  y: sum(where(m, net(t), 0.0))\n", encoding="utf-8")
    code, _, err = run("hessian", str(spec))
    assert code == 2
    assert ("no float sources: every input is an integer or bool input (n int64, m bool), "
            "and integer or bool inputs are never differentiated; give one a float dtype, or "
            "pass --wrt with a float let name (t) or a model, for its parameters (net)") in err
    # and the hints work: d(sum net(t))/dt = the kernel, shape (1, 2) like t
    code, out, err = run("grad", str(spec), "--wrt", "t", "--format", "json")
    assert code == 0, err
    assert np.shape(json.loads(out)["grad"]["t"]) == (1, 2)
    code, out, err = run("grad", str(spec), "--wrt", "net", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["grad"]["net.0.kernel"] == [[1.0], [2.0]]  # d/dW (n @ W) = n.T


def test_empty_wrt_list(tmp_path: Path):
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs:\n  x: 1.0\nwrt: []\noutputs:\n  y: x * 2\n", encoding="utf-8")
    code, _, err = run("grad", str(spec))
    assert code == 2
    assert "nothing to differentiate: the spec's wrt: is empty" in err
    assert run("grad", str(spec), "--wrt", "x", "--format", "json")[1] == \
        '{"command": "grad", "order": 1, "dtype": "float64", "grad": {"x": 2.0}}\n'


def test_naming_the_integer_input_stays_exit_2(int_spec: str):
    code, _, err = run("grad", int_spec, "--wrt", "n")
    assert code == 2
    assert "'n' is an integer input (int64)" in err


def test_eval_and_check_are_unaffected(int_spec: str):
    code, out, _ = run("eval", int_spec, "--format", "json")
    assert code == 0
    assert json.loads(out)["outputs"] == {"y": 12.0}
    code, out, err = run("check", int_spec, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["ok"] is True


def test_python_api():
    problem = gradcli.load({"inputs": {"n": {"value": [1, 2], "dtype": "int64"}},
                            "outputs": {"y": "sum(n * 2.0)"}})
    for call in (problem.grad, problem.jacobian, problem.hessian):
        with pytest.raises(SpecError, match="no float sources"):
            call()
    assert problem.grad(wrt=[]) == {}  # asked for nothing, got nothing


@pytest.mark.parametrize("fmt, text", [
    ("json", b'{"command": "grad", "order": 1, "grad": {}}\n'),
    ("yaml", b"command: grad\norder: 1\ngrad: {}\n"),
])
def test_an_empty_section_is_still_a_key(fmt: str, text: bytes):
    assert render(Result("grad", (), {"order": 1}, (), ("grad",)), fmt) == text
