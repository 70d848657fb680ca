"""Issue 18: paths are checked, not trusted; signals end gradcli with one
line and the conventional code; nothing that was not asked for is touched.

Special files (FIFOs, sockets, device nodes) are made in temporary folders;
a device node needs root (mknod), and its tests are skipped without it.
No test here ever points gradcli at the machine's own /dev/null for
writing: if the check regressed, that would replace it.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_hostile import main, refused
from workbound import MiB, assert_bounded, measured

from gradcli.cli.completion import read_names
from gradcli.cli.group import cli

ROOT = Path(__file__).parent.parent
HANG = 300  # seconds: a guard against a hung subprocess, not a speed limit
SPEC = "inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: sum(x * x)\n"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
POSIX = os.name == "posix"


def _device(path: Path) -> bool:
    """A character device node like /dev/null at `path` (root only)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError):
        return False
    return True


def _socket(path: Path) -> socket.socket | None:
    if not hasattr(socket, "AF_UNIX") or len(str(path)) > 100:
        return None
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return server


def _identity(path: Path) -> tuple[int, int, int, int]:
    info = os.lstat(path)
    return info.st_mode, info.st_ino, info.st_size, info.st_mtime_ns


@pytest.fixture()
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "s.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    return str(tmp_path / "s.yaml")


# ---- outputs ----------------------------------------------------------------------

@pytest.mark.skipif(not POSIX, reason="special files")
def test_no_output_target_other_than_a_regular_file_is_touched(spec: str,
                                                                tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    server = _socket(tmp_path / "sock")
    kinds = {"fifo": "a FIFO", "folder": "a folder"}
    if server is not None:
        kinds["sock"] = "a socket"
    if _device(tmp_path / "dev"):
        kinds["dev"] = "a character device"
    for name in list(kinds):
        (tmp_path / f"link-{name}").symlink_to(tmp_path / name)
        kinds[f"link-{name}"] = kinds[name]
    before = {p.name: _identity(p) for p in tmp_path.iterdir()}
    for name, kind in kinds.items():
        refused(["eval", spec, "-o", name], f"--out {name}: it is {kind}")
        refused(["check", spec, "--junit", name], f"--junit {name}: it is {kind}")
    assert {p.name: _identity(p) for p in tmp_path.iterdir()} == before
    if server is not None:
        server.close()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_dash_is_stdout_and_stdout_is_not_a_file(spec: str, tmp_path: Path) -> None:
    code, out, err = run("eval", spec, "-o", "-", "--format", "json")
    assert code == 0 and out.startswith('{"command": "eval"'), err
    for path in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/2"):
        refused(["eval", spec, "-o", path], path)
    (tmp_path / "out-link").symlink_to("/dev/stdout")
    refused(["eval", spec, "-o", "out-link"], "it leads to /dev/stdout")
    refused(["check", spec, "--junit", "-"], "give --junit a file name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-link", "s.yaml"]


@pytest.mark.skipif(not POSIX, reason="a shell's redirection")
def test_o_dev_stdout_keeps_what_others_wrote(spec: str, tmp_path: Path) -> None:
    """`{ echo header; gradcli ... -o /dev/stdout; echo footer; } > log.txt`."""
    script = (f"{{ echo header; {sys.executable} -m gradcli eval s.yaml -o /dev/stdout; "
              "echo footer; } > log.txt")
    done = subprocess.run(["sh", "-c", script], cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, timeout=HANG)
    assert (tmp_path / "log.txt").read_text() == "header\nfooter\n"
    assert done.stderr.startswith("gradcli: error: --out: cannot write --out /dev/stdout")
    # and -o onto the very file stdout is redirected to
    with open(tmp_path / "log.txt", "w") as log:
        done = subprocess.run([sys.executable, "-m", "gradcli", "eval", "s.yaml", "-o",
                               "log.txt"], cwd=tmp_path, env=ENV, stdout=log,
                              stderr=subprocess.PIPE, text=True, timeout=HANG)
    assert done.returncode == 2 and "this process's standard output" in done.stderr


def test_output_folders_and_names_are_checked_before_the_work(spec: str,
                                                              tmp_path: Path) -> None:
    """Refused before the spec is even read: a spec that would fail says nothing."""
    (tmp_path / "bad.yaml").write_text("outputs:\n  y: sum(\n")
    refused(["eval", "bad.yaml", "-o", "nodir/r.json"], "nodir does not exist")
    refused(["check", "bad.yaml", "--junit", "nodir/r.xml"],
            "--junit: cannot write --junit nodir/r.xml", "nodir does not exist")
    refused(["eval", "bad.yaml", "-o", "s.yaml/r.json"], "is not a folder")
    refused(["eval", "bad.yaml", "-o", "r" * 256], "256 bytes long")


def test_an_error_is_one_line_whatever_it_quotes(spec: str) -> None:
    refused(["eval", "new\nline.yaml"], "spec file not found: new\\nline.yaml")
    refused(["eval", spec, "-o", "new\nline/r.json"], "folder", "new\\nline does not exist")
    code, out, err = main()  # plain `gradcli`: click's help, on stderr
    assert code == 2 and out == "" and err.startswith("Usage: gradcli")


def test_a_250_character_name_is_written(spec: str, tmp_path: Path) -> None:
    """The temporary file's name is shortened to fit NAME_MAX, not the result's."""
    name = "r" * 246 + ".json"
    code, _, err = run("eval", spec, "-o", name, "--format", "json")
    assert code == 0, err
    assert (tmp_path / name).read_text().startswith('{"command": "eval"')
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "s.yaml"])


def test_an_error_comes_before_any_note(tmp_path: Path) -> None:
    """A note (b is unconnected) would precede the --check-finite error."""
    code, out, err = main("grad", "-e", "sqrt(a) + stop_gradient(b)", "--set", "a=0.0",
                          "--set", "b=1.0", "--wrt", "a", "--wrt", "b", "--check-finite")
    assert code == 3 and out == ""
    assert err.startswith("gradcli: error: ") and err.count("\n") == 1, err
    code, out, err = run("grad", "-e", "a + stop_gradient(b)", "--set", "a=0.0",
                          "--set", "b=1.0", "--wrt", "b")
    assert code == 0 and "gradcli: note:" in err  # on success the notes are there


# ---- inputs -----------------------------------------------------------------------

@pytest.mark.skipif(not POSIX, reason="special files")
def test_no_input_other_than_a_regular_file_is_opened(spec: str, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    np.save(tmp_path / "ok.npy", np.ones(2))
    server = _socket(tmp_path / "sock")
    kinds = {"fifo": "a FIFO", "/dev/zero": "a character device", ".": "a folder"}
    if server is not None:
        kinds["sock"] = "a socket"
    (tmp_path / "link").symlink_to(tmp_path / "fifo")
    kinds["link"] = "a FIFO"
    for name, kind in kinds.items():
        if name != ".":  # (click itself refuses a folder as SPEC)
            refused(["eval", name], f"spec file {name} is {kind}")
        (tmp_path / "d.yaml").write_text(f"inputs:\n  x: {{file: '{name}'}}\n"
                                         "outputs:\n  y: sum(x)\n")
        refused(["eval", "d.yaml"], "d.yaml:2:6: ", f"{name} is {kind}")
        refused(["eval", "-e", "sum(x)", "--set", f"x=@{name}"], f"{name} is {kind}")
        (tmp_path / "w.yaml").write_text(
            f"inputs:\n  x: [[1.0]]\nmodels:\n  net: {{layers: [{{dense: 1}}], weights: "
            f"'{name}'}}\noutputs:\n  y: sum(net(x))\n")
        refused(["eval", "w.yaml"], f"weights file {name} is {kind}")
    if server is not None:
        server.close()


@pytest.mark.skipif(not POSIX, reason="FIFOs")
def test_completion_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with measured(16 * MiB) as work:
        names = read_names(str(tmp_path / "fifo"))
    assert_bounded(work, "completion", 0)
    assert names.inputs == {}


def test_a_spec_beyond_16_mib_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:  # sparse: 17 MiB of nothing on disk
        handle.truncate(17 << 20)
    refused(["eval", str(big)], "is 17.0 MiB, more than the limit of 16.0 MiB")


def test_a_30000_member_npz_is_named_in_one_short_line(tmp_path: Path) -> None:
    np.savez(tmp_path / "many.npz", **{f"m{i:05d}": np.zeros(1) for i in range(30000)})
    (tmp_path / "k.yaml").write_text("inputs:\n  x: {file: many.npz, key: nope}\n"
                                     "outputs:\n  y: sum(x)\n")
    err = refused(["eval", str(tmp_path / "k.yaml")], "… and 29,990 more")
    assert len(err) < 400, len(err)


def test_check_tolerances_are_validated_like_the_spec_s(spec: str) -> None:
    for option, value, reason in (("--rtol", "nan", "finite"), ("--atol", "-1", "0 or more"),
                                  ("--rtol", "inf", "finite")):
        refused(["check", spec, option, value], option, reason)
    result = CliRunner().invoke(cli, ["check", spec, "--rtol", "1e-6", "--method", "expect"])
    assert result.exit_code == 0, result.output


# ---- signals ----------------------------------------------------------------------

def _paused(point: str, args: list[str], cwd: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-m", "gradcli", *args], cwd=cwd, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**ENV, "GRADCLI_TEST_PAUSE": point})
    assert child.stderr is not None
    line = child.stderr.readline()  # the child is at `point` once it said so
    assert line == f"gradcli: test pause at {point}\n", line
    return child


@pytest.mark.skipif(not POSIX, reason="POSIX signals")
@pytest.mark.parametrize("point", ["imports", "compute", "write"])
@pytest.mark.parametrize("signum,code,line", [(signal.SIGINT, 130, "gradcli: interrupted"),
                                              (signal.SIGTERM, 143, "gradcli: terminated")])
def test_a_signal_ends_gradcli_with_one_line_and_no_partial_file(
        tmp_path: Path, point: str, signum: int, code: int, line: str) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "r.json").write_text("previous\n")
    child = _paused(point, ["eval", "s.yaml", "-o", "r.json", "--format", "json"], tmp_path)
    child.send_signal(signum)
    out, err = child.communicate(timeout=HANG)
    assert child.returncode == code, err
    assert (out, err) == ("", line + "\n")
    assert (tmp_path / "r.json").read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "s.yaml"]


def test_the_entry_point_imports_nothing_heavy_before_its_handlers() -> None:
    code = ("import sys, gradcli.cli.entry\n"
            "print(sorted(m for m in ('click', 'numpy', 'yaml', 'gradcli.errors') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=HANG)
    assert done.stdout.strip() == "[]", done.stderr
