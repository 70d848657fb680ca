"""`-e EXPR` beside an input named y.  The output of -e is always `y` (a stable
key for scripts) and an input may be named `y` too: options and result keys
that take outputs (--output, --cotangent, outputs/jvp keys, the first level
of jacobian) mean the output, those that take sources (--set, --wrt,
--tangent, --over, grad/hessian keys, the second level of jacobian) the
input.  Before, the output shadowed the input: `grad` failed with "unknown
output 'y' (did you mean 'y'?)", `jacobian` gave d y/d y = 1 (the output
against itself) and `hessian` a cross term of 0.

Every command that takes -e runs through click's CliRunner on y = x * y_in
at x = 3, y_in = 2: dy/dx = 2, dy/dy_in = 3, d²/dx dy_in = 1, d²/dx² =
d²/dy_in² = 0.  (`check` reads spec files only; it has no -e.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli.group import cli

XY = ("-e", "x * y", "--set", "x=3", "--set", "y=2")
SPECS = Path(__file__).parent.parent / "specs"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> dict:
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def test_eval():
    assert run_json("eval", *XY)["outputs"] == {"y": 6.0}
    assert run_json("eval", *XY, "--output", "y")["outputs"] == {"y": 6.0}


def test_grad():
    assert run_json("grad", *XY)["grad"] == {"x": 2.0, "y": 3.0}
    assert run_json("grad", *XY, "--wrt", "y")["grad"] == {"y": 3.0}
    assert run_json("grad", *XY, "--output", "y")["grad"] == {"x": 2.0, "y": 3.0}


def test_grad_order_2_and_cotangent():
    assert run_json("grad", *XY, "--order", "2")["grad"] == {"x": 0.0, "y": 0.0}
    # --cotangent weights the output: 5 * dy/dx = 10, 5 * dy/dy_in = 15
    assert run_json("grad", *XY, "--cotangent", "y=5")["grad"] == {"x": 10.0, "y": 15.0}


@pytest.mark.parametrize("mode", ["auto", "rev", "fwd"])
def test_jacobian(mode: str):
    doc = run_json("jacobian", *XY, "--mode", mode)
    assert doc["jacobian"] == {"y": {"x": 2.0, "y": 3.0}}


def test_hessian():
    blocks = run_json("hessian", *XY)["hessian"]
    assert blocks["x"] == {"x": 0.0, "y": 1.0}
    assert blocks["y"] == {"x": 1.0, "y": 0.0}
    assert run_json("hessian", *XY, "--wrt", "y")["hessian"] == {"y": {"y": 0.0}}


def test_jvp():
    doc = run_json("jvp", *XY, "--tangent", "x=1", "--tangent", "y=10")
    assert doc["outputs"] == {"y": 6.0}
    assert doc["jvp"] == {"y": 2.0 + 30.0}  # y_in * 1 + x * 10
    assert run_json("jvp", *XY, "--tangent", "y=1")["jvp"] == {"y": 3.0}


def test_symbolic_and_graph():
    doc = run_json("symbolic", *XY)
    assert doc["symbolic"]["x"]["derivatives"] == {"x": "y"}
    assert doc["symbolic"]["y"]["derivatives"] == {"y": "x"}
    graph = run_json("graph", *XY)
    assert [n["op"] for n in graph["nodes"]] == ["input", "input", "mul"]
    assert graph["results"][0]["path"] == ["outputs", "y"]
    grad_program = run_json("graph", *XY, "--grad")
    assert [r["path"] for r in grad_program["results"]] == [["grad", "x"], ["grad", "y"]]


def test_plot_sweeps_the_input_y():
    code, out, err = run("plot", *XY, "--over", "y=0:1:3", "--format", "csv")
    assert code == 0, err
    assert out.splitlines() == ["y,y,dy/dy", "0.0,0.0,3.0", "0.5,1.5,3.0", "1.0,3.0,3.0"]


def test_an_expression_that_is_the_input_y():
    # -e 'y': the output y is the input y itself; dy/dy = 1.
    code, out, err = run("grad", "-e", "y", "--set", "y=[1.0, 2.0]", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["grad"] == {"y": [1.0, 1.0]}


def test_output_naming_an_input_of_a_spec_file_says_so():
    code, _, err = run("grad", str(SPECS / "quickstart.yaml"), "--output", "x")
    assert code == 2
    assert "gradcli: error: --output: 'x' is an input, not an output; outputs: y" in err
    assert "did you mean" not in err


@pytest.mark.parametrize("name, what", [("y", "an output"), ("t", "a let name")])
def test_set_cannot_name_an_output_or_a_let_of_a_spec_file(tmp_path: Path, name: str,
                                                           what: str):
    # In a spec file every name is defined once; --set y=2 would make y both.
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs:\n  x: 1.0\nlet:\n  t: x * 2\noutputs:\n  y: t * x\n")
    code, out, err = run("jacobian", str(spec), "--set", f"{name}=2")
    assert code == 2
    assert out == ""
    assert f"gradcli: error: --set: '{name}' is {what} of the spec, not an input" in err


def test_set_cannot_name_a_model():
    code, _, err = run("eval", str(SPECS / "heat-equation-pinn.yaml"), "--set", "u=1")
    assert code == 2
    assert "gradcli: error: --set: 'u' is a model of the spec, not an input" in err
