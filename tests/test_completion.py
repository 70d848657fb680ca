"""Shell completion of spec paths and of input names after --wrt/--set,
through click's mechanism (the same calls the bash/zsh/fish scripts make)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from gradcli.cli.completion import read_names
from gradcli.cli.group import cli

ROOT = Path(__file__).parent.parent
PINN = "specs/heat-equation-pinn.yaml"


def complete(monkeypatch: pytest.MonkeyPatch, line: str) -> list[tuple[str, str]]:
    """Candidates for the last word of `line` (a trailing space: a new word),
    as (type, value), run from the repository root like a user would."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COMP_WORDS", line)
    words = line.split()
    incomplete = "" if line.endswith(" ") else words.pop()
    completer = ShellComplete(cli, {}, "gradcli", "_GRADCLI_COMPLETE")
    return [(item.type, item.value) for item in completer.get_completions(words[1:], incomplete)]


def test_spec_argument_completes_yaml_files(monkeypatch: pytest.MonkeyPatch) -> None:
    assert complete(monkeypatch, "gradcli grad specs/qu") == [("plain", "specs/quickstart.yaml")]
    found = complete(monkeypatch, "gradcli hessian specs/")
    assert ("plain", "specs/quickstart.yaml") in found
    assert ("dir", "specs/") in found  # specs/data/ can be entered
    assert not any(value.endswith(".npz") for _, value in found)


def test_spec_argument_falls_back_to_any_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert complete(monkeypatch, "gradcli eval pyproj") == [("file", "pyproj")]


def test_wrt_completes_sources_of_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [v for _, v in complete(monkeypatch, f"gradcli grad {PINN} --wrt ")]
    assert values[:5] == ["alpha", "x", "t", "x0", "t0"]          # float inputs
    assert {"U", "u_x", "residual"} <= set(values)                 # let names
    assert {"u", "u.1.kernel", "u.1.bias", "u.2.kernel", "u.2.bias"} <= set(values)
    assert [v for _, v in complete(monkeypatch, f"gradcli jacobian {PINN} --wrt u_")] == [
        "u_t", "u_x", "u_xx"]


def test_wrt_skips_integer_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = "specs/gradient-of-a-list-of-losses-sums.yaml"
    values = [v for _, v in complete(monkeypatch, f"gradcli grad {spec} --wrt ")]
    assert values == ["inputs", "w", "b", "logits"]  # not labels (int64)


def test_wrt_before_the_spec_and_with_other_options(monkeypatch: pytest.MonkeyPatch) -> None:
    line = "gradcli --debug hessian --dtype float32 specs/quickstart.yaml --wrt x --wrt "
    assert [v for _, v in complete(monkeypatch, line)] == ["x", "w"]


def test_wrt_with_an_inline_expression_uses_the_set_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    line = "gradcli grad -e sin(a)*b --set a=1 --set b=2 --wrt "
    assert [v for _, v in complete(monkeypatch, line)] == ["a", "b"]


def test_set_offers_name_and_current_number(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [v for _, v in complete(monkeypatch, f"gradcli eval {PINN} --set ")]
    assert values == ["alpha=0.1", "x=", "t=", "x0=", "t0="]
    assert [v for _, v in complete(monkeypatch, f"gradcli eval {PINN} --set al")] == [
        "alpha=0.1"]


def test_plot_over_offers_float_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = "specs/gradient-of-a-list-of-losses-sums.yaml"
    assert [v for _, v in complete(monkeypatch, f"gradcli plot {spec} --over ")] == [
        "inputs=", "w=", "b="]


def test_a_missing_or_broken_spec_gives_no_names(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    assert complete(monkeypatch, "gradcli grad nowhere.yaml --wrt ") == []
    broken = tmp_path / "broken.yaml"
    broken.write_text("inputs: [unclosed\n", encoding="utf-8")
    assert read_names(str(broken)).inputs == {}


def test_the_bash_protocol_end_to_end() -> None:
    env = {**os.environ, "COMP_WORDS": "gradcli grad specs/quickstart.yaml --wrt ",
           "COMP_CWORD": "4", "_GRADCLI_COMPLETE": "bash_complete",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "gradcli"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,x", "plain,w"]
    source = subprocess.run([sys.executable, "-m", "gradcli"], cwd=ROOT, timeout=60,
                            env={**env, "_GRADCLI_COMPLETE": "bash_source"},
                            capture_output=True, text=True)
    assert "complete -o nosort -F _gradcli_completion gradcli" in source.stdout


def test_wrt_completes_the_parameters_of_every_layer_kind(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    found = dict((v, t) for t, v in complete(monkeypatch,
                                             "gradcli grad specs/small-cnn.yaml --wrt net"))
    assert list(found) == ["net", "net.0.kernel", "net.0.bias", "net.2.gamma", "net.2.beta",
                           "net.2.moving_mean", "net.2.moving_variance", "net.4.kernel",
                           "net.4.bias"]
    monkeypatch.setenv("COMP_WORDS", "")
    names = read_names(str(ROOT / "specs" / "small-cnn.yaml"))
    assert names.frozen == {"net.2.moving_mean", "net.2.moving_variance"}
