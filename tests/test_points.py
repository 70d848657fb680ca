"""`--points FILE`: sweeps chunk by chunk equal the in-memory per-sample
results (N not a multiple of the chunk), every input format, every output
format, bad points files, non-finite results and interruption (nothing
half-written is ever left behind)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.api import Problem
from gradcli.cli.group import cli

RNG = np.random.default_rng(7)
N = 23  # not a multiple of the chunk sizes below
MLP = {
    "inputs": {"P": RNG.uniform(-1, 1, (4, 2)).tolist(),
               "W1": RNG.normal(size=(2, 8)).tolist(), "b1": RNG.normal(size=8).tolist(),
               "W2": (RNG.normal(size=(8, 1)) / 3).tolist(), "b2": [0.1]},
    "outputs": {"u": "tanh(P @ W1 + b1) @ W2 + b2"},
    "wrt": ["P"],
}
POINTS = RNG.uniform(-1, 1, (N, 2))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(MLP))
    return path


def whole() -> Problem:
    """The spec with all N points at once: the reference."""
    problem = gradcli.load(MLP)
    return Problem(problem.spec, {"P": POINTS})


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("chunk", [1, 5, 23, 100])
def test_hessian_sweep_equals_the_in_memory_blocks(spec: Path, tmp_path: Path,
                                                   chunk: int) -> None:
    np.save(tmp_path / "p.npy", POINTS)
    out = tmp_path / "h.npy"
    code, _, err = run("hessian", spec, "--points", f"P={tmp_path / 'p.npy'}",
                       "--chunk-size", chunk, "-o", out)
    assert code == 0, err
    expected = whole().hessian(batch_axis=0)["P"]["P"]
    got = np.load(out)
    assert got.shape == (N, 2, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)
    assert leftovers(tmp_path) == []


def test_every_input_format_gives_the_same_values(spec: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    np.save(tmp_path / "p.npy", POINTS)
    np.savez(tmp_path / "p.npz", P=POINTS)
    np.savez_compressed(tmp_path / "pc.npz", P=POINTS)
    np.save(tmp_path / "pf.npy", np.asfortranarray(POINTS))
    lines = ["P[1],P[0]"] + [f"{float(b)!r},{float(a)!r}" for a, b in POINTS]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n\n")
    pq.write_table(pa.table({"P[0]": POINTS[:, 0], "P[1]": POINTS[:, 1]}),
                   tmp_path / "p.parquet", row_group_size=7)
    expected = whole().evaluate()["u"]
    for item in (f"P={tmp_path / 'p.npy'}", f"P={tmp_path / 'pf.npy'}", tmp_path / "p.npz",
                 tmp_path / "pc.npz", tmp_path / "p.csv", tmp_path / "p.parquet"):
        out = tmp_path / "u.npy"
        code, _, err = run("eval", spec, "--points", item, "--chunk-size", 4, "-o", out)
        assert code == 0, (item, err)
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-15, atol=1e-15)


def test_grad_rows_per_point_and_sums_over_points(spec: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", POINTS)
    out = tmp_path / "g.npz"
    code, _, err = run("grad", spec, "--points", f"P={tmp_path / 'p.npy'}", "--wrt", "P",
                       "--wrt", "W2", "--wrt", "b2", "--chunk-size", 5, "-o", out)
    assert code == 0, err
    expected = whole().grad(wrt=["P", "W2", "b2"])
    with np.load(out) as got:
        meta = json.loads(str(got["meta"]))
        assert meta["points"] == N and meta["chunk_size"] == 5 and meta["command"] == "grad"
        np.testing.assert_allclose(got["grad/P"], expected["P"], rtol=1e-13, atol=1e-15)
        # the padding of the last chunk is not in the sum: b2's gradient counts N points
        np.testing.assert_array_equal(got["grad/b2"], [float(N)])
        np.testing.assert_allclose(got["grad/W2"], expected["W2"], rtol=1e-12)


def test_jacobian_to_zarr_and_json_to_stdout(spec: Path, tmp_path: Path) -> None:
    zarr = pytest.importorskip("zarr")
    np.savez(tmp_path / "p.npz", P=POINTS)
    expected = whole().jacobian(batch_axis=0)["u"]["P"]
    code, _, err = run("jacobian", spec, "--points", tmp_path / "p.npz", "--chunk-size", 6,
                       "-o", tmp_path / "j.zarr")
    assert code == 0, err
    group = zarr.open_group(str(tmp_path / "j.zarr"), mode="r")
    np.testing.assert_allclose(group["jacobian/u/P"][:], expected, rtol=1e-13, atol=1e-15)
    assert group.attrs["meta"]["points"] == N
    code, out, err = run("jacobian", spec, "--points", tmp_path / "p.npz", "--chunk-size", 6,
                         "--format", "json")
    assert code == 0, err
    np.testing.assert_allclose(json.loads(out)["jacobian"]["u"]["P"], expected, rtol=1e-13,
                               atol=1e-15)


def test_inline_expression_takes_its_inputs_from_the_points(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("x,t\n0.5,1\n1.0,2\n1.5,3\n")
    code, out, err = run("hessian", "-e", "sin(x) * t", "--points", tmp_path / "p.csv",
                         "--format", "json")
    assert code == 0, err
    h = json.loads(out)["hessian"]
    x, t = np.array([0.5, 1.0, 1.5]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(h["x"]["x"], -np.sin(x) * t, rtol=1e-15)
    np.testing.assert_allclose(h["x"]["t"], np.cos(x), rtol=1e-15)
    assert h["t"]["t"] == [0.0, 0.0, 0.0]


BAD_CSV = {
    "a NaN row": ("P[0],P[1]\n0.1,0.2\n0.3,nan\n", r"p\.csv:3: row 1: P\[1\] is nan"),
    "a wrong column count": ("P[0],P[1]\n0.1,0.2\n0.3,0.4,0.5\n",
                             r"p\.csv:3: row 1 has 3 values; the header names 2 columns"),
    "a value that is no number": ("P[0],P[1]\n0.1,0.2\n0.3,abc\n",
                                  r"p\.csv:3: row 1: column P\[1\]: 'abc' is not a number"),
    "a missing component": ("P[0],P[2]\n0.1,0.2\n", r"no P\[1\]"),
    "an unknown input": ("Q[0],Q[1]\n0.1,0.2\n", r"'Q', which is not an input"),
    "a point of the wrong shape": ("P[0],P[1],P[2]\n0.1,0.2,0.3\n",
                                   r"rows of shape \(3,\).*shape \(2,\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_a_bad_points_file_is_a_located_error_and_writes_nothing(spec: Path, tmp_path: Path,
                                                                 case: str) -> None:
    text, message = BAD_CSV[case]
    (tmp_path / "p.csv").write_text(text)
    code, out, err = run("hessian", spec, "--points", tmp_path / "p.csv", "--chunk-size", 1,
                         "-o", tmp_path / "h.npy")
    assert code == 2, err
    assert pytest.importorskip("re").search(message, err), err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "h.npy").exists() and leftovers(tmp_path) == []


def bad_binary(folder: Path, case: str) -> str:
    """A bad .npz or Parquet points file; returns the --points argument."""
    if case == "nan-npz":
        bad = POINTS.copy()
        bad[13, 1] = np.nan
        np.savez(folder / "p.npz", P=bad)
        return str(folder / "p.npz")
    if case == "lengths-npz":
        np.savez(folder / "p.npz", P=POINTS, W2=np.zeros((8, 1)))
        return str(folder / "p.npz")
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = POINTS[:, 0].tolist()
    column[9] = None if case == "null-parquet" else column[9]
    pq.write_table(pa.table({"P[0]": column, "P[1]": POINTS[:, 1]}), folder / "p.parquet",
                   row_group_size=4)
    return str(folder / "p.parquet")


BAD_BINARY = {"nan-npz": r"p\.npz: row 13: P\[1\] is nan",
              "lengths-npz": r"p\.npz: its arrays have different numbers of points "
                             r"\(P: 23, W2: 8\)",
              "null-parquet": r"p\.parquet: row 9: column P\[0\] is empty \(null\)"}


@pytest.mark.parametrize("case", sorted(BAD_BINARY))
def test_bad_npz_and_parquet_files_name_the_row(spec: Path, tmp_path: Path, case: str) -> None:
    if case.endswith("parquet"):
        pytest.importorskip("pyarrow")
    item = bad_binary(tmp_path, case)
    # chunks of 4: the bad row comes after chunks that were already written
    code, out, err = run("hessian", spec, "--points", item, "--chunk-size", 4,
                         "-o", tmp_path / "h.npz")
    assert code == 2 and out == "", err
    assert pytest.importorskip("re").search(BAD_BINARY[case], err), err
    assert not (tmp_path / "h.npz").exists() and leftovers(tmp_path) == []


def test_a_file_of_zero_points_gives_empty_results(spec: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", np.zeros((0, 2)))
    (tmp_path / "p.csv").write_text("P[0],P[1]\n")
    for item, out in ((f"P={tmp_path / 'p.npy'}", "h.npy"), (tmp_path / "p.csv", "h.npz")):
        code, _, err = run("hessian", spec, "--points", item, "-o", tmp_path / out)
        assert code == 0, err
        got = np.load(tmp_path / out)
        block = got if out.endswith(".npy") else got["hessian/P/P"]
        assert block.shape == (0, 2, 2)
    # the gradient of a fixed input sums over no points: zero
    code, out, err = run("grad", spec, "--points", f"P={tmp_path / 'p.npy'}", "--wrt", "b2",
                         "--format", "json")
    assert code == 0 and json.loads(out)["grad"]["b2"] == [0.0], err


def test_bad_arrays_are_refused_with_their_dtype_or_shape(spec: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    code, _, err = run("eval", spec, "--points", f"P={tmp_path / 's.npy'}")
    assert code == 2 and "dtype <U1" in err and "points must be numbers" in err
    np.save(tmp_path / "p.npy", POINTS)
    code, _, err = run("eval", spec, "--points", tmp_path / "p.npy")
    assert code == 2 and "say which input it gives: --points NAME=" in err
    bad = POINTS.copy()
    bad[17, 0] = np.inf
    np.save(tmp_path / "b.npy", bad)
    code, _, err = run("eval", spec, "--points", f"P={tmp_path / 'b.npy'}", "--chunk-size", 5)
    assert code == 2 and "row 17: P[0] is inf" in err, err


def test_check_finite_names_the_first_bad_row(spec: Path, tmp_path: Path) -> None:
    bad = POINTS.copy()
    bad[11, 1] = np.nan
    np.save(tmp_path / "b.npy", bad)
    code, _, err = run("eval", spec, "--points", f"P={tmp_path / 'b.npy'}", "--check-finite",
                       "-o", tmp_path / "u.npy")
    assert code == 3 and "row 11: P[1] is nan" in err, err
    assert not (tmp_path / "u.npy").exists() and leftovers(tmp_path) == []
    # a non-finite result (not input): a warning naming the row, or exit 3
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0, 0.0, 4.0]))
    args = ("eval", "-e", "1 / x", "--points", f"x={tmp_path / 'x.npy'}", "--chunk-size", 3,
            "-o", tmp_path / "r.npy")
    code, _, err = run(*args)
    assert code == 0 and "outputs.y, first at point row 2" in err
    assert np.isinf(np.load(tmp_path / "r.npy")[2])
    os.unlink(tmp_path / "r.npy")
    code, _, err = run(*args, "--check-finite")
    assert code == 3 and "outputs.y, first at point row 2" in err
    assert not (tmp_path / "r.npy").exists() and leftovers(tmp_path) == []


def test_points_that_mix_across_the_axis_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(6.0))
    code, _, err = run("eval", "-e", "x - mean(x)", "--points", f"x={tmp_path / 'x.npy'}")
    assert code == 2 and "point k of the outputs depends only on point k" in err


def test_an_npy_holds_one_result_and_memory_holds_what_fits(spec: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", POINTS)
    code, _, err = run("grad", spec, "--points", f"P={tmp_path / 'p.npy'}", "--wrt", "P",
                       "--wrt", "b2", "-o", tmp_path / "g.npy")
    assert code == 2 and "a .npy file holds one array and this result has 2" in err
    code, _, err = run("hessian", spec, "--points", f"P={tmp_path / 'p.npy'}",
                       "--max-memory", "300", "--format", "json")
    assert code == 2 and "stream them to a file with -o FILE.npy" in err
    assert leftovers(tmp_path) == []


def test_an_interrupted_sweep_leaves_nothing(spec: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcli.cli import points as module

    np.save(tmp_path / "p.npy", POINTS)
    (tmp_path / "h.npy").write_bytes(b"the previous result")
    seen = []

    def interrupt(*args: object, **kwargs: object) -> object:
        bar = real(*args, **kwargs)

        def step(done: int, total: int) -> None:
            seen.append(done)
            if done >= 10:
                raise KeyboardInterrupt
            bar(done, total)

        return type("Bar", (), {"__enter__": lambda s: step, "__exit__": bar.__exit__})()

    from gradcli.cli import progress

    real = progress.progress_bar
    monkeypatch.setattr(progress, "progress_bar", interrupt)
    code, _, _ = run("hessian", spec, "--points", f"P={tmp_path / 'p.npy'}", "--chunk-size",
                     5, "-o", tmp_path / "h.npy")
    assert code != 0 and seen == [5, 10]
    assert (tmp_path / "h.npy").read_bytes() == b"the previous result"
    assert leftovers(tmp_path) == []
    assert module.CHUNK_BYTES_CAP > 0


def test_sigterm_mid_sweep_leaves_nothing(spec: Path, tmp_path: Path) -> None:
    """A real process killed with SIGTERM while it writes: no result, no temporary."""
    import signal
    import subprocess
    import sys
    import time

    np.save(tmp_path / "p.npy", np.zeros((2_000_000, 2)))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    process = subprocess.Popen([sys.executable, "-m", "gradcli", "eval", str(spec), "--points",
                                f"P={tmp_path / 'p.npy'}", "--chunk-size", "200", "-o",
                                str(tmp_path / "u.npy")], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the sweep ended before it could be interrupted"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert err.splitlines()[-1] == b"gradcli: terminated", err  # gradcli/cli/entry.py
    assert not (tmp_path / "u.npy").exists() and leftovers(tmp_path) == []


def test_nested_orders_lets_and_integer_points(tmp_path: Path) -> None:
    x = np.linspace(-1.0, 1.0, 7)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    np.savez(tmp_path / "p.npz", x=x, k=labels)
    spec = {"inputs": {"x": [0.0], "k": {"value": [0], "dtype": "int64"}, "w": [0.5, -1.0, 2.0]},
            "let": {"h": "sin(x) * 3.0"}, "outputs": {"y": "h * take(w, k) + x ** 3"}}
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    code, out, err = run("grad", tmp_path / "s.yaml", "--points", tmp_path / "p.npz", "--wrt",
                         "x", "--wrt", "h", "--wrt", "w", "--order", "2", "--chunk-size", 3,
                         "--format", "json")
    assert code == 0, err
    got = json.loads(out)["grad"]
    w = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(got["x"], -3 * np.sin(x) * w[labels] + 6 * x, rtol=1e-14)
    assert got["h"] == [0.0] * 7  # y is linear in h: its second derivative is zero
    assert got["w"] == [0.0, 0.0, 0.0]  # linear in w, summed over the points
    code, out, err = run("grad", tmp_path / "s.yaml", "--points", tmp_path / "p.npz", "--wrt",
                         "w", "--chunk-size", 3, "--format", "json")
    assert code == 0, err
    expected = np.zeros(3)
    np.add.at(expected, labels, 3 * np.sin(x))
    np.testing.assert_allclose(json.loads(out)["grad"]["w"], expected, rtol=1e-14)


def test_model_and_points_together_are_refused_before_any_work(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", POINTS)
    model = Path(__file__).parent / "data" / "models" / "torch_mlp.onnx"
    code, out, err = run("grad", "--model", model, "--points", f"x={tmp_path / 'p.npy'}",
                         "-o", tmp_path / "g.npy")
    assert code == 2 and out == "", err
    assert err.startswith("gradcli: error: --model") and "models:" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy"]
