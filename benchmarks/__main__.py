"""python -m benchmarks [--json FILE] [--only NAME] [--budget SECONDS]

Times every workload for gradcli and for every peer importable in this
environment, in one process (median of warm calls), plus the cold start of
the whole CLI process and the output formats' throughput
(benchmarks/render.py), and prints a table of times and gradcli/peer ratios."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import gradcli
from benchmarks import render, startup
from benchmarks.peers import autograd_calls, jax_calls, tensorflow_calls, torch_calls
from benchmarks.timing import median_seconds, peak_bytes
from benchmarks.workloads import gradcli_calls, numpy_mlp_forward


def _process_seconds(argv: list[str], repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cold_start() -> dict[str, float]:
    """Median wall times of whole processes (benchmarks/startup.py), plus the
    import of the peers that are installed."""
    out = {name: row["median"] for name, row in startup.measure(rounds=7).items()}
    for module in ("torch", "jax"):
        try:
            out[f"python -c 'import {module}'"] = _process_seconds(
                [sys.executable, "-c", f"import {module}"], repeats=3)
        except subprocess.CalledProcessError:
            pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", default="benchmarks/results.json")
    parser.add_argument("--only", default=None, help="substring of workload names")
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per measurement")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--no-render", action="store_true",
                        help="skip the output formats' throughput (benchmarks/render.py)")
    parser.add_argument("--markdown", default=None, help="also write the table as Markdown")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: gradcli only, one quick measurement each, no peers")
    args = parser.parse_args()
    gradcli.tune_allocator()  # the API's documented opt-in; the CLI applies it itself
    if args.smoke:
        args.budget, args.no_cold_start = 0.01, True
    # Each implementation is built and timed in turn, gradcli and the numpy
    # floor first: peers start thread pools (OpenMP, XLA) that keep running
    # and would otherwise slow every numpy call measured after them.
    ours = gradcli_calls()
    workloads = [w for w in ours if not args.only or args.only in w]
    times: dict[str, dict[str, float]] = {w: {} for w in workloads}
    for workload in workloads:
        times[workload]["gradcli"] = median_seconds(ours[workload], budget=args.budget)
    peaks = {w: peak_bytes(ours[w]) for w in workloads}
    if "b_mlp_grad" in times:
        times["b_mlp_grad"]["numpy forward (floor)"] = median_seconds(numpy_mlp_forward(),
                                                                     budget=args.budget)
    peers = (("autograd", autograd_calls), ("torch", torch_calls),
             ("jax", lambda: jax_calls(False)), ("jax-jit", lambda: jax_calls(True)),
             ("tf.function", tensorflow_calls))
    for name, builder in () if args.smoke else peers:
        try:
            calls = builder()
        except Exception as exc:  # a broken peer install must not stop the run
            print(f"skipping {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for workload in workloads:
            if workload in calls:
                times[workload][name] = median_seconds(calls[workload], budget=args.budget)
    report = {"date": date.today().isoformat(), "machine": platform.platform(),
              "processor": platform.machine(), "cpus": os.cpu_count(),
              "python": platform.python_version(), "versions": _versions(),
              "seconds": times, "gradcli_peak_bytes": peaks}
    if not args.no_cold_start:
        report["cold_start_seconds"] = cold_start()
    if not args.no_render and not args.only:
        report["render"] = render.measure(smoke=args.smoke)
    _print(report)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("gradcli", "numpy", "autograd", "torch", "jax", "jaxlib", "tensorflow-cpu",
                    "tensorflow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def markdown(report: dict) -> str:
    """The report as Markdown tables (docs/performance.md is made from this)."""
    impls = list(dict.fromkeys(k for row in report["seconds"].values() for k in row))
    lines = [f"Measured {report['date']} on {report['machine']} ({report['processor']}, "
             f"{report['cpus']} CPUs), Python {report['python']}; "
             + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".", "",
             "Median of warm calls in one process, milliseconds (ratio gradcli/peer in "
             "parentheses; below 1 means gradcli is faster).", "",
             "| workload | " + " | ".join(impls) + " | gradcli peak memory |",
             "|---|" + "---|" * (len(impls) + 1)]
    for workload, row in report["seconds"].items():
        ours = row["gradcli"]
        cells = [f"{row[i] * 1e3:.3f}" + ("" if i == "gradcli" else f" ({ours / row[i]:.2f})")
                 if i in row else "" for i in impls]
        peak = report["gradcli_peak_bytes"].get(workload, 0) / 1e6
        lines.append(f"| {workload} | " + " | ".join(cells) + f" | {peak:.1f} MB |")
    if "cold_start_seconds" in report:
        lines += ["", "Cold start of the whole process (median wall time):", "",
                  "| command | ms |", "|---|---|"]
        lines += [f"| {k} | {v * 1e3:.0f} |" for k, v in report["cold_start_seconds"].items()]
    if "render" in report:
        lines += ["", "Output formats (benchmarks/render.py):", "", "```",
                  *render.lines(report["render"]), "```"]
    return "\n".join(lines) + "\n"


def _print(report: dict) -> None:
    print(f"{report['date']}  {report['machine']}  {report['cpus']} cpus  "
          + "  ".join(f"{k} {v}" for k, v in report["versions"].items()))
    for workload, row in report["seconds"].items():
        ours = row["gradcli"]
        peak = report["gradcli_peak_bytes"].get(workload)
        print(f"\n{workload}" + (f"   (gradcli peak memory {peak / 1e6:.1f} MB)" if peak else ""))
        for impl, seconds in sorted(row.items(), key=lambda kv: kv[1]):
            ratio = "" if impl == "gradcli" else f"   gradcli/{impl} = {ours / seconds:.2f}"
            print(f"  {impl:24s} {seconds * 1e3:10.3f} ms{ratio}")
    if "cold_start_seconds" in report:
        print("\nf_cold_start (whole process)")
        for what, seconds in report["cold_start_seconds"].items():
            print(f"  {what:40s} {seconds * 1e3:8.1f} ms")
    if "render" in report:
        print()
        print("\n".join(render.lines(report["render"])))


if __name__ == "__main__":
    main()
