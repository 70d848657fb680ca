"""`gradcli check` on imported models (the issue's bar): the input gradients
and input Hessians of the PyTorch MLP and CNN exported to ONNX and of the
Keras CNN saved as .keras (tests/data/models/check-*.yaml) agree with finite
differences of the model as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli.group import cli

pytest.importorskip("onnx")
pytest.importorskip("h5py")
SPECS = sorted(str(p) for p in (Path(__file__).parent / "data" / "models").glob("check-*.yaml"))


def test_input_gradients_and_hessians_of_imported_models_pass_check() -> None:
    assert len(SPECS) == 3
    result = CliRunner().invoke(cli, ["check", *SPECS, "--what", "grad,hessian",
                                      "--method", "fd", "--format", "json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    for spec in report["specs"]:
        rows = {(r["quantity"], r["status"]) for r in spec["rows"]}
        assert rows == {("grad.x[0]", "PASS"), ("hessian.x[0].x[0]", "PASS")}, spec
