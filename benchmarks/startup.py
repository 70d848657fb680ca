"""python -m benchmarks.startup [--rounds N] [--importtime] [--instructions]

Cold start of the whole CLI process against the floor every numpy program
pays (`python -c 'import numpy'`), with the targets of issue 12:

  gradcli --version                       <= import numpy + 40 ms
  gradcli grad <tiny spec> --format json  <= import numpy + 80 ms

The commands run interleaved, round after round, so a noisy neighbour
slows all of them alike; each is reported by its minimum and median wall
time and by its median CPU time (user + system of the child, which
contention inflates less than wall time).  --importtime adds the modules
that cost most in `python -X importtime` of the grad command.
--instructions counts the instructions of each process under valgrind
(callgrind): slow, but the same on a busy machine as on a quiet one.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = ("inputs:\n  a: [[1.0, 3.0], [2.0, 6.0]]\n  b: [[1.0], [2.0]]\n"
        "outputs:\n  y: matmul(sin(a), b)\n")
FLOOR = "python -c 'import numpy'"
TARGETS = {"gradcli --version": 0.040, "gradcli grad --format json": 0.080}
# As installed: bytecode is cached (a PYTHONDONTWRITEBYTECODE in the calling
# shell would make every run compile gradcli from source).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def commands(spec: Path) -> dict[str, list[str]]:
    gradcli = [sys.executable, "-m", "gradcli"]
    return {"python -c pass": [sys.executable, "-c", "pass"],
            FLOOR: [sys.executable, "-c", "import numpy"],
            "gradcli --version": [*gradcli, "--version"],
            "gradcli grad --format json": [*gradcli, "grad", str(spec), "--format", "json"]}


def _once(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(rounds: int = 15) -> dict[str, dict[str, float]]:
    """{command: {"min", "median", "cpu"}} in seconds."""
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "tiny.yaml"
        spec.write_text(TINY)
        argvs = commands(spec)
        for argv in argvs.values():  # warm the page cache, write the .pyc files
            _once(argv)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in argvs}
        for _ in range(rounds):
            for name, argv in argvs.items():
                samples[name].append(_once(argv))
    return {name: {"min": min(w for w, _ in runs),
                   "median": statistics.median(w for w, _ in runs),
                   "cpu": statistics.median(c for _, c in runs)}
            for name, runs in samples.items()}


def verdicts(figures: dict[str, dict[str, float]]) -> list[str]:
    """Each target, by minimum and by median wall time and by CPU time."""
    floor = figures[FLOOR]
    lines = []
    for name, extra in TARGETS.items():
        row = figures[name]
        parts = []
        for key in ("min", "median", "cpu"):
            over = row[key] - floor[key]
            mark = "met" if over <= extra else "MISSED"
            parts.append(f"{key} {over * 1e3:+.0f} ms {mark}")
        lines.append(f"{name} vs {FLOOR} (target +{extra * 1e3:.0f} ms): " + ", ".join(parts))
    return lines


def importtime(top: int = 15) -> list[str]:
    """The gradcli-side modules the grad command spends most on (self time)."""
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "tiny.yaml"
        spec.write_text(TINY)
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gradcli", "grad",
                               str(spec), "--format", "json"], capture_output=True, text=True,
                              env=ENV, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, total, name = line[len("import time:"):].split("|")
            rows.append((int(own), int(total), name.rstrip()))
    ours = sum(own for own, _, name in rows if name.strip().startswith("gradcli"))
    count = sum(1 for _, _, name in rows if name.strip().startswith("gradcli"))
    out = [f"{len(rows)} modules imported, {count} of them gradcli's "
           f"({ours / 1e3:.1f} ms self time); the {top} largest self times:"]
    out += [f"  {own / 1e3:7.2f} ms  {name.strip()}"
            for own, _, name in sorted(rows, reverse=True)[:top]]
    return out


def instructions() -> dict[str, int]:
    """{command: instructions executed} (valgrind's callgrind, if installed)."""
    found: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "tiny.yaml"
        spec.write_text(TINY)
        for name, argv in commands(spec).items():
            _once(argv)  # .pyc files written
            done = subprocess.run(["valgrind", "--tool=callgrind",
                                   "--callgrind-out-file=/dev/null", *argv],
                                  capture_output=True, text=True, check=True,
                                  env={**ENV, "PYTHONHASHSEED": "0"})  # same dict layouts
            counts = [line.split()[-1] for line in done.stderr.splitlines()
                      if "Collected" in line]
            found[name] = int(counts[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    args = parser.parse_args()
    figures = measure(args.rounds)
    width = max(len(name) for name in figures)
    print(f"{'command':<{width}}  {'min':>7}  {'median':>7}  {'cpu':>7}  (ms)")
    for name, row in figures.items():
        print(f"{name:<{width}}  {row['min'] * 1e3:7.1f}  {row['median'] * 1e3:7.1f}  "
              f"{row['cpu'] * 1e3:7.1f}")
    print("\n".join(verdicts(figures)))
    if args.importtime:
        print("\n".join(importtime()))
    if args.instructions:
        counts = instructions()
        floor = counts[FLOOR]
        for name, count in counts.items():
            print(f"{name:<{width}}  {count / 1e6:7.1f} M instructions  "
                  f"({(count - floor) / 1e6:+.1f} M vs {FLOOR})")


if __name__ == "__main__":
    main()
