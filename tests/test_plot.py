"""`gradcli plot`: valid images of the asked size, curves that equal the
engine's derivatives point by point, and a clear message without matplotlib."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli.commands.plot import parse_over
from gradcli.cli.group import cli
from gradcli.engine.sweep import Over
from gradcli.errors import SpecError

SPECS = Path(__file__).parent.parent / "specs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout_bytes, result.stderr


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"  # the first chunk, as the format requires
    return struct.unpack(">II", data[16:24])


def test_png_is_a_valid_image_of_the_default_size(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "tanh.png"
    code, stdout, err = run("plot", "-e", "tanh(x)", "--over", "x=-3:3:51", "--order", "2",
                            "-o", str(out))
    assert code == 0, err
    assert stdout == b""
    data = out.read_bytes()
    assert png_size(data) == (800, 500)
    assert data.endswith(b"IEND\xaeB`\x82")  # complete, not truncated


@pytest.mark.parametrize("size, dpi", [("640x480", 100), ("300x900", 72), ("1001x333", 150)])
def test_png_has_exactly_the_asked_pixel_size(tmp_path: Path, size: str, dpi: int) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "plot.png"
    code, _, err = run("plot", str(SPECS / "quickstart.yaml"), "--over", "x=-1:1:21",
                       "--size", size, "--dpi", str(dpi), "--stacked", "-o", str(out))
    assert code == 0, err
    width, height = (int(v) for v in size.split("x"))
    assert png_size(out.read_bytes()) == (width, height)


def test_svg_from_the_suffix_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for out in (first, second):
        code, _, err = run("plot", str(SPECS / "quickstart.yaml"), "--over", "x=-pi:pi:41",
                           "--order", "2", "-o", str(out))
        assert code == 0, err
    text = first.read_text(encoding="utf-8")
    assert text.lstrip().startswith(("<?xml", "<svg"))
    assert "<svg" in text and text.rstrip().endswith("</svg>")
    assert first.read_bytes() == second.read_bytes()


def test_missing_matplotlib_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    out = tmp_path / "plot.png"
    code, stdout, err = run("plot", "-e", "tanh(x)", "--over", "x=-3:3", "-o", str(out))
    assert code == 2
    assert stdout == b""
    assert err.strip() == "gradcli: error: plotting needs matplotlib: pip install 'gradcli[plot]'"
    assert not out.exists()
    # The points themselves need no matplotlib.
    code, stdout, err = run("plot", "-e", "tanh(x)", "--over", "x=-3:3:7", "--format", "csv")
    assert code == 0, err


def test_csv_holds_the_function_and_its_derivatives() -> None:
    code, stdout, err = run("plot", "-e", "tanh(x)", "--over", "x=-3:3:13", "--order", "2",
                            "--format", "csv")
    assert code == 0, err
    lines = stdout.decode().splitlines()
    assert lines[0] == "x,y,dy/dx,d²y/dx²"
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    x = np.linspace(-3, 3, 13)
    sech2 = 1 / np.cosh(x) ** 2
    np.testing.assert_allclose(table[:, 0], x, rtol=0, atol=0)
    np.testing.assert_allclose(table[:, 1], np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(table[:, 2], sech2, rtol=1e-14)
    np.testing.assert_allclose(table[:, 3], -2 * np.tanh(x) * sech2, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("spec, source, output", [
    ("partial-derivatives-of-a-network.yaml", "inp[0,0]", "f"),           # a component
    ("gradient-of-a-list-of-losses-sums.yaml", "b[0]", "xentropy"),      # a vector output
    ("heat-equation-pinn.yaml", "alpha", "loss"),                        # derivatives inside
    ("second-derivatives-of-a-keras-network.yaml", "net.1.bias[3]", "f"),  # a parameter
])
def test_curves_equal_the_engine_point_by_point(spec: str, source: str, output: str) -> None:
    """The vmapped sweep against Problem.grad(values=...) at every point."""
    problem = gradcli.load(str(SPECS / spec))
    name, _, rest = source.partition("[")
    index = tuple(int(i) for i in rest.rstrip("]").split(",")) if rest else None
    base = problem.values[name]
    centre = float(np.ravel(base[index] if index is not None else base)[0])
    curves = problem.sweep(Over(source, centre - 1.0, centre + 1.0, 9), 3, [output])
    for i, point in enumerate(curves.grid):
        value = base.copy()
        if index is None:
            value = np.full(base.shape, point)
        else:
            value[index] = point
        values = {name: value}
        expected = [np.sum(problem.evaluate(values=values, outputs=[output])[output])]
        for k in (1, 2, 3):
            g = problem.grad(wrt=[source], order=k, outputs=[output], values=values)[source]
            expected.append(np.sum(g))
        for k in range(4):  # a vector output: the sum of its components' curves
            got = sum(s.values[i] for s in curves.series if s.order == k)
            assert got == pytest.approx(expected[k], rel=1e-12, abs=1e-14), (k, point)


def test_every_component_of_a_small_output_is_its_own_curve() -> None:
    problem = gradcli.load(str(SPECS / "gradient-of-a-list-of-losses-sums.yaml"))
    curves = problem.sweep(parse_over("b[1]=-2:2:5", problem), 1)
    assert [(s.output, s.order) for s in curves.series] == [
        ("xentropy[0]", 0), ("xentropy[0]", 1), ("xentropy[1]", 0), ("xentropy[1]", 1)]
    assert all(s.values.shape == (5,) for s in curves.series)


def test_an_unused_input_gives_zero_derivatives_and_a_note() -> None:
    code, stdout, err = run("plot", "-e", "sin(y)", "--set", "y=1.0", "--over", "x=0:1:3",
                            "--format", "csv")
    assert code == 0
    assert "y does not depend on x" in err
    rows = [line.split(",") for line in stdout.decode().splitlines()[1:]]
    assert [float(r[2]) for r in rows] == [0.0, 0.0, 0.0]


def test_large_sweeps_run_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradcli.engine.sweep as plot

    problem = gradcli.load(str(SPECS / "quickstart.yaml"))
    whole = problem.sweep(Over("x", -1.0, 1.0, 101), 2)
    monkeypatch.setattr(plot, "CHUNK_ELEMENTS", 100)  # forces several chunks
    chunked = problem.sweep(Over("x", -1.0, 1.0, 101), 2)
    for a, b in zip(whole.series, chunked.series):
        np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize("over, message", [
    ("x", "SOURCE=START:STOP"),
    ("x=1:2:3:4", "SOURCE=START:STOP"),
    ("x=0:1:one", "POINTS must be a whole number"),
    ("x=0:1:1", "POINTS must be between"),
    ("x=1:1", "finite and different"),
    ("x=a:1", "the bounds must be numbers"),
    ("w=0:1", "holds 3 numbers"),
    ("nope=0:1", "unknown source"),
])
def test_bad_sweeps_are_usage_errors(over: str, message: str) -> None:
    code, stdout, err = run("plot", str(SPECS / "quickstart.yaml"), "--over", over,
                            "--format", "csv")
    assert code == 2, err
    assert stdout == b""
    assert message in err


def test_a_let_name_cannot_be_swept() -> None:
    problem = gradcli.load(str(SPECS / "nested-gradient-wrt-concatenated-tensor.yaml"))
    with pytest.raises(SpecError, match="sweeps an input"):
        problem.sweep(Over("X[0,0]", 0.0, 1.0, 3), 1)
