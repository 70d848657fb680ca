"""Hostile and broken input: specs from pull requests are untrusted, so each
of these is refused cheaply and clearly: before the work it asks for (a
bounded peak of memory and of graph nodes built, no FIFO opened: see
workbound.py), with exit 2, one line on stderr naming what is wrong, nothing
on stdout, no traceback; and nothing is lost: an --out file is replaced whole
or not at all, and output is byte-identical from run to run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import hostile_round_two as round_two
import numpy as np
import pytest
from click.testing import CliRunner
from workbound import MiB, assert_bounded, measured

from gradcli.api import load
from gradcli.cli.group import cli
from gradcli.cli.group import main as entry
from gradcli.errors import SpecError

ROOT = Path(__file__).parent.parent
HANG = 300  # seconds: a guard against a hung subprocess, not a speed limit
# Refusing takes a few MiB (the 10^6-element input of the outer-product case
# is 8 MiB) and a handful of graph nodes; what the cases ask for is at least
# 20000² elements (3.2 GB).  The alias bomb's 200000 YAML values before its
# refusal take about 80 MiB (9^9 values if expanded).
MEMORY = 64 * MiB
MEMORY_OF = {"bomb.yaml": 256 * MiB}
NODES = 1000


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def main(*args: str) -> tuple[int, str, str]:
    """The console entry point itself (click's own usage errors get our prefix there)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            entry(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
    return code, out.getvalue(), err.getvalue()


def refused(args: list[str], *fragments: str) -> str:
    with measured(max([MEMORY] + [MEMORY_OF.get(a, 0) for a in args])) as work:
        code, out, err = main(*args)
    assert_bounded(work, args, NODES, err)
    assert code == 2, (code, err)
    assert out == "", out
    assert err.startswith("gradcli: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


# ---- files the table refers to -------------------------------------------------------------

def _bomb() -> str:
    lines = ["inputs:", '  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"  {name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines + ["outputs: {y: '1.0'}"]) + "\n"


def _deep_aliases() -> str:
    lines = ["inputs:", "  a0: &a0 [1.0]"]
    lines += [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, 500)]
    return "\n".join(lines + ["outputs: {y: '1.0'}"]) + "\n"


def _npy_claiming(shape: tuple[int, ...]) -> bytes:
    """A .npy header claiming `shape`, followed by a few bytes: the file is tiny."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * 64


def _npz_claiming(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", _npy_claiming(shape))
    return buffer.getvalue()


def _pickled_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"os": "system"}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


FILES: dict[str, Callable[[], bytes | str | None]] = {
    "bomb.yaml": _bomb,
    "aliases.yaml": _deep_aliases,
    "pickle.npy": _pickled_npy,
    "huge.npy": lambda: _npy_claiming((10**6, 10**6)),
    "huge.npz": lambda: _npz_claiming((10**6, 10**6)),
    "garbage.bin": lambda: bytes(range(256)) * 8,
    "empty.yaml": lambda: "",
    "latin1.yaml": lambda: "outputs: {y: 'caf\xe9'}\n".encode("latin-1"),
    "adir": lambda: None,  # a folder
}


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, make in FILES.items():
        content = make()
        if content is None:
            (tmp_path / name).mkdir()
        elif isinstance(content, str):
            (tmp_path / name).write_text(content)
        else:
            (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def spec_file(folder: Path, text: str) -> str:
    path = folder / "spec.yaml"
    path.write_text(text)
    return str(path)


def nested(depth: int) -> str:
    return "(" * depth + "1.0" + ")" * depth


# ---- the table -----------------------------------------------------------------------------

# (spec text or None, extra arguments, fragments of the message)
TABLE = {
    "alias bomb": (None, ["bomb.yaml"], ["bomb.yaml:", "expands to more than 200000"]),
    "aliases nested 500 deep": (None, ["aliases.yaml"], ["nested more than 100 levels"]),
    "__import__": ("outputs:\n  y: __import__('os').system('true')\n", [],
                   ["spec.yaml:2:6: ", "'__import__' is not allowed"]),
    "().__class__.__bases__": ("outputs:\n  y: ().__class__.__bases__[0].__subclasses__()\n",
                               [], ["spec.yaml:2:", "attribute '__subclasses__' is not allowed"]),
    "dunder attribute": ("inputs: {x: 1.0}\noutputs:\n  y: x.__class__\n", [],
                         ["attribute '__class__' is not allowed"]),
    "lambda": ("outputs:\n  y: '(lambda: 1.0)()'\n", [], ["lambda is not allowed"]),
    "comprehension": ("inputs: {x: [1.0]}\noutputs:\n  y: sum([v for v in x])\n", [],
                      ["comprehension is not allowed"]),
    "f-string": ("outputs:\n  y: f'{1}'\n", [], ["f-string is not allowed"]),
    "walrus": ("outputs:\n  y: '(z := 1.0)'\n", [], ["':=' is not allowed"]),
    "getattr": ("inputs: {x: 1.0}\noutputs:\n  y: getattr(x, 'T')\n", [],
                ["unknown function 'getattr'"]),
    "python tag": ("outputs:\n  y: !!python/object/apply:os.system ['true']\n", [],
                   ["spec.yaml:2:6: ", "cannot read this value"]),
    "python tag on a key": ("!!python/object:os.system outputs: {y: '1.0'}\n", [],
                            ["cannot read this value"]),
    "10^12-element zeros": ("outputs:\n  y: sum(zeros((1000000, 1000000)))\n", [],
                            ["spec.yaml:2:", "1000000000000 elements", "--max-elements"]),
    "10^12-element outer product": (
        "inputs:\n  v: {value: 1.0, shape: [1000000]}\noutputs:\n  y: sum(v[:, None] * v)\n",
        [], ["1000000000000 elements", "--max-elements"]),
    "shape overflowing int64": ("outputs:\n  y: sum(zeros((2**40, 2**40)))\n", [],
                                ["1208925819614629174706176 elements"]),
    "huge exponent in a shape": ("outputs:\n  y: sum(zeros((10**10**10,)))\n", [],
                                 ["must be an integer"]),
    "negative size": ("outputs:\n  y: sum(ones((3, -1)))\n", [], ["negative sizes"]),
    "axis beyond the limit": ("inputs:\n  x: {value: 1.0, shape: [100000000000000000000, 0]}\n"
                              "outputs:\n  y: sum(x)\n", [], ["an axis of", "--max-elements"]),
    "random of 10^12": ("inputs:\n  x: {random: normal, shape: [1000000, 1000000]}\n"
                        "outputs:\n  y: sum(x)\n", [], ["spec.yaml:2:6: ", "--max-elements"]),
    "integer too large": ("inputs:\n  n: {value: 100000000000000000000000, dtype: int64}\n"
                          "outputs:\n  y: n\n", [], ["too large for int64"]),
    "random range beyond float64": (
        "inputs:\n  x: {random: uniform, low: -1.0e+308, high: 1.0e+308, shape: [2]}\n"
        "outputs:\n  y: sum(x)\n", [], ["cannot draw these random numbers"]),
    "tile of 10^18": ("outputs:\n  y: sum(tile(ones(3), (10**9, 10**9)))\n", [],
                      ["tile: ", "--max-elements"]),
    "repeat": ("outputs:\n  y: sum(repeat(ones(3), 10**12))\n", [], ["repeat: "]),
    "broadcast_to": ("outputs:\n  y: sum(broadcast_to(1.0, (10**6, 10**6)))\n", [],
                     ["broadcast_to: "]),
    "pad (index layout)": ("outputs:\n  y: sum(pad(ones(3), 10**12, mode='edge'))\n", [],
                           ["pad: "]),
    "eye": ("outputs:\n  y: sum(eye(10**7))\n", [], ["eye: "]),
    "diag far off the diagonal": ("outputs:\n  y: sum(diag([], 10**6))\n", [],
                                  ["builds an array (", "--max-elements"]),
    "full": ("outputs:\n  y: sum(full((10**7, 10**7), 2.0))\n", [], ["full: "]),
    "linspace": ("outputs:\n  y: sum(linspace(0, 1, 10**12))\n", [],
                 ["linspace: ", "linspace/arange"]),
    "arange": ("outputs:\n  y: sum(arange(1e300))\n", [], ["arange: ", "about 1e+300"]),
    "one_hot": ("inputs:\n  n: {value: [1], dtype: int64}\noutputs:\n  y: sum(one_hot(n, 10**9))\n",
                [], ["one_hot: "]),
    "jacobian inside an expression": (
        "inputs:\n  x: {value: 1.0, shape: [20000]}\noutputs:\n  y: sum(jacobian(x * 2, x))\n",
        [], ["jacobian: its identity basis", "--max-elements"]),
    "model of 10^11 units": ("inputs:\n  x: [[1.0, 2.0]]\nmodels:\n  net: {layers: [{dense: "
                             "100000000000}]}\noutputs:\n  y: sum(net(x))\n", [],
                             ["net.0.kernel", "--max-elements"]),
    "expression nested 10^6 deep": (f"outputs:\n  y: '{nested(10**6)}'\n", [],
                                    ["longer than 10000 characters"]),
    "expression too deep to parse": (f"outputs:\n  y: '{'-' * 3000}1.0'\n", [],
                                     ["nested too deeply to parse"]),
    "sum of 3000 terms": (f"outputs:\n  y: '{'1+' * 3000}1'\n", [], ["nested too deeply"]),
    "parentheses 3000 deep": (f"outputs:\n  y: '{nested(3000)}'\n", [],
                              ["too many nested parentheses"]),
    "YAML nested 10^5 deep": ("inputs:\n  x: " + "[" * 10**5 + "1.0" + "]" * 10**5 +
                              "\noutputs: {y: x}\n", [], ["nested more than 100 levels"]),
    "pickle-bearing .npy": ("inputs:\n  x: {file: pickle.npy}\noutputs:\n  y: sum(x)\n", [],
                            ["spec.yaml:2:6: ", "pickle.npy", "must be numeric, not object"]),
    ".npy claiming 10^12 elements": ("inputs:\n  x: {file: huge.npy}\noutputs:\n  y: sum(x)\n",
                                     [], ["huge.npy", "1000000000000 elements"]),
    ".npz member claiming 10^12": ("inputs:\n  x: {file: huge.npz}\noutputs:\n  y: sum(x)\n",
                                   [], ["array 'x' of huge.npz", "1000000000000 elements"]),
    "garbage as .npy": ("inputs:\n  x: {file: garbage.bin}\noutputs:\n  y: sum(x)\n", [],
                        ["not a .npy or .npz file"]),
    "folder as a file": ("inputs:\n  x: {file: adir}\noutputs:\n  y: sum(x)\n", [],
                         ["adir is a folder"]),
    "folder as weights": ("inputs:\n  x: [[1.0]]\nmodels:\n  net: {layers: [{dense: 1}], "
                          "weights: adir}\noutputs:\n  y: sum(net(x))\n", [],
                          ["weights file adir is a folder"]),
    "spec is a folder": (None, ["adir"], ["spec file adir is a folder"]),
    "spec is binary garbage": (None, ["garbage.bin"], ["cannot read spec file garbage.bin"]),
    "spec is not UTF-8": (None, ["latin1.yaml"], ["cannot read spec file latin1.yaml"]),
    "spec is empty": (None, ["empty.yaml"], ["empty.yaml:1:1: ", "no outputs"]),
    "spec does not exist": (None, ["missing.yaml"], ["spec file not found"]),
    "--set pickle": (None, ["-e", "sum(x)", "--set", "x=@pickle.npy"], ["--set", "object"]),
    "--set folder": (None, ["-e", "sum(x)", "--set", "x=@adir"], ["adir is a folder"]),
    "--set python tag": (None, ["-e", "x", "--set", "x=!!python/object/apply:os.system [ls]"],
                         ["not a YAML value"]),
}
TABLE.update(round_two.TABLE)  # issue 18: paths, integers, messages
FILES.update(round_two.FILES)
if hasattr(os, "mkfifo"):
    TABLE["a FIFO as a file (would block)"] = (
        "inputs:\n  x: {file: fifo}\noutputs:\n  y: sum(x)\n", [], ["not a regular file"])
else:
    TABLE = {case: row for case, row in TABLE.items() if "FIFO" not in case}


@pytest.mark.parametrize("case", sorted(TABLE))
def test_hostile_input_is_refused_cheaply_and_clearly(folder: Path, case: str) -> None:
    text, extra, fragments = TABLE[case]
    if "FIFO" in case:
        os.mkfifo(folder / "fifo")
    args = ["grad", spec_file(folder, text)] if text is not None else ["grad"]
    refused(args + extra, *fragments)


def test_hostile_specs_through_the_api(folder: Path) -> None:
    """The Python API refuses the same things with SpecError (never another exception)."""
    for text in ("outputs: {y: 'sum(zeros((10**6, 10**6)))'}\n", _bomb(),
                 f"outputs:\n  y: '{'-' * 3000}1.0'\n"):
        with pytest.raises(SpecError):
            load(spec_file(folder, text))
    with pytest.raises(SpecError, match="null bytes"):
        load({"outputs": {"y": "sum(1.0)\x00"}})


def test_max_elements_bounds_jacobians_and_hessians_from_the_cli() -> None:
    base = ["-e", "x ** 3", "--set", "x={value: 1.0, shape: [4]}"]
    refused(["jacobian", *base, "--max-elements", "10"], "16 elements", "--max-elements 10")
    refused(["hessian", "-e", "sum(x ** 3)", *base[2:], "--max-elements", "10"],
            "the Hessian has 16 elements")
    assert run("jacobian", *base, "--max-elements", "16")[0] == 0
    # and the spec's own arrays
    refused(["eval", "-e", "ones((5, 5))", "--max-elements", "24"], "25 elements")


def test_deep_nesting_in_a_real_process(folder: Path) -> None:
    """No RecursionError at the real interpreter's stack depth either."""
    spec = spec_file(folder, "inputs:\n  x: " + "[" * 10**5 + "1.0" + "]" * 10**5 +
                     f"\noutputs:\n  y: '{'-' * 3000}1.0'\n")
    done = subprocess.run([sys.executable, "-m", "gradcli", "eval", spec], capture_output=True,
                          text=True, timeout=HANG, cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("gradcli: error: ") and "Traceback" not in done.stderr


def test_jacobian_of_an_empty_output() -> None:
    code, out, err = run("jacobian", "-e", "v * zeros((0,))", "--set", "v=[1.0]", "--format",
                         "json")
    assert code == 0, err
    assert json.loads(out)["jacobian"]["y"]["v"] == []
    for mode in ("rev", "fwd"):
        code, out, err = run("jacobian", "-e", "sum(v) * ones((2,))", "--set", "v=[]",
                             "--mode", mode, "--format", "json")
        assert code == 0, err
        assert json.loads(out)["jacobian"]["y"]["v"] == [[], []]


# ---- nothing lost, nothing half-written ----------------------------------------------------

SPEC = "inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: sum(sqrt(x))\n"


@pytest.mark.parametrize("failure", ["bad spec", "numeric fault", "render", "rename", "write"])
def test_a_failing_command_leaves_the_previous_out_intact(
        folder: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    spec = spec_file(folder, SPEC)
    target = folder / "result.json"
    target.write_bytes(b"previous result\n")
    args = ["grad", spec, "--format", "json", "-o", str(target)]
    if failure == "bad spec":
        spec = spec_file(folder, SPEC.replace("sqrt(x)", "sqrt(x"))
    elif failure == "numeric fault":
        args = ["grad", "-e", "sum(sqrt(x))", "--set", "x=[0.0]", "--check-finite",
                "--format", "json", "-o", str(target)]
    elif failure == "render":
        import gradcli.render as render

        def broken_render(result: object, fmt: str, stream: BinaryIO, *_: object) -> None:
            stream.write(b"half a result")  # rendering fails after writing some of it
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(render, "write", broken_render)
    elif failure == "rename":
        def broken_replace(*_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", broken_replace)
    else:
        real_fdopen = os.fdopen

        class HalfWriter:
            """Writes half of the bytes, then the disk is full."""

            def __init__(self, fd: int, mode: str) -> None:
                self.file = real_fdopen(fd, mode)

            def __enter__(self) -> HalfWriter:
                return self

            def __exit__(self, *_: object) -> None:
                self.file.close()

            def write(self, data: bytes) -> None:
                self.file.write(data[: len(data) // 2])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fdopen", HalfWriter)
    code, out, err = run(*args)
    assert code != 0 and out == ""
    assert "Traceback" not in err
    assert target.read_bytes() == b"previous result\n"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def _run_process(args: list[str], cwd: Path) -> bytes:
    done = subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True,
                          timeout=HANG, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("args", [
    ["grad", "specs/partial-derivatives-of-a-network.yaml", "--format", "json"],
    ["hessian", "specs/second-derivatives-of-a-keras-network.yaml", "--format", "text"],
    ["jacobian", "specs/heat-equation-pinn.yaml", "--format", "csv"],
])
def test_output_is_byte_identical_across_processes(args: list[str], tmp_path: Path) -> None:
    first = _run_process(args, ROOT)
    assert first and first == _run_process(args, ROOT)
    # and through -o: the file holds the same bytes as stdout
    target = tmp_path / "out"
    _run_process([*args, "-o", str(target)], ROOT)
    assert target.read_bytes() == first


def test_random_inputs_are_byte_identical_across_processes(folder: Path) -> None:
    spec = spec_file(folder, "inputs:\n  x: {random: normal, shape: [3, 2], seed: 7}\n"
                             "models:\n  net: {layers: [{dense: {units: 4, activation: tanh}},"
                             " {dense: 1}], init: {seed: 3}}\noutputs:\n  y: sum(net(x))\n"
                             "wrt: [net, x]\n")
    args = ["grad", spec, "--format", "json"]
    assert _run_process(args, folder) == _run_process(args, folder)
