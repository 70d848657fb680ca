"""Property-based robustness: random YAML documents, random expressions (valid
and near-valid) and random command lines never crash gradcli.

Every run must end in exit 0 (it worked), 2 (a clear user error) or 3 (a
numeric fault under --check-finite): never 70 (an internal bug), never a
Python traceback, never an exception escaping click, and never with runaway
work (a memory cap and a graph-node budget per run; no wall-clock limits,
hypothesis's deadline included).

GRADCLI_FUZZ_EXAMPLES raises the number of examples per property for a
longer local hunt (the default keeps the file well under a minute).
"""

from __future__ import annotations

import os
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st
from workbound import MiB, assert_bounded, measured

from gradcli.cli.group import cli
from gradcli.language.functions import CATALOGUE

# Hypothesis caches (unicode tables, constants) go to a temporary folder,
# not into the checkout as .hypothesis/.
configuration.set_hypothesis_home_dir(tempfile.mkdtemp(prefix="gradcli-hypothesis-"))
EXAMPLES = int(os.environ.get("GRADCLI_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ALLOWED = {0, 2, 3}
# Work bounds of one run (workbound.py): the runs here build at most about
# 1100 graph nodes (a Hessian of SPEC) and need a few MiB; runaway work
# (a huge array, a graph blown up by repetition) goes far beyond both.
MEMORY = 128 * MiB
NODES = 20_000

SPEC = """\
inputs:
  x: [[1.0, 2.0], [3.0, 4.0]]
  v: {value: [0.5, -1.0]}
  n: {value: [1, 0], dtype: int64}
  r: {random: normal, shape: [2], seed: 3}
let:
  h: tanh(x @ v)
outputs:
  y: sum(h ** 2) + mean(r)
  z: softmax(x, axis=-1)
wrt: [x, v]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("fuzz")
    (base / "spec.yaml").write_text(SPEC)
    (base / "adir").mkdir()
    np.save(base / "a.npy", np.arange(4.0))
    old = os.getcwd()
    os.chdir(base)  # -e specs read @files relative to the working folder
    try:
        yield base
    finally:
        os.chdir(old)


def invoke(args: list[str]) -> tuple[int, str]:
    """Run the CLI in-process; fail on anything but a clean 0/2/3 ending."""
    with measured(MEMORY) as work:
        result = CliRunner().invoke(cli, args)
    err = result.stderr
    assert result.exit_code in ALLOWED, (args, result.exit_code, err, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, repr(result.exception))
    assert "Traceback" not in err and "internal error" not in err, (args, err)
    if result.exit_code == 2:
        assert err.startswith(("gradcli: error: ", "Usage:")), (args, err)
        assert result.stdout == "", (args, result.stdout)
    assert_bounded(work, args, NODES, err)
    return result.exit_code, err


# ---- expressions -------------------------------------------------------------------------

NAMES = ["x", "v", "n", "h", "pi", "e", "inf", "nan", "undefined", "__import__", "True", "None"]
NUMBERS = ["0", "1", "2", "-1", "0.5", "1e308", "1e-320", "3", "10**400", "2**70", "1e400",
           "99999999999999999999999"]
FUNCTIONS = sorted(CATALOGUE)
KEYWORDS = ["axis", "keepdims", "axes", "ord", "alpha", "mode", "approximate", "shape"]
JUNK = ["(", ")", "[", "]", ",", ":", ".", "**", "__class__", "lambda: 0", "'s'", "@",
        "x.__dict__", "[i for i in x]", "f'{x}'", "(y := 1)", "x if x else v", "\\", "\x00"]


def _call(parts: list[str], name: str, kwargs: list[tuple[str, str]]) -> str:
    args = parts + [f"{k}={v}" for k, v in kwargs]
    return f"{name}({', '.join(args)})"


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """A random expression from a small grammar of gradcli syntax."""
    leafy = depth >= 3 or draw(st.integers(0, 3)) == 0
    if leafy:
        return draw(st.sampled_from(NAMES + NUMBERS))
    kind = draw(st.integers(0, 6))
    inner = expressions(depth + 1)
    if kind == 0:
        op = draw(st.sampled_from(["+", "-", "*", "/", "**", "@", "<", ">", "==", "%", "//"]))
        return f"({draw(inner)} {op} {draw(inner)})"
    if kind == 1:
        return f"-{draw(inner)}"
    if kind in (2, 3):
        name = draw(st.sampled_from(FUNCTIONS))
        parts = draw(st.lists(inner, max_size=3))
        kwargs = draw(st.lists(st.tuples(st.sampled_from(KEYWORDS),
                                         st.sampled_from(["0", "-1", "1", "True", "(0, 1)",
                                                          "None", "'reflect'", "2"])),
                               max_size=2, unique_by=lambda kv: kv[0]))
        return _call(parts, name, kwargs)
    if kind == 4:
        index = draw(st.sampled_from(["0", "-1", "1:", "::-1", ":, 0", "..., None", "5",
                                      "0, 0, 0", "1.5", "x"]))
        return f"{draw(inner)}[{index}]"
    if kind == 5:
        return draw(st.sampled_from([f"{draw(inner)}.T", f"x.at[0].set({draw(inner)})",
                                     f"v.at[1].add({draw(inner)})", f"[{draw(inner)}, 1.0]",
                                     f"({draw(inner)}, v)"]))
    return f"grad({draw(inner)}, {draw(st.sampled_from(['x', 'v', 'x[0]', 'h', 'n', 'q']))})"


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A valid-looking expression with a few edits: junk inserted or text cut."""
    text = draw(expressions())
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(JUNK)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 3)):]
    return text


INLINE = ["--set", "x=[[1.0, 2.0], [3.0, 4.0]]", "--set", "v=[0.5, -1.0]",
          "--set", "n={value: [1, 0], dtype: int64}"]


@FUZZ
@given(expr=st.one_of(expressions(), near_valid()),
       command=st.sampled_from(["eval", "grad", "jvp", "jacobian"]),
       finite=st.booleans())
def test_random_expressions_never_crash(folder: Path, expr: str, command: str,
                                        finite: bool) -> None:
    args = [command, "-e", expr, *INLINE, "--format", "json"]
    if command == "jvp":
        args += ["--tangent", "v=[1.0, 0.0]"]
    if finite:
        args.append("--check-finite")
    invoke(args)


@FUZZ
@given(expr=expressions())
def test_random_expressions_in_a_spec_file(folder: Path, expr: str) -> None:
    spec = folder / "expr.yaml"
    spec.write_text(yaml.safe_dump({"inputs": {"x": [[1.0, 2.0], [3.0, 4.0]], "v": [0.5, -1.0],
                                               "n": {"value": [1, 0], "dtype": "int64"}},
                                    "let": {"h": "tanh(x @ v)"}, "outputs": {"y": expr}}))
    code, err = invoke(["grad", str(spec), "--wrt", "x", "--format", "json"])
    if code == 2:
        assert str(spec) in err or "--" in err or "expr.yaml" in err


# ---- YAML documents ----------------------------------------------------------------------

KEYS = ["name", "dtype", "inputs", "let", "models", "outputs", "wrt", "expect", "input",
        "value", "random", "file", "shape", "seed", "layers", "dense", "units", "init",
        "weights", "grad", "x", "y", "v", "rtol", "key", "low", "high", "activation", "__x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**12), st.floats(),
                    st.integers(-(10**30), 10**30),
                    st.sampled_from(["x", "y", "sin(x)", "x @ v", "float64", "int64",
                                     "uniform", "a.npy", "adir", "nope.npz", "dense",
                                     "relu", "[1, 2", "zeros((10**6, 10**6))", ""]),
                    st.text(alphabet=string.printable + "é€\u2028\x85", max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=25)


@st.composite
def spec_like(draw: st.DrawFn) -> dict:
    """Documents with the spec's shape, filled with random parts."""
    doc = {"inputs": draw(st.dictionaries(st.sampled_from(["x", "v", "n"]), documents,
                                          max_size=3)),
           "outputs": draw(st.dictionaries(st.sampled_from(["y", "z"]),
                                           st.one_of(expressions(), documents),
                                           min_size=1, max_size=2))}
    for key in draw(st.lists(st.sampled_from(KEYS[:8]), max_size=3)):
        doc[key] = draw(documents)
    return doc


def _write(folder: Path, text: str) -> str:
    path = folder / "doc.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return str(path)


@FUZZ
@given(doc=st.one_of(documents, spec_like()),
       command=st.sampled_from(["eval", "grad", "hessian"]))
def test_random_yaml_documents_never_crash(folder: Path, doc: object, command: str) -> None:
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return
    invoke([command, _write(folder, text), "--format", "json"])


@FUZZ
@given(cut=st.integers(0, len(SPEC)), junk=st.sampled_from(
    ["", ":", "- ", "  ", "\t", "&a ", "*a", "!!python/object:os.system ", "{", "]", "'",
     "\n  bogus: 1\n", "<<: *a\n", "%YAML 1.1\n", "\ufeff", "? "]),
       drop=st.integers(0, 5))
def test_mangled_spec_text_never_crashes(folder: Path, cut: int, junk: str, drop: int) -> None:
    text = SPEC[:cut] + junk + SPEC[cut + drop:]
    invoke(["grad", _write(folder, text), "--format", "json"])


# ---- command lines -----------------------------------------------------------------------

OPTION_VALUES = {
    "--set": ["x=1.0", "x=[1.0, 2.0]", "v=[[1.0]]", "x=@a.npy", "x=@adir", "x=@missing.npy",
              "x={value: 1, dtype: int64}", "x={random: normal, shape: [3]}", "=1", "x",
              "x=[1, [2]]", "x=.nan", "x=1e999", "x={shape: [10**12]}", "n=[1.5, 0.0]",
              "q=1.0", "x=!!python/object/apply:os.system [ls]"],
    "--wrt": ["x", "v", "x[0]", "x[:, 1]", "h", "n", "y", "q", "x[9]", "x[", "x[0,0,0]",
              "x.T", "__class__"],
    "--output": ["y", "z", "h", "x", "q"],
    "--format": ["text", "json", "yaml", "csv", "npz", "xml"],
    "--dtype": ["float32", "float64", "float16"],
    "--order": ["1", "2", "3", "0", "-1", "x", "99999999999999999999"],
    "--cotangent": ["y=1.0", "z=[[1.0, 0.0], [0.0, 1.0]]", "y=[1.0]", "q=1.0", "y", "z=1.0"],
    "--tangent": ["x=1.0", "v=[1.0, 0.0]", "v=[1.0]", "n=1", "q=1", "x"],
    "--max-elements": ["1", "3", "100", "0", "-5", "50000000", "10000000000000000000000"],
    "--precision": ["1", "17", "0", "99"],
    "--unconnected": ["none", "zero", "error", "maybe"],
    "--mode": ["auto", "rev", "fwd", "sideways"],
    "--batch-axis": ["0", "1"],
    "--chunk-size": ["1", "2", "0"],
    "--max-memory": ["1", "1K", "2G", "lots", "-1", "1e3"],
    "-o": ["out.json", "adir", "missing/out.json", ""],
    "-e": ["sin(x)", "sum(x", "x @ v", "__import__('os')"],
}
FLAGS = ["--check-finite", "--debug-nothing", "-h"]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["eval", "grad", "jacobian", "hessian", "jvp", "frobnicate"]))
    args = [command]
    target = draw(st.sampled_from(["spec.yaml", "missing.yaml", "adir", "a.npy", None]))
    if target is not None:
        args.append(target)
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 5)) == 0:
            args.append(draw(st.sampled_from(FLAGS)))
            continue
        option = draw(st.sampled_from(sorted(OPTION_VALUES)))
        args += [option, draw(st.sampled_from(OPTION_VALUES[option]))]
    return args


@FUZZ
@given(args=command_lines())
def test_random_command_lines_never_crash(folder: Path, args: list[str]) -> None:
    invoke(args)
    out = folder / "out.json"
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    if out.exists():
        out.unlink()


def test_the_grammar_reaches_success_and_failure(folder: Path) -> None:
    """The strategies are not vacuous: both outcomes occur on fixed samples."""
    assert invoke(["eval", "-e", "sum(tanh(x @ v))", *INLINE])[0] == 0
    assert invoke(["eval", "-e", "sum(tanh(x @ ", *INLINE])[0] == 2
    assert invoke(["eval", "-e", "log(v)", *INLINE, "--check-finite"])[0] == 3
