"""The command line through click's CliRunner, and once as a real process."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.cli.group import cli

SPECS = Path(__file__).parent.parent / "specs"
PATCH = str(SPECS / "assign-gradient-wrt-patch.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_seed_004_json_contract() -> None:
    code, out, err = run("grad", PATCH, "--wrt", "patch", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["command"] == "grad"
    assert doc["order"] == 1
    assert doc["grad"] == {"patch": [[1.0, 2.0], [1.0, 2.0]]}
    assert out.startswith('{"command": "grad"')


def test_text_output_says_what_was_computed() -> None:
    code, out, _ = run("grad", str(SPECS / "symbolic-gradient-sin-matmul.yaml"))
    assert code == 0
    assert "d(sum of y)/d(a)" in out
    assert "SUM" in out
    assert "(2, 2)" in out


def test_eval_inline_expression() -> None:
    code, out, _ = run("eval", "-e", "sin(x) * 2", "--set", "x=0.5", "--format", "json")
    assert code == 0
    assert json.loads(out)["outputs"]["y"] == pytest.approx(2 * np.sin(0.5), rel=1e-15)


def test_grad_inline_component_and_order() -> None:
    code, out, _ = run("grad", "-e", "sum(x**3)", "--set", "x=[1.0, 2.0]", "--wrt", "x[1]",
                       "--order", "2", "--format", "json")
    assert code == 0
    assert json.loads(out)["grad"] == {"x[1]": 12.0}


def test_cotangent_is_output_gradients() -> None:
    code, out, _ = run("grad", "-e", "x * 3", "--set", "x=[1.0, 2.0]",
                       "--cotangent", "y=[1.0, -2.0]", "--format", "json")
    assert code == 0
    assert json.loads(out)["grad"]["x"] == [3.0, -6.0]


def test_unconnected_modes() -> None:
    spec = ["-e", "a * 2 + stop_gradient(b)", "--set", "a=1.0", "--set", "b=2.0",
            "--format", "json"]
    code, out, err = run("grad", *spec)
    assert code == 0
    assert json.loads(out)["grad"] == {"a": 2.0, "b": None}
    assert "stop_gradient" in err
    code, out, _ = run("grad", *spec, "--unconnected", "zero")
    assert json.loads(out)["grad"]["b"] == 0.0
    code, out, err = run("grad", *spec, "--unconnected", "error")
    assert code == 2 and out == ""
    assert "unconnected source b" in err


def test_unused_input_is_explained() -> None:
    code, out, err = run("grad", "-e", "a * 2", "--set", "a=1.0", "--set", "b=2.0",
                         "--wrt", "b", "--format", "json")
    assert code == 0
    assert json.loads(out)["grad"] == {"b": None}
    assert "does not depend on b" in err


@pytest.mark.parametrize("fmt", ["text", "json", "yaml", "csv"])
def test_every_format_writes_atomically(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"
    code, out, _ = run("grad", PATCH, "--format", fmt, "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p != target]


def test_npz_output(tmp_path: Path) -> None:
    target = tmp_path / "g.npz"
    code, _, _ = run("grad", PATCH, "--format", "npz", "-o", str(target))
    assert code == 0
    with np.load(target) as data:
        np.testing.assert_array_equal(data["grad/patch"], [[1.0, 2.0], [1.0, 2.0]])


def test_set_from_npy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0, 3.0]))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("grad", "-e", "sum(x * x)", "--set", "x=@x.npy", "--format", "json")
    assert code == 0
    assert json.loads(out)["grad"]["x"] == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("args,fragment", [
    (["grad", "-e", "x", "--set", "x"], "NAME=VALUE"),
    (["grad", "-e", "x", "--set", "x=[1, [2]]"], "--set x"),
    (["grad", "-e", "x*2", "--set", "x=1.0", "--wrt", "q"], "unknown source 'q'"),
    (["grad", "-e", "x*2", "--set", "x=[1.0, 2.0]", "--wrt", "x[7]"], "x[7]"),
    (["grad", "-e", "x*2", "--set", "x=[1.0, 2.0]", "--cotangent", "y=[1.0]"], "cotangent"),
    (["grad", "-e", "x*2", "--set", "x=1.0", "-o", "/nonexistent/dir/out.json"], "--out"),
])
def test_bad_command_line_values(args: list[str], fragment: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert fragment in err
    assert "Traceback" not in err


def test_check_finite_exit_3() -> None:
    code, _, err = run("eval", "-e", "log(x)", "--set", "x=-1.0", "--check-finite")
    assert code == 3
    assert "non-finite" in err
    code, _, err = run("eval", "-e", "log(x)", "--set", "x=-1.0")
    assert code == 0 and "warning" in err


def _console_script() -> list[str]:
    """The installed `gradcli` when it runs this checkout's entry point; else
    (nothing installed, or an install of another checkout first on PATH)
    that entry point, from pyproject.toml, run as its script would run it."""
    pyproject = (SPECS.parent / "pyproject.toml").read_text()
    found = re.search(r'^gradcli\s*=\s*"([\w.]+):(\w+)"', pyproject, re.M)
    assert found is not None, "no gradcli entry in [project.scripts]"
    module, function = found.groups()
    installed = {e.name: e.value for e in importlib.metadata.entry_points(
        group="console_scripts")}.get("gradcli")
    exe = shutil.which("gradcli")
    if exe and installed == f"{module}:{function}":
        return [exe]
    return [sys.executable, "-c", f"import sys; from {module} import {function}; "
            f"sys.exit({function}())"]


def test_console_script_as_a_real_process() -> None:
    command = _console_script()
    done = subprocess.run([*command, "grad", PATCH, "--wrt", "patch", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["grad"]["patch"] == [[1.0, 2.0], [1.0, 2.0]]
    bad = subprocess.run([*command, "grad", "-e", "lambda: 1"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("gradcli: error: --expr:1:")
    assert "Traceback" not in bad.stderr


def test_python_dash_m() -> None:
    done = subprocess.run([sys.executable, "-m", "gradcli", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "0.1.0" in done.stdout


def test_timings_go_to_stderr_only() -> None:
    result = CliRunner().invoke(cli, ["grad", PATCH, "--format", "json", "--timings"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["grad"]["patch"] == [[1.0, 2.0], [1.0, 2.0]]
    for phase in ("load", "build", "differentiate", "plan", "evaluate", "render", "total"):
        assert f"gradcli: timings: {phase}" in result.stderr
    quiet = CliRunner().invoke(cli, ["grad", PATCH, "--format", "json"])
    assert "timings" not in quiet.stderr


def test_out_of_memory_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradcli.api

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(gradcli.api.Problem, "grad", exhausted)
    code, out, err = run("grad", PATCH)
    assert code == 2 and out == ""
    assert "out of memory" in err and "--max-elements" in err


def test_load_forwards_options() -> None:
    import gradcli

    problem = gradcli.load(PATCH, max_elements=1000, check_finite=True)
    assert problem.max_elements == 1000 and problem.check_finite


@pytest.mark.parametrize("command", ["check", "symbolic", "graph", "ops", "schema", "plot"])
def test_every_command_takes_timings(command: str) -> None:
    from gradcli.cli.group import cli as group

    assert any(p.name == "timings" for p in group.commands[command].params)


def test_timings_of_a_command_without_emit() -> None:
    result = CliRunner().invoke(cli, ["check", PATCH, "--timings"])
    assert result.exit_code == 0
    assert "gradcli: timings: total" in result.stderr
