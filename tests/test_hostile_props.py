"""Issue 18's property tests: paths of every file type in every role, and
numeric extremes in every place a number is written, never crash gradcli,
never open a FIFO, never touch a file that was not asked for, and refuse
with exit 2 and one line.

GRADCLI_HOSTILE_EXAMPLES sets the examples per property (default 2000,
which CI runs: about a minute for both on two cores).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st
from workbound import MiB, assert_bounded, measured

from gradcli.cli.group import main

configuration.set_hypothesis_home_dir(tempfile.mkdtemp(prefix="gradcli-hypothesis-"))
EXAMPLES = int(os.environ.get("GRADCLI_HOSTILE_EXAMPLES", "2000"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
MEMORY = 256 * MiB
NODES = 5000
POSIX = os.name == "posix"


def invoke(args: list[str]) -> tuple[int, str]:
    """The command line in-process (stdout has a byte buffer, as a terminal's)."""
    raw, err = io.BytesIO(), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
    return code, err.getvalue()


def well_refused(code: int, err: str, allowed: set[int], what: object) -> None:
    assert code in allowed, (what, code, err)
    assert "Traceback" not in err and "internal error" not in err, (what, err)
    if code == 2:
        assert err.startswith("gradcli: error: ") and err.count("\n") == 1, (what, err)


# ---- paths of every file type ----------------------------------------------------

SPEC = "inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: sum(x * x)\n"
# name in the zoo -> may a command write there (-o, --junit)?
WRITABLE = {"spec.yaml": True, "data.npy": True, "new.json": True, "dangling": True,
            "folder": False, "fifo": False, "sock": False, "dev": False,
            "spec.yaml/below": False, "missing/new.json": False, "-": True}
INPUT_ONLY = ["/dev/zero", "/dev/null", "/dev/urandom"]  # never offered as outputs
ODD = ["a\0b", "n" * 300, ""]


@pytest.fixture(scope="module")
def zoo() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gradcli-zoo-") as name:
        root = Path(name)
        (root / "spec.yaml").write_text(SPEC)
        np.save(root / "data.npy", np.ones(2))
        (root / "folder").mkdir()
        (root / "sub").mkdir()
        (root / "dangling").symlink_to(root / "nowhere.json")
        server = None
        if POSIX:
            os.mkfifo(root / "fifo")
            with contextlib.suppress(OSError):
                server = socket.socket(socket.AF_UNIX)
                server.bind(str(root / "sock"))
            with contextlib.suppress(OSError, AttributeError):
                os.mknod(root / "dev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        for kind in list(WRITABLE):
            if (root / kind).exists() or (root / kind).is_symlink():
                (root / f"ln-{kind}").symlink_to(root / kind)
        yield root
        if server is not None:
            server.close()


def _snapshot(root: Path) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for path in root.iterdir():
        info = os.lstat(path)
        out[path.name] = (info.st_mode, info.st_ino, info.st_size, info.st_mtime_ns)
    return out


def _variants(root: Path) -> list[tuple[str, bool]]:
    """(path as the user writes it, may it be written) for every zoo entry."""
    out = []
    for kind, writable in WRITABLE.items():
        if kind in ("fifo", "sock", "dev") and not (root / kind).exists():
            continue  # no such special file on this machine
        out.append((kind, writable))
        if (root / f"ln-{kind}").is_symlink():
            out.append((f"ln-{kind}", writable))
        if "/" not in kind and kind != "-":
            out.append((f"sub/../{kind}", writable))
    return out + [(p, False) for p in ODD]


def _restore(root: Path, names: set[str]) -> None:
    """Put back what a successful write replaced or made, for the next example."""
    (root / "spec.yaml").write_text(SPEC)
    np.save(root / "data.npy", np.ones(2))
    for name in set(os.listdir(root)) - names:
        (root / name).unlink()


# Decorations of a zoo path (the same file by another spelling) and new names
# (anything a user could type, non-ASCII and overlong included): the space of
# paths is not finite, so every example is a new one.
PREFIXES = ("", "./", ".//", "sub/../", "sub/./../", "{root}/")
NEW_NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
                    min_size=1, max_size=90).filter(lambda t: t not in (".", "..", "-"))


def _special(path: Path) -> bool:
    """Is there something other than a regular file at `path`?"""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _valid_tolerance(n: object) -> bool:
    try:
        number = float(n)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return False
    return 0 <= number < float("inf")


ROLES = ("spec", "data", "set", "weights", "out", "junit")


@pytest.mark.skipif(not POSIX, reason="special files")
def test_paths_of_every_type_in_every_role(zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(zoo)
    variants = _variants(zoo)
    reads = variants + [(p, False) for p in INPUT_ONLY]  # never offered to -o or --junit
    names = set(os.listdir(zoo)) | {"work.yaml"}

    def spelled(variant: tuple[str, bool]) -> st.SearchStrategy[tuple[str, bool]]:
        path, writable = variant
        if path.startswith("/") or path in ODD or path == "-":
            return st.just(variant)
        return st.sampled_from(PREFIXES).map(
            lambda prefix: (prefix.format(root=zoo) + path, writable))

    new = NEW_NAMES.map(lambda name: (name, len(name.encode()) <= 255))

    @PROPERTY
    @given(st.sampled_from(ROLES).flatmap(lambda role: st.tuples(st.just(role), st.one_of(
        st.sampled_from(variants if role in ("out", "junit") else reads).flatmap(spelled),
        new))))
    def check(case: tuple[str, tuple[str, bool]]) -> None:
        role, (path, writable) = case
        if role in ("spec", "data", "set", "weights") and path in ("-", "dangling"):
            return  # not files to read
        work_file = zoo / "work.yaml"
        if role == "data":
            work_file.write_text(f"inputs:\n  x: {{file: {json.dumps(path)}}}\n"
                                 "outputs:\n  y: sum(x)\n")
        elif role == "weights":
            work_file.write_text("inputs:\n  x: [[1.0]]\nmodels:\n  net: {layers: [{dense: 1}], "
                                 f"weights: {json.dumps(path)}}}\noutputs:\n  y: sum(net(x))\n")
        args = {"spec": ["eval", path], "data": ["eval", "work.yaml"],
                "weights": ["eval", "work.yaml"],
                "set": ["eval", "-e", "sum(x)", "--set", f"x=@{path}"],
                "out": ["eval", "spec.yaml", "-o", path, "--format", "json"],
                "junit": ["check", "spec.yaml", "--method", "expect", "--junit", path]}[role]
        before = _snapshot(zoo)
        with measured(MEMORY) as work:
            code, err = invoke(args)
        assert_bounded(work, args, NODES, err)
        writes = role in ("out", "junit")
        well_refused(code, err, {0, 2}, args)
        if writes and not writable:
            assert code == 2, (args, err)
        after = _snapshot(zoo)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        changed -= {"work.yaml"}
        if writes and code == 0 and path != "-":
            target = os.path.realpath(zoo / path)
            assert os.path.isfile(target), (args, "not a regular file after writing")
            changed -= {os.path.relpath(target, zoo)}
            _restore(zoo, names)
        assert not changed, (args, changed)
        assert not [n for n in os.listdir(zoo) if n.endswith(".tmp")], args
        if not writes and path and _special(zoo / path):
            assert code == 2 and "not a regular file" in err, (args, err)

    check()


# ---- numeric extremes ------------------------------------------------------------

EDGES = [0, -1, 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64]
NUMBERS = st.one_of(
    st.sampled_from(EDGES),
    st.integers(2**63, 2**600), st.integers(-(2**600), -(2**63) - 1),  # beyond int64
    st.integers(4301, 6000).map(lambda n: "7" * n),  # beyond Python's 4300 digits
    st.sampled_from(["nan", "inf", "-inf", "-1e-300", "1e400", "-0.0", "0x" + "f" * 300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
EXPRESSIONS = ["x[{n}]", "sum(x, axis={n})", "diag(x, {n})", "zeros(({n},))", "x + {n}",
               "x * {n}", "tile(x, {n})", "reshape(x, ({n},))", "x[:{n}]", "roll(x, {n})",
               "clip(x, {n}, 1.0)", "full((2,), {n})", "one_hot(i, {n})", "take(x, {n})",
               "x ** {n}", "pad(x, {n})", "linspace(0, 1, {n})", "arange({n})",
               "repeat(x, {n})", "split(x, {n})[0]", "x.at[{n}].set(1.0)", "eye(2, k={n})"]
INPUTS = ["{n}", "{{value: [{n}], dtype: int64}}", "{{value: {n}, dtype: int32}}",
          "{{random: normal, shape: [{n}]}}", "{{value: 1.0, shape: [{n}]}}",
          "{{random: integers, low: 0, high: {n}}}", "{{random: uniform, seed: {n}}}",
          "{{value: [{n}], dtype: bool}}"]
BASE = "inputs:\n  x: [1.0, 2.0]\n  i: {{value: [1, 0], dtype: int64}}\n"


def _yaml_number(n: object) -> str:
    if isinstance(n, float):
        return {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}.get(repr(n), repr(n))
    return {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}.get(str(n), str(n))


def _expr_number(n: object) -> str:
    text = repr(n) if isinstance(n, float) else str(n)
    return {"-inf": "-inf", "inf": "inf", "nan": "nan"}.get(text, text)


@given(data=st.data())
@PROPERTY
def test_numeric_extremes_in_every_place(data: st.DataObject, tmp_path_factory: pytest.
                                         TempPathFactory) -> None:
    n = data.draw(NUMBERS, "number")
    place = data.draw(st.sampled_from(["expr", "input", "expect", "cli"]), "place")
    folder = tmp_path_factory.getbasetemp()
    spec = folder / "numbers.yaml"
    if place == "expr":
        template = data.draw(st.sampled_from(EXPRESSIONS), "template")
        text = BASE.format() + f"outputs:\n  y: {json.dumps(template.format(n=_expr_number(n)))}\n"
        args = [data.draw(st.sampled_from(["eval", "grad"])), str(spec)]
    elif place == "input":
        template = data.draw(st.sampled_from(INPUTS), "template")
        text = f"inputs:\n  x: {template.format(n=_yaml_number(n))}\noutputs:\n  y: sum(x)\n"
        args = ["eval", str(spec)]
    elif place == "expect":
        key = data.draw(st.sampled_from(["rtol", "atol"]))
        text = BASE.format() + f"outputs:\n  y: sum(x)\nexpect:\n  {key}: {_yaml_number(n)}\n"
        args = ["check", str(spec), "--method", "expect"]
    else:
        text = BASE.format() + "outputs:\n  y: sum(x)\n"
        option = data.draw(st.sampled_from(["--rtol", "--atol", "--set", "--max-elements",
                                            "--precision"]))
        value = f"x=[{_yaml_number(n)}]" if option == "--set" else _expr_number(n)
        command = "check" if option in ("--rtol", "--atol") else "eval"
        args = [command, str(spec), option, value]
    spec.write_text(text)
    with measured(MEMORY) as work:
        code, err = invoke(args)
    assert_bounded(work, (args, text[-200:]), NODES, err)
    well_refused(code, err, {0, 2, 3}, (args, text[-200:]))
    bad_tolerance = place == "expect" or (place == "cli" and args[2] in ("--rtol", "--atol"))
    if bad_tolerance and not _valid_tolerance(n):
        assert code == 2, (args, text, err)
