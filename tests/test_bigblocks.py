"""Jacobians and Hessians larger than --max-memory go chunk by chunk into
-o FILE.npy/.npz instead of being refused; only a disk too small refuses."""

from __future__ import annotations

import json
import os
import re
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli.group import cli
from gradcli.engine.blocks import plan_jacobian

RNG = np.random.default_rng(3)
SPEC = {"inputs": {"W": RNG.normal(size=(30, 20)).tolist(), "x": RNG.normal(size=20).tolist(),
                   "v": RNG.normal(size=3).tolist(), "k": {"value": [1, 2], "dtype": "int64"}},
        "outputs": {"y": "tanh(W @ x)", "z": "sum(x) * 2.0 + 0 * sum(k)"}}
BATCH = {"inputs": {"P": RNG.normal(size=(7, 3)).tolist(), "A": RNG.normal(size=(3, 4)).tolist()},
         "outputs": {"u": "sin(P @ A)"}, "wrt": ["P"]}
TINY = "2000"  # bytes: less than the 30x20 Jacobian (4.8 KB) or the 23x23 Hessian


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(BATCH))
    return tmp_path / "s.yaml"


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_a_jacobian_past_the_budget_is_written_chunk_by_chunk(spec: Path, tmp_path: Path,
                                                              mode: str) -> None:
    problem = gradcli.load(SPEC)
    chosen, sources = problem.select_outputs(["y"]), problem.sources(["x"])
    passes = plan_jacobian(chosen, sources, mode, None, None, 2_000, 10**8,
                           problem.transforms, streamed=True)
    assert passes.runs[0].chunked.size < passes.runs[0].basis.count  # several chunks
    out = tmp_path / "J.npy"
    code, _, err = run("jacobian", spec, "--output", "y", "--wrt", "x", "--mode", mode,
                       "--max-memory", TINY, "-o", out)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(out), problem.jacobian(wrt=["x"])["y"]["x"])
    code, _, err = run("jacobian", spec, "--output", "y", "--wrt", "x", "--max-memory", TINY)
    assert code == 2 and "write it to -o FILE.npy" in err


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_per_sample_blocks_stream_too(spec: Path, tmp_path: Path, mode: str) -> None:
    expected = gradcli.load(BATCH).jacobian(batch_axis=0, mode=mode)["u"]["P"]
    out = tmp_path / "J.npy"
    code, _, err = run("jacobian", tmp_path / "b.yaml", "--batch-axis", "0", "--mode", mode,
                       "--chunk-size", "1", "--max-memory", "300", "-o", out)
    assert code == 0, err
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-15, atol=1e-15)


def test_hessian_blocks_zero_and_null_entries_in_npz(spec: Path, tmp_path: Path) -> None:
    problem = gradcli.load(SPEC)
    expected = problem.hessian(wrt=["x", "v"], outputs=["z", "y"])
    out = tmp_path / "H.npz"
    code, _, err = run("hessian", spec, "--wrt", "x", "--wrt", "v", "--output", "z",
                       "--output", "y", "--max-memory", TINY, "-o", out)
    assert code == 0, err
    with np.load(out) as got:
        meta = json.loads(str(got["meta"]))
        assert meta["null_entries"] == ["hessian/x/v", "hessian/v/x", "hessian/v/v"]
        assert sorted(got) == ["hessian/x/x", "meta"]
        np.testing.assert_allclose(got["hessian/x/x"], expected["x"]["x"], rtol=1e-13,
                                   atol=1e-14)
    code, _, err = run("hessian", spec, "--wrt", "x", "--wrt", "v", "--output", "y",
                       "--max-memory", TINY, "--unconnected", "zero", "-o", out)
    assert code == 0, err
    with np.load(out) as got:
        np.testing.assert_array_equal(got["hessian/v/x"], np.zeros((3, 20)))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_only_a_disk_too_small_refuses(spec: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    Stat = namedtuple("Stat", "f_bavail f_frsize")
    monkeypatch.setattr(os, "statvfs", lambda path: Stat(1, 512))
    code, _, err = run("jacobian", spec, "--output", "y", "--wrt", "x", "--max-memory", TINY,
                       "-o", tmp_path / "J.npy")
    assert code == 2 and re.search(r"the result needs 0\.0049\d* MB on disk and .* has "
                                   r"0\.000512 MB free", err), err
    code, _, err = run("jacobian", spec, "--output", "y", "--wrt", "x", "--max-memory", TINY,
                       "-o", tmp_path / "J.zarr")
    assert code == 2 and "written to .npy or .npz" in err
    assert list(tmp_path.iterdir()) == [spec, tmp_path / "b.yaml"] or \
        sorted(tmp_path.iterdir()) == sorted([spec, tmp_path / "b.yaml"])
