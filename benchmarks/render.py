"""python -m benchmarks.render [--elements N] [--smoke] [--no-process]

How fast results are written (issue 15): one float64 gradient of N
elements (normal random numbers, 16-17 significant digits each, as real
gradients have) rendered by `gradcli.render.write` into a stream that only
counts bytes, per format; throughput in MB of output per second (best of a
few runs, wall time and this process's CPU time: on a busy machine the CPU
time shows what the code costs, the wall time what waiting adds), and the
peak memory the render allocates (tracemalloc) against the array's size.

Also measured, because they decided the design:
- the alternatives for spelling floats: `repr` per element (the previous
  json path), `json.dumps(arr.tolist())`, numpy's `astype(str)`, against
  spell.py's vectorised spelling;
- a 5M-element text result (the summary; target: under a second), and
  whole `gradcli` processes on a 5M-element gradient as a new user runs
  them (text to a pipe, json/npz/npy to a file), evaluate included.

Targets: >= 50 MB/s of JSON, memory O(chunk), text summary < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

import gradcli
from gradcli.render import Entry, Result, spell, write

FORMATS = ("json", "yaml", "csv", "npy", "npz", "text --full")
PROCESS_ELEMENTS = 5_000_000


class Sink:
    """A binary stream that counts what it is given (seekable enough for npz)."""

    def __init__(self) -> None:
        self.size = 0
        self.at = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        self.at += n
        self.size = max(self.size, self.at)
        return n

    def tell(self) -> int:
        return self.at

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at = offset if whence == 0 else (self.at + offset if whence == 1 else
                                              self.size + offset)
        return self.at

    def flush(self) -> None:
        pass

    def seekable(self) -> bool:
        return True


def gradient(elements: int) -> Result:
    value = np.random.default_rng(0).standard_normal(elements)
    return Result("grad", (Entry(("grad", "x"), "d(sum of y)/d(x)", value),),
                  {"order": 1, "dtype": "float64"}, ("grad: benchmark",), ("grad",))


def _timed(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of `repeats` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _peak(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def formats(elements: int, repeats: int) -> dict[str, dict[str, float]]:
    """Per format: output MB, wall and CPU seconds, MB/s, peak memory."""
    result = gradient(elements)
    out = {}
    for name in FORMATS:
        fmt, _, option = name.partition(" ")
        threshold = None if option == "--full" else 1000

        def call(fmt: str = fmt, threshold: int | None = threshold) -> Sink:
            sink = Sink()
            write(result, fmt, sink, threshold=threshold)
            return sink

        size = call().size
        wall, cpu = _timed(call, repeats)
        peak = _peak(call)
        out[name] = {"mb": size / 1e6, "wall": wall, "cpu": cpu, "mb_per_s": size / 1e6 / wall,
                     "mb_per_cpu_s": size / 1e6 / max(cpu, 1e-9),
                     "peak_mb": peak / 1e6, "array_mb": elements * 8 / 1e6}
    return out


def alternatives(elements: int) -> dict[str, float]:
    """MB/s of JSON-like text from each way of spelling float64 numbers."""
    x = np.random.default_rng(1).standard_normal(elements)
    ways: dict[str, Callable[[], bytes]] = {
        "repr per element, joined": lambda: ", ".join(map(repr, x.tolist())).encode(),
        "json.dumps(arr.tolist())": lambda: json.dumps(x.tolist()).encode(),
        "numpy astype(str), joined": lambda: ", ".join(x.astype(str).tolist()).encode(),
        "spell.py (numpy, this code)": lambda: spell.pack(spell.side_by_side(
            spell.spell(x), spell.constant(len(x), b", "))),
    }
    rates = {}
    for name, call in ways.items():
        size = len(call())
        wall, cpu = _timed(call, 3)
        rates[name] = size / 1e6 / cpu
    return rates


def text_summary(elements: int, repeats: int) -> float:
    """Seconds to render a text summary of an `elements`-element gradient."""
    result = gradient(elements)
    return _timed(lambda: write(result, "text", Sink()), repeats)[0]


def _phase(stderr: str, name: str) -> float:
    """Seconds of a `--timings` phase."""
    for line in stderr.splitlines():
        if line.startswith(f"gradcli: timings: {name}"):
            return float(line.split()[-2]) / 1e3
    return float("nan")


def processes(elements: int = PROCESS_ELEMENTS) -> dict[str, dict[str, float]]:
    """Whole `gradcli grad` processes on an `elements` gradient (d sum(x*x)/dx
    = 2x), as the issue measured them: wall seconds of the process and of
    its "render and write" phase (--timings), best of two."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(Path(gradcli.__file__).parent.parent)
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "x.npy", np.random.default_rng(2).standard_normal(elements))
        base = [sys.executable, "-m", "gradcli", "grad", "-e", "sum(x * x)", "--set",
                "x=@x.npy", "--timings"]
        runs = {"evaluate only (--format npy -o, the floor)": ["--format", "npy", "-o", "g.npy"],
                "text (summary) to a pipe": [], "text --full to a pipe": ["--full"],
                "json -o": ["--format", "json", "-o", "g.json"],
                "yaml -o": ["--format", "yaml", "-o", "g.yaml"],
                "csv -o": ["--format", "csv", "-o", "g.csv"],
                "npz -o": ["--format", "npz", "-o", "g.npz"]}
        out = {}
        for name, extra in runs.items():
            samples = []
            for _ in range(2):
                start = time.perf_counter()
                done = subprocess.run(base + extra, cwd=folder, env=env, check=True, text=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                samples.append((time.perf_counter() - start,
                                _phase(done.stderr, "render and write"),
                                _phase(done.stderr, "evaluate")))
            wall, render, evaluate = min(samples)
            out[name] = {"process": wall, "render": render, "evaluate": evaluate}
    return out


def measure(smoke: bool = False, elements: int | None = None,
            with_processes: bool = True) -> dict[str, object]:
    """Everything above; `smoke` is a quick run for CI (small sizes, once)."""
    gradcli.tune_allocator()  # as the CLI does at its entry point
    n = elements or (20_000 if smoke else 5_000_000)
    repeats = 1 if smoke else 3
    report: dict[str, object] = {"elements": n, "formats": formats(n, repeats),
                                 "alternatives_mb_per_cpu_s": alternatives(
                                     20_000 if smoke else 1_000_000),
                                 "text_summary_5M_seconds" if not smoke else
                                 "text_summary_seconds": text_summary(
                                     20_000 if smoke else 5_000_000, repeats)}
    if with_processes and not smoke:
        report["processes_5M_seconds"] = processes()
    return report


def lines(report: dict) -> list[str]:
    """The report as a table for the terminal."""
    out = [f"render: one float64 gradient of {report['elements']:,} elements",
           f"  {'format':14s} {'output':>9s} {'wall':>8s} {'MB/s':>7s} {'MB/s CPU':>9s} "
           f"{'peak memory':>12s}"]
    for name, row in report["formats"].items():
        out.append(f"  {name:14s} {row['mb']:7.1f}MB {row['wall']:7.2f}s {row['mb_per_s']:7.1f} "
                   f"{row['mb_per_cpu_s']:9.1f} {row['peak_mb']:7.1f} MB "
                   f"({row['peak_mb'] / row['array_mb']:.2f} x array)")
    out.append("  spelling float64 as JSON text, MB per CPU second:")
    for name, rate in report["alternatives_mb_per_cpu_s"].items():
        out.append(f"    {name:30s} {rate:7.1f}")
    for key in ("text_summary_5M_seconds", "text_summary_seconds"):
        if key in report:
            out.append(f"  text summary of the gradient: {report[key] * 1e3:.2f} ms")
    if "processes_5M_seconds" in report:
        out.append("  whole processes, `gradcli grad -e 'sum(x * x)' --set x=@x.npy` (5M):")
        out.append(f"    {'':45s} {'process':>8s} {'render+write':>13s} {'evaluate':>9s}")
        for name, row in report["processes_5M_seconds"].items():
            out.append(f"    {name:45s} {row['process']:7.2f}s {row['render']:12.2f}s "
                       f"{row['evaluate']:8.2f}s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=None)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-process", action="store_true")
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args()
    report = measure(args.smoke, args.elements, not args.no_process)
    print("\n".join(lines(report)))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
