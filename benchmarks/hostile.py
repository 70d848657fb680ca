"""Every hostile case as a real process: wall time and peak memory (max RSS),
slowest first.  Issue 18 asks each to end within 10 s and 1 GB.

    python -m benchmarks.hostile            # the issue's reproductions
    python -m benchmarks.hostile --table    # and every case of tests/test_hostile.py

Times are one run's: CPU seconds (user + system, what the case costs) and
wall seconds (which also count whatever else the machine is doing); they
say how far a case is from its budget, not how fast gradcli is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parent.parent
SPEC = "inputs:\n  x: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]\noutputs:\n  y: %s\n"
TIMEOUT = 60


def _files(folder: Path) -> None:
    (folder / "s.yaml").write_text("inputs:\n  x: [1.0, 2.0]\noutputs:\n  y: sum(x)\n")
    np.save(folder / "u64.npy", np.array([2**64 - 1], dtype=np.uint64))
    np.savez(folder / "many.npz", **{f"m{i:05d}": np.zeros(1) for i in range(30000)})
    os.mkfifo(folder / "fifo")
    try:
        os.mknod(folder / "dev", 0o666 | 0o020000, os.makedev(1, 3))
    except OSError:
        (folder / "dev").write_text("")  # not root: a plain file stands in
    (folder / "nul.yaml").write_text('inputs:\n  x: {file: "a\\0b.npy"}\noutputs:\n  y: x\n')
    (folder / "digits.yaml").write_text(f"inputs:\n  x: {'1' * 5000}\noutputs:\n  y: x\n")
    (folder / "line4.yaml").write_text("inputs:\n  x: [1.0]\noutputs:\n  y: sum(x)\x00\n")
    (folder / "alias.yaml").write_text("description: &A \"foo(1.0)\"\noutputs:\n  y: *A\n")
    (folder / "key.yaml").write_text("inputs:\n  x: {file: many.npz, key: nope}\n"
                                     "outputs:\n  y: x\n")
    (folder / "rtol.yaml").write_text("inputs:\n  x: 1.0\noutputs:\n  y: x\n"
                                      "expect:\n  rtol: -1\n")
    for name, expr in (("einsum", "einsum('ii', x)"), ("kw", "sum(x, axis=0, axis=1)"),
                       ("diag", "diag(x[0], 10**19)"), ("index", "x[9223372036854775808]"),
                       ("accent", "\"'ééé' + foo(x)\"")):
        (folder / f"{name}.yaml").write_text(SPEC % expr)
    chain = [f"  a{n}: sin(a{n - 1}) * cos(a{n - 1}) + a{n - 1}" for n in range(2, 12)]
    (folder / "chain.yaml").write_text("inputs:\n  x: 0.7\nlet:\n  a1: sin(x)*cos(x)+x\n"
                                       + "\n".join(chain) + "\noutputs:\n  f: a11\n")
    (folder / "big.yaml").write_text("inputs:\n  x: {random: uniform, shape: [10000], seed: 0}"
                                     "\noutputs:\n  y: sum(sin(x))\n")
    (folder / "orders.yaml").write_text("inputs:\n  x: 1.0\noutputs:\n  y: x**2\n"
                                        "expect:\n  orders: {100000: {x: 0}}\n")
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (536870912,), }"
    header += b" " * (118 - len(header)) + b"\n"
    (folder / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                      + header)
    with open(folder / "v3.npy", "wb") as handle:
        np.lib.format.write_array(handle, np.array([1.0, 2.5]), version=(3, 0))
    lines = "".join(f"  x{i}: {i * 0.5 + 0.25}\n" for i in range(200_000))
    (folder / "many.yaml").write_text(f"inputs:\n{lines}outputs:\n  y: x0 + x199999\n")


REPRODUCTIONS: dict[str, list[str]] = {
    "-o onto a device node": ["eval", "s.yaml", "-o", "dev"],
    "-o /dev/stdout": ["eval", "s.yaml", "-o", "/dev/stdout"],
    "uint64 2**64-1": ["eval", "-e", "x", "--set", "x=@u64.npy"],
    "einsum('ii') non-square": ["eval", "einsum.yaml"],
    "repeated keyword": ["eval", "kw.yaml"],
    "FIFO as the spec (eval)": ["eval", "fifo"],
    "FIFO as the spec (check)": ["check", "fifo"],
    "eval /dev/zero": ["eval", "/dev/zero"],
    "NUL byte in a file: path": ["eval", "nul.yaml"],
    "5000-digit integer": ["eval", "digits.yaml"],
    "diag(x, 10**19)": ["eval", "diag.yaml"],
    "x[9223372036854775808]": ["eval", "index.yaml"],
    "--set 30,000 nested brackets": ["eval", "-e", "x", "--set",
                                     "x=" + "[" * 30000 + "1" + "]" * 30000],
    "NUL byte on line 4": ["eval", "line4.yaml"],
    "column after non-ASCII": ["eval", "accent.yaml"],
    "alias error": ["eval", "alias.yaml"],
    "unknown key in a 30,000-member .npz": ["eval", "key.yaml"],
    "missing -o folder": ["eval", "s.yaml", "-o", "nodir/r.json"],
    "250-character -o name": ["eval", "s.yaml", "-o", "r" * 250],
    "check --junit nodir/r.xml": ["check", "s.yaml", "--junit", "nodir/r.xml"],
    "expect: rtol: -1": ["check", "rtol.yaml"],
    "200,000 scalar inputs (eval)": ["eval", "many.yaml"],
    "11-line let chain (check)": ["check", "chain.yaml"],
    "11-line let chain (symbolic)": ["symbolic", "chain.yaml"],
    "10,000-element input (check)": ["check", "big.yaml"],
    "expect: orders: {100000: ...}": ["check", "orders.yaml"],
    "grad --order 1000000000": ["grad", "-e", "sum(x ** 2)", "--set", "x=1.0", "--order",
                                "1000000000"],
    "graph --grad --order 1000": ["graph", "-e", "sum(x ** 2)", "--set", "x=1.0", "--grad",
                                  "--order", "1000"],
    "pad(x, 10**6, mode='reflect')": ["eval", "-e", "sum(pad(x, 10**6, mode='reflect'))",
                                      "--set", "x=[1.0, 2.0, 3.0]"],
    "--set alias bomb": ["eval", "-e", "sum(x)", "--set", "x=[&a [1,1,1,1,1,1,1,1,1], " + ", ".join(
        f"&{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcde", "bcdef")) + "]"],
    ".npy header declaring 4 GiB": ["eval", "-e", "sum(x)", "--set", "x=@huge.npy",
                                    "--max-elements", str(10**9)],
    ".npy format 3.0": ["eval", "-e", "sum(x)", "--set", "x=@v3.npy"],
}


def _table_cases(folder: Path) -> dict[str, list[str]]:
    sys.path.insert(0, str(ROOT / "tests"))
    import test_hostile  # the table and its files

    for name, make in test_hostile.FILES.items():
        content = make()
        if content is None:
            (folder / name).mkdir(exist_ok=True)
        else:
            (folder / name).write_bytes(content if isinstance(content, bytes)
                                        else content.encode())
    cases = {}
    for number, (case, (text, extra, _)) in enumerate(sorted(test_hostile.TABLE.items())):
        args = ["grad"]
        if text is not None:
            (folder / f"case{number}.yaml").write_text(text)
            args.append(f"case{number}.yaml")
        cases[f"table: {case}"] = args + extra
    return cases


def measure(args: list[str], folder: Path) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, peak RSS in bytes, exit code) of one run."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "gradcli", *args], cwd=folder,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = start + TIMEOUT
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.005)
    child.returncode = os.waitstatus_to_exitcode(status)
    return (time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss * 1024, child.returncode)


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="gradcli-hostile-") as name:
        folder = Path(name)
        _files(folder)
        cases = dict(REPRODUCTIONS)
        if "--table" in argv:
            cases.update(_table_cases(folder))
        rows = []
        for case, args in cases.items():
            wall, cpu, rss, code = measure(args, folder)
            rows.append((cpu, wall, rss, code, case))
    print(f"{'CPU s':>6} {'wall s':>7} {'max RSS':>9} exit  case   (slowest CPU first)")
    for cpu, wall, rss, code, case in sorted(rows, reverse=True):
        print(f"{cpu:6.2f} {wall:7.2f} {rss / 2**20:5.0f} MiB {code:4d}  {case}")


if __name__ == "__main__":
    main(sys.argv[1:])
