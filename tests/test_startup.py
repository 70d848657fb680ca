"""A plain `gradcli grad` imports only what it needs: no sympy (check and
symbolic only), no Jacobian machinery, no output formats it does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SPEC = Path(__file__).parent.parent / "specs" / "quickstart.yaml"


def _imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gradcli", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line.split("|")[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:")]
    return set(lines)


def test_grad_does_not_import_sympy_or_unused_machinery() -> None:
    modules = _imported("grad", str(SPEC), "--format", "json")
    assert "gradcli.api" in modules  # the log is real
    for heavy in ("sympy", "gradcli.engine.blocks", "gradcli.engine.batching",
                  "gradcli.render.yaml_", "gradcli.render.npz", "gradcli.verify.symbolic",
                  "torch", "jax", "onnx", "h5py", "safetensors", "gradcli.language.importers"):
        assert heavy not in modules, heavy


def test_jacobian_imports_its_machinery_but_not_sympy() -> None:
    modules = _imported("jacobian", str(SPEC), "--format", "json")
    assert "gradcli.engine.blocks" in modules
    assert "sympy" not in modules


def test_a_points_sweep_imports_no_optional_extra(tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.linspace(0.0, 1.0, 11))
    modules = _imported("grad", "-e", "sin(x)", "--points", f"x={tmp_path / 'x.npy'}",
                        "--wrt", "x", "-o", str(tmp_path / "g.npy"))
    assert "gradcli.cli.points" in modules  # the log is real
    for extra in ("dask", "distributed", "zarr", "pyarrow", "gradcli.cli.cluster"):
        assert extra not in modules, extra
    plain = _imported("grad", str(SPEC), "--format", "json")
    for extra in ("dask", "distributed", "zarr", "pyarrow", "gradcli.cli.points",
                  "gradcli.render.sinks"):
        assert extra not in plain, extra
