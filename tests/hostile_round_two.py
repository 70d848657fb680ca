"""Issue 18's cases for test_hostile.py's table (paths, integers, messages):
each is refused with one located line, exit 2, nothing on stdout and no
FIFO opened.  The table's fixture creates `fifo` for a case whose name says
FIFO; the files below are created for every case."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


FILES: dict[str, Callable[[], bytes | str | None]] = {
    "u64.npy": lambda: _npy(np.array([1, 2**64 - 1], dtype=np.uint64)),
    "halves.npy": lambda: _npy(np.array([1.0, 1.5])),
}

SUM_OF = "inputs:\n  x: {file: %s}\noutputs:\n  y: sum(x)\n"
X = "inputs:\n  x: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]\noutputs:\n  y: %s\n"
SPEC = "inputs:\n  x: [1.0]\noutputs:\n  y: sum(x)\n"
DIGITS = "1" * 5000

# (spec text or None, extra arguments, fragments of the message)
TABLE = {
    # paths: only regular files are read, and none is opened otherwise
    "a FIFO as the spec (would block)": (None, ["fifo"], ["spec file fifo is a FIFO"]),
    "/dev/zero as the spec (never ends)": (None, ["/dev/zero"],
                                           ["spec file /dev/zero is a character device"]),
    "/dev/zero as a data file": (SUM_OF % "/dev/zero", [],
                                 ["spec.yaml:2:6: ", "/dev/zero is a character device"]),
    "a FIFO as weights": ("inputs:\n  x: [[1.0]]\nmodels:\n  net: {layers: [{dense: 1}], "
                          "weights: fifo}\noutputs:\n  y: sum(net(x))\n", [],
                          ["weights file fifo is a FIFO"]),
    "a FIFO through --set @": (None, ["-e", "sum(x)", "--set", "x=@fifo"],
                               ["--set", "fifo is a FIFO"]),
    "a NUL byte in a file: path": (SUM_OF % '"a\\0b.npy"', [],
                                   ["spec.yaml:2:6: ", "contains a NUL byte"]),
    # outputs: a regular file or a new name, checked before any work
    "-o onto a FIFO": (SPEC, ["-o", "fifo"], ["--out", "it is a FIFO"]),
    "-o onto a folder": (SPEC, ["-o", "adir"], ["--out", "it is a folder"]),
    "-o /dev/stdout": (SPEC, ["-o", "/dev/stdout"], ["--out", "/dev/stdout", "-o -"]),
    "-o /proc/self/fd/1": (SPEC, ["-o", "/proc/self/fd/1"], ["--out", "/proc/self/fd/1"]),
    "-o into a missing folder": (SPEC, ["-o", "nodir/r.json"], ["nodir does not exist"]),
    "-o name of 256 bytes": (SPEC, ["-o", "a" * 256], ["256 bytes long"]),
    # integers: exact, or refused where written
    "a 5000-digit integer in YAML": (f"inputs:\n  x: {DIGITS}\noutputs:\n  y: x\n", [],
                                     ["spec.yaml:2:6: ", "5000 digits is too long"]),
    "a 5000-digit integer in an expression": (X % f"x + {DIGITS}", [],
                                              ["spec.yaml:4:10: ", "5000 digits is too long"]),
    "a 20000-bit hex literal": (X % f"x + 0x{'f' * 5000}", [],
                                ["spec.yaml:4:10: ", "20000 bits"]),
    "a 5000-digit integer in --set": (None, ["-e", "x", "--set", f"x={DIGITS}"],
                                      ["--set x", "4300"]),
    "--set nested 30,000 deep": (None, ["-e", "x", "--set", "x=" + "[" * 30000 + "1" +
                                        "]" * 30000], ["--set x", "nested more than 100"]),
    "diag(x, 10**19)": (X % "sum(diag(x[0], 10**19))", [], ["spec.yaml:4:", "diag"]),
    "an index beyond int64": (X % "x[9223372036854775808]", [], ["spec.yaml:4:", "int64"]),
    "a negative index beyond int64": (X % "x[-9223372036854775809]", [], ["int64"]),
    "uint64 beyond int64 (not -1)": (SUM_OF % "u64.npy", [],
                                     ["u64.npy holds 18446744073709551615", "int64"]),
    "a float file as int32 (not truncated)": (
        "inputs:\n  x: {file: halves.npy, dtype: int32}\noutputs:\n  y: sum(x)\n", [],
        ["halves.npy holds 1.5 at [1]"]),
    "einsum('ii') of a non-square array": (X % "einsum('ii', x)", [],
                                           ["letter 'i' has size 2 and 3"]),
    "a repeated keyword": (X % "sum(x, axis=0, axis=1)", [],
                           ["spec.yaml:4:21: ", "keyword argument 'axis' is repeated"]),
    # messages: where, in characters, in one line
    "a NUL byte on line 4": ("inputs:\n  x: [1.0]\noutputs:\n  y: sum(x)\x00\n", [],
                             ["spec.yaml:4:12: ", "U+0000"]),
    "a column after non-ASCII text": (X % "\"'ééé' + foo(x)\"", [],
                                      ["spec.yaml:4:15: ", "unknown function 'foo'"]),
    "an alias names its use": ("description: &A \"1.0 + foo(1.0)\"\noutputs:\n  y: *A\n",
                               [], ["spec.yaml:3:6 (alias *A, defined at 1:24): "]),
    "expect: rtol: -1": (SPEC + "expect:\n  rtol: -1\n", [],
                         ["spec.yaml:6:9: ", "rtol must be 0 or more"]),
    "expect: atol: .nan": (SPEC + "expect:\n  atol: .nan\n", [],
                           ["spec.yaml:6:9: ", "atol must be a finite number"]),
}
