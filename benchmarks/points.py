"""python -m benchmarks.points [--points N] [--max-memory SIZE] [--dask-points N]
                             [--dask-rounds R] [--smoke]

The targets of issue 15, measured on whole `gradcli` processes:

1. `--points`: the per-point 2x2 input Hessians of a 2->64->64->1 tanh MLP
   (`hessian --points P=FILE.npy -o OUT.npy`, --batch-axis 0 implied) at
   10 million points: wall time and the process's peak RSS (`ru_maxrss`
   of a launcher's children, see LAUNCHER), against the in-memory rate of the same request on one
   chunk (`Problem.hessian(batch_axis=0)` on a Problem built for the
   sweep's chunk size, median of warm calls, in this process, measured
   before and after the sweep).  Targets: peak RSS <= 1 GB, time per point
   within 1.2x of the in-memory per-chunk rate.
2. Dask: the same sweep over fewer points in one process, then on a local
   cluster of 1 and of 2 workers (`--workers`), wall time and the time of
   the sweep phase (`--timings`; under --workers it includes starting the
   local cluster, which happens as the first chunk is submitted).

--smoke (CI): a few thousand points, no Dask, nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gradcli

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
SPEC = """name: mlp-per-point-hessians
inputs:
  P: {value: [[0.0, 0.0]]}
  W1: {file: weights.npz, key: W1}
  b1: {file: weights.npz, key: b1}
  W2: {file: weights.npz, key: W2}
  b2: {file: weights.npz, key: b2}
  W3: {file: weights.npz, key: W3}
  b3: {file: weights.npz, key: b3}
outputs:
  u: tanh(tanh(P @ W1 + b1) @ W2 + b2) @ W3 + b3
wrt: [P]
"""
PHASE = "points: evaluate and write the chunks"


def write_inputs(folder: Path, count: int) -> tuple[Path, Path]:
    """The spec (weights as in benchmarks/workloads.py) and `count` points,
    written in slices (the points never sit in this process's memory whole)."""
    rng = np.random.default_rng(0)
    np.savez(folder / "weights.npz", W1=rng.normal(size=(2, 64)), b1=np.zeros(64),
             W2=rng.normal(size=(64, 64)) / 8, b2=np.zeros(64),
             W3=rng.normal(size=(64, 1)) / 8, b3=np.zeros(1))
    (folder / "mlp.yaml").write_text(SPEC)
    points = folder / "points.npy"
    out = np.lib.format.open_memmap(points, mode="w+", dtype=np.float64, shape=(count, 2))
    for start in range(0, count, 1 << 20):
        stop = min(count, start + (1 << 20))
        out[start:stop] = rng.uniform(-1, 1, (stop - start, 2))
    out.flush()
    del out
    return folder / "mlp.yaml", points


# The peak RSS of a child counts what its parent held when it forked: Linux
# carries the forked copy's high-water mark across exec into ru_maxrss, so a
# gradcli started from this process (which holds a chunk's Hessians from
# chunk_rate) would report at least this process's RSS.  A small launcher
# process starts gradcli instead and reports the largest RSS among its
# reaped descendants (gradcli, and the Dask workers under --workers).
LAUNCHER = """import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def run(argv: list[str], folder: Path) -> dict[str, float]:
    """Wall time, CPU time, peak RSS and --timings phases of one whole process."""
    peak = folder / "maxrss.txt"
    load_start = os.getloadavg()[0]
    with open(folder / "stderr.txt", "w+b") as err:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(peak), *argv],
                                   stdout=subprocess.DEVNULL, stderr=err, env=ENV)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{text}")
    phases = {m.group(1).strip(): float(m.group(2)) / 1e3 for m in re.finditer(
        r"gradcli: timings: (.+?)\s+([\d.]+) ms", text)}
    # CPU time: wait4 counts the launcher (a few ms) and every reaped descendant
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_bytes": int(peak.read_text()) * 1024,
            "sweep_s": phases.get(PHASE, float("nan")), "load_average_start": load_start,
            "load_average": os.getloadavg()[0]}


def chunk_rate(spec: Path, points: Path, max_memory: int
               ) -> tuple[int, list[float], list[float]]:
    """(the sweep's chunk size, seconds per point of the in-memory request on
    one chunk: median of warm calls, three measurements; the same in CPU
    seconds of this process)."""
    from gradcli.api import Problem
    from gradcli.cli.points import Job, plan_sweep
    from gradcli.engine.timings import Clock
    from gradcli.language.points import bind, open_points

    problem = gradcli.load(str(spec))
    table = open_points([f"P={points}"])
    targets = bind(table, {n: (x.shape, x.dtype) for n, x in problem.leaves.items()}, False,
                   "float64")
    size = plan_sweep(problem, table, targets, Job("hessian", max_memory=max_memory),
                      Clock()).size
    chunk = np.array(np.load(points, mmap_mode="r")[:size])
    table.close()
    chunked = Problem(problem.spec, {"P": np.zeros_like(chunk)})
    chunked.hessian(batch_axis=0, values={"P": chunk})
    rates, cpu = [], []
    for _ in range(3):
        samples, cpus = [], []
        for _ in range(7):
            start, used = time.perf_counter(), time.process_time()
            chunked.hessian(batch_axis=0, values={"P": chunk})
            samples.append(time.perf_counter() - start)
            cpus.append(time.process_time() - used)
        rates.append(statistics.median(samples) / size)
        cpu.append(statistics.median(cpus) / size)
    return size, rates, cpu


def sweep_argv(spec: Path, points: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gradcli", "hessian", str(spec), "--points",
            f"P={points}", "-o", str(out), "--timings", *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--max-memory", default="512M")
    parser.add_argument("--dask-points", type=int, default=2_000_000)
    parser.add_argument("--dask-rounds", type=int, default=1,
                        help="repeat the three Dask runs, interleaved (a busy machine)")
    parser.add_argument("--smoke", action="store_true", help="CI: tiny, no Dask")
    parser.add_argument("--json", default="benchmarks/points.json")
    args = parser.parse_args()
    gradcli.tune_allocator()  # as the CLI does for itself
    if args.smoke:
        args.points, args.dask_points = 3000, 0
    report: dict = {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                    "cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "max_memory": args.max_memory}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        spec, points = write_inputs(folder, max(args.points, args.dask_points))
        if args.points:
            report["sweep"] = sweep_run(folder, spec, points, args.points, args.max_memory)
        if args.dask_points:
            report["dask"] = dask_runs(folder, spec, points, args.dask_points, args.max_memory,
                                       args.dask_rounds)
    _print(report)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


def sweep_run(folder: Path, spec: Path, points: Path, count: int, max_memory: str) -> dict:
    """The sweep over the first `count` points, and the in-memory rate around it."""
    from gradcli.cli.commands.derivatives import parse_size

    budget = parse_size(max_memory)
    if count < len(np.load(points, mmap_mode="r")):
        part = folder / "sweep.npy"
        np.save(part, np.load(points, mmap_mode="r")[:count])
        points = part
    size, before, cpu_before = chunk_rate(spec, points, budget)
    sweep = run(sweep_argv(spec, points, folder / "h.npy", "--max-memory", max_memory),
                folder)
    _, after, cpu_after = chunk_rate(spec, points, budget)
    in_memory = statistics.median(before + after)
    in_memory_cpu = statistics.median(cpu_before + cpu_after)
    assert np.load(folder / "h.npy", mmap_mode="r").shape == (count, 2, 2)
    os.unlink(folder / "h.npy")
    return {"points": count, "chunk_size": size, **sweep,
            "in_memory_s_per_point": in_memory,
            "in_memory_runs_s_per_point": before + after,
            "ratio_wall": sweep["wall_s"] / count / in_memory,
            "ratio_sweep_phase": sweep["sweep_s"] / count / in_memory,
            "in_memory_cpu_s_per_point": in_memory_cpu,
            "ratio_cpu": sweep["cpu_s"] / count / in_memory_cpu}


LABELS = {"one process": (), "dask 1 worker": ("--workers", "1"),
          "dask 2 workers": ("--workers", "2")}


def dask_runs(folder: Path, spec: Path, points: Path, count: int, max_memory: str,
              rounds: int = 1) -> dict:
    """One process, then --workers 1 and 2, over the first `count` points;
    `rounds` times, interleaved so that a change in the machine's load hits
    every configuration alike.  Each label keeps its fastest sweep phase, and
    every run is kept under "rounds"."""
    part = folder / "part.npy"
    np.save(part, np.load(points, mmap_mode="r")[:count])
    runs: dict = {"points": count, "rounds": []}
    for _ in range(rounds):
        runs["rounds"].append({label: run(sweep_argv(spec, part, folder / "d.npy",
                                                     "--max-memory", max_memory, *extra),
                                          folder) for label, extra in LABELS.items()})
    for label in LABELS:
        runs[label] = min((r[label] for r in runs["rounds"]), key=lambda r: r["sweep_s"])
    return runs


def _print(report: dict) -> None:
    print(f"{report['date']}  {report['machine']}  {report['cpus']} cpus  "
          f"python {report['python']}  numpy {report['numpy']}")
    if "sweep" in report:
        _print_sweep(report)
    _print_dask(report)


def _print_sweep(report: dict) -> None:
    s = report["sweep"]
    print(f"\nper-point Hessians, {s['points']:,} points, --max-memory {report['max_memory']}, "
          f"{s['chunk_size']} points a chunk")
    print(f"  whole process     {s['wall_s']:8.1f} s   {s['points'] / s['wall_s']:10,.0f} "
          f"points/s   peak RSS {s['peak_rss_bytes'] / 1e6:.0f} MB")
    print(f"  sweep phase       {s['sweep_s']:8.1f} s")
    print(f"  in memory, 1 chunk {s['in_memory_s_per_point'] * 1e6:7.2f} us/point "
          f"(runs: {', '.join(f'{r * 1e6:.2f}' for r in s['in_memory_runs_s_per_point'])})")
    print(f"  ratio sweep/in-memory: whole process {s['ratio_wall']:.2f}, "
          f"sweep phase {s['ratio_sweep_phase']:.2f}, CPU time {s['ratio_cpu']:.2f} "
          f"({s['cpu_s']:.1f} s CPU; in memory {s['in_memory_cpu_s_per_point'] * 1e6:.2f} "
          f"us CPU/point); load average {s['load_average_start']:.1f} at the start, "
          f"{s['load_average']:.1f} at the end")


def _print_dask(report: dict) -> None:
    if "dask" in report:
        d = report["dask"]
        print(f"\nDask, {d['points']:,} points, every run, then the fastest of each")
        for label, r in [(label, r) for each in d["rounds"] for label, r in each.items()
                         ] + [(f"best: {label}", d[label]) for label in LABELS]:
            print(f"  {label:22s} wall {r['wall_s']:7.1f} s   sweep phase {r['sweep_s']:7.1f} s"
                  f"   {d['points'] / r['sweep_s']:10,.0f} points/s   CPU {r['cpu_s']:7.1f} s"
                  f"   load average {r['load_average_start']:.1f}-{r['load_average']:.1f}")


if __name__ == "__main__":
    main()
