"""Large results (issue 15): formats written chunk by chunk in O(chunk)
memory, text summaries, --full, --format npy, the terminal hint.  Speed is
measured in benchmarks/render.py, not here: these tests bound memory and
work, and check that the chunked output is the same as the whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from workbound import peak_bytes

from gradcli.cli import support
from gradcli.cli.group import cli
from gradcli.errors import SpecError
from gradcli.render import Entry, Result, arrays, atomic_output, render, spell, textarray, write
from gradcli.render.arrays import CsvArray, JsonArray, YamlArray, write_array
from gradcli.render.npy import NpyArray


class Sink:
    """A binary stream that only counts."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def _one(value: np.ndarray, path: tuple[str, ...] = ("grad", "a")) -> Result:
    return Result("grad", (Entry(path, "d(sum of y)/d(a)", value),), {"order": 1},
                  ("grad: summary",), ("grad",))


SHAPES = [(), (1,), (5,), (2, 2), (3, 1), (1, 3), (2, 3, 4), (2, 0), (0,), (0, 3), (2, 0, 3),
          (1, 1, 1, 1), (7, 5, 3), (300,), (40, 30)]


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
@pytest.mark.parametrize("shape", SHAPES)
def test_chunked_and_vectorised_output_equals_the_per_element_output(fmt, shape, monkeypatch):
    rng = np.random.default_rng(sum(shape))
    value = rng.standard_normal(shape) * 10.0 ** rng.integers(-20, 20, shape)
    if value.size > 2:
        value.flat[1] = np.nan
    monkeypatch.setattr(spell, "SMALL", 10**9)  # every number by Python (repr)
    whole = render(_one(value), fmt)
    monkeypatch.setattr(spell, "SMALL", 0)  # every number by numpy
    monkeypatch.setattr(arrays, "CHUNK", 7)  # pieces that cut rows anywhere
    assert render(_one(value), fmt) == whole
    spaced = np.zeros(value.shape + (2,))
    spaced[..., 0] = value
    assert render(_one(spaced[..., 0]), fmt) == whole  # a view that is not C-contiguous


def test_writers_take_pieces_of_any_length():
    value = np.arange(24.0).reshape(2, 3, 4) / 7
    for make in (lambda s: JsonArray(s, value.shape, value.dtype),
                 lambda s: YamlArray(s, value.shape, value.dtype),
                 lambda s: CsvArray(s, "q", value.shape, value.dtype),
                 lambda s: NpyArray(s, value.shape, value.dtype)):
        whole, pieces = io.BytesIO(), io.BytesIO()
        write_array(make(whole), value)
        writer = make(pieces)
        for part in (value.ravel()[:5], value.ravel()[5:6], value.ravel()[6:]):
            writer.write(part)
        writer.close()
        assert pieces.getvalue() == whole.getvalue()
        short = make(io.BytesIO())
        short.write(value.ravel()[:3])
        with pytest.raises(ValueError, match="3 of the 24"):
            short.close()
        with pytest.raises(ValueError, match="more than the 24"):
            make(io.BytesIO()).write(np.zeros(25))
    with pytest.raises(TypeError, match="cannot write float64 values as int64"):
        JsonArray(io.BytesIO(), (2,), np.int64).write(np.ones(2))


def _peak(fmt: str, n: int) -> int:
    result = _one(np.random.default_rng(0).standard_normal(n))
    return peak_bytes(lambda: write(result, fmt, Sink(), threshold=None))


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv", "npy", "text"])
def test_memory_is_bounded_by_the_chunk_not_the_array(fmt, monkeypatch):
    monkeypatch.setattr(arrays, "CHUNK", 512)
    n = 100_000
    small, large = _peak(fmt, n // 4), _peak(fmt, n)
    assert large < 8 * n / 2  # half the array's own 8 bytes per element
    assert large < 1.5 * small + 64 * 1024  # four times the elements, not more memory


def test_npy_is_what_np_save_writes(tmp_path):
    for value in (np.arange(12.0).reshape(3, 4).T, np.array(2.5), np.zeros((0, 3)),
                  np.array([1, -2], dtype=np.int32), np.array([0.1], dtype=np.float32)):
        np.save(tmp_path / "ref.npy", value.copy(order="C"))  # always C order
        data = render(_one(value), "npy")
        assert data == (tmp_path / "ref.npy").read_bytes()
        assert np.array_equal(np.load(io.BytesIO(data)), value)


def test_npy_refuses_several_or_no_arrays():
    two = Result("grad", (Entry(("grad", "a"), "t", np.ones(2)),
                          Entry(("grad", "b"), "t", np.ones(2))), {})
    with pytest.raises(SpecError, match="holds one array, but the result has 2 "
                                        r"\(grad.a, grad.b\): select one with --wrt/--output"):
        render(two, "npy")
    with pytest.raises(SpecError, match="unconnected"):
        render(_one(None), "npy")


def test_atomic_output_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.json"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic_output(str(target)) as stream:
        stream.write(b"half")
        raise RuntimeError("a bug mid-way")
    assert target.read_bytes() == b"previous" and len(list(tmp_path.iterdir())) == 1
    with atomic_output(str(target)) as stream:
        stream.write(b"new")
        assert target.read_bytes() == b"previous"  # not yet
    assert target.read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 1


# ---------------------------------------------------------------- text


def test_text_summarises_beyond_the_threshold_like_numpy():
    value = np.arange(5000.0).reshape(50, 100) / 3
    text = render(_one(value), "text").decode()
    assert "d(sum of y)/d(a)  shape (50, 100) float64" in text
    assert "..." in text and "(36 of 5,000 elements shown; --full prints all" in text
    numpy_lines = np.array2string(value, threshold=1000, edgeitems=3, max_line_width=98,
                                  separator=" ", precision=8).splitlines()
    assert len([line for line in text.splitlines() if line.startswith(("  [", "   ["))]) == \
        len(numpy_lines) - 1  # the same rows as numpy's summary, "..." row aside
    full = render(_one(value), "text", threshold=None).decode()
    assert "..." not in full and "1666.3333" in full and "elements shown" not in full
    assert render(_one(value), "text", threshold=5000) == render(_one(value), "text",
                                                                  threshold=None)
    assert b"shown" not in render(_one(np.arange(4.0)), "text", threshold=0)  # nothing hidden


def test_a_summary_formats_only_the_shown_elements(monkeypatch):
    formatted = []
    real = textarray.element_texts

    def counting(arr, precision):
        formatted.append(arr.size)
        return real(arr, precision)

    monkeypatch.setattr(textarray, "element_texts", counting)
    render(_one(np.zeros((1000, 5000))), "text")
    assert sum(formatted) <= 2 * 36  # 6 x 6 shown: widths once, cells once


def test_full_text_is_numpys_layout_written_in_pieces(monkeypatch):
    monkeypatch.setattr(arrays, "CHUNK", 5)
    rng = np.random.default_rng(5)
    for shape in [(1,), (40,), (200,), (3, 40), (2, 3, 4), (2, 2, 2, 30), (4, 1, 9)]:
        value = rng.standard_normal(shape) * 1e3
        texts = textarray.element_texts(value, None)
        columns = textarray.Columns.of(texts)
        cells = np.array([columns.cell(t) for t in texts]).reshape(shape)
        expected = np.array2string(cells, max_line_width=98, separator=" ",
                                   threshold=10**9, formatter={"all": str})
        assert textarray.array_text(value) == expected


# ---------------------------------------------------------------- the command line


SPEC = "-e", "x * 2", "--set", "x=ones(3000)"


def _run(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(cli, list(args))
    return done.exit_code, done.stdout, done.stderr


def test_cli_threshold_and_full():
    code, out, _ = _run("eval", *SPEC)
    assert code == 0 and "..." in out and "(6 of 3,000 elements shown" in out
    code, out, _ = _run("eval", *SPEC, "--threshold", "5000")
    assert code == 0 and "..." not in out and out.count("2.0") == 3000
    code, full, _ = _run("eval", *SPEC, "--full")
    assert full == out
    code, out, _ = _run("eval", *SPEC, "--format", "json", "--threshold", "10")
    assert json.loads(out)["outputs"]["y"] == [2.0] * 3000  # json is always complete


def test_cli_hint_only_for_a_large_result_on_a_terminal(monkeypatch):
    code, _, err = _run("eval", *SPEC)
    assert code == 0 and "hint" not in err  # not a terminal
    monkeypatch.setattr(support, "_stdout_is_terminal", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    code, _, err = _run("eval", *SPEC)
    assert err.count("\n") == 1 and err.startswith("gradcli: hint: outputs.y has 3,000 "
                                                   "elements (text shows a summary")
    assert "-o FILE --format npz" in err
    _, _, err = _run("eval", *SPEC, "--format", "json")
    assert "hint" in err and "summary" not in err
    for quiet in (["--full"], ["--threshold", "3000"]):
        assert "hint" not in _run("eval", *SPEC, *quiet)[2]
    assert "hint" not in _run("eval", "-e", "x * 2", "--set", "x=[1.0, 2.0]")[2]


def test_cli_npy(tmp_path: Path):
    target = tmp_path / "g.npy"
    code, out, err = _run("grad", "-e", "sum(x * x)", "--set", "x=[1.0, 2.0]", "--format",
                          "npy", "-o", str(target))
    assert code == 0 and out == "" and np.load(target).tolist() == [2.0, 4.0]
    code, out, err = _run("grad", "-e", "sum(x * y)", "--set", "x=[1.0]", "--set", "y=[3.0]",
                          "--format", "npy", "-o", str(tmp_path / "two.npy"))
    assert code == 2 and "select one with --wrt/--output" in err and "Traceback" not in err
    assert not (tmp_path / "two.npy").exists()
    code, out, err = _run("grad", "-e", "sum(x * x)", "--set", "x=[1.0]", "--format", "npy")
    assert code == 2 and out == "" and "binary: write it with -o FILE" in err


def test_cli_writes_large_json_in_full_to_a_file(tmp_path: Path):
    target = tmp_path / "y.json"
    code, out, _ = _run("eval", *SPEC, "--format", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["outputs"]["y"] == [2.0] * 3000
    code, _, _ = _run("eval", *SPEC, "--format", "yaml", "-o", str(target))
    assert yaml.safe_load(target.read_text())["outputs"]["y"] == [2.0] * 3000
