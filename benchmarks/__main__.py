"""python -m benchmarks [--rounds N] [--budget S] [--only TEXT] [--engines A,B]
                       [--json FILE] [--markdown FILE] [--no-cold-start] [--smoke]

Each engine (gradcli, gradcli with the allocator tuning off, the plain numpy
floor, each installed peer) runs in a process of its own (benchmarks/worker.py),
so no engine's thread pools or allocator settings touch another's.  The
engines take turns: round after round, each measures every workload (median
of warm calls), in an order that rotates every round, after a short pause
that lets the previous engine's spinning threads go to sleep.  An engine's
time is its best round.  The report records the CPU model and what else ran
on the machine (load average, other processes' CPU share, steal time), and
gradcli's memory per workload (its buffer pool, the peak of a warm call, page
faults a call).  --smoke (CI): gradcli only, one quick round, no peers."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks import host, startup
from benchmarks.report import markdown, print_report
from benchmarks.worker import ENGINES

SETTLE = 0.3  # seconds between engines: OpenMP/BLAS/Eigen threads spin ~0.2 s after work


class Worker:
    def __init__(self, engine: str, only: str | None, threads: int | None) -> None:
        self.engine = engine
        argv = [sys.executable, "-m", "benchmarks.worker", engine]
        argv += ["--only", only] if only else []
        env = dict(os.environ, BENCH_THREADS=str(threads)) if threads else None
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1, env=env)
        self.hello = self._read()

    def _read(self) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)  # peers may print banners; replies are JSON
        return {"error": f"exited with {self.process.wait()}"}

    def ask(self, **command: object) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.process.stdin.close()
        self.process.wait(timeout=60)


def run(engines: list[str], rounds: int, budget: float, only: str | None,
        threads: int | None = None) -> dict:
    workers: list[Worker] = []
    for engine in engines:  # one at a time: imports (TensorFlow's) are heavy
        worker = Worker(engine, only, threads)
        if "error" in worker.hello:
            print(f"skipping {engine}: {worker.hello['error']}", file=sys.stderr)
            worker.close()
            continue
        workers.append(worker)
    samples: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, dict[str, list[float]]] = {}
    try:
        for r in range(rounds):
            for k in range(len(workers)):
                worker = workers[(k + r) % len(workers)]
                time.sleep(SETTLE)
                reply = worker.ask(cmd="time", budget=budget)
                for key, into in (("seconds", samples), ("cpu_seconds", cpu)):
                    for workload, seconds in reply.get(key, {}).items():
                        into.setdefault(workload, {}).setdefault(worker.engine, []).append(
                            seconds)
        memory = {}
        for worker in workers:
            if worker.engine.startswith("gradcli"):
                memory[worker.engine] = worker.ask(cmd="memory").get("memory", {})
    finally:
        for worker in workers:
            worker.close()
    def best(table: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
        return {w: {e: min(s) for e, s in by_engine.items()} for w, by_engine in table.items()}

    return {"seconds": best(samples), "cpu_seconds": best(cpu), "samples": samples,
            "memory": memory}


def cold_start() -> dict[str, float]:
    """Median wall times of whole processes (benchmarks/startup.py), plus the
    import of the peers that are installed."""
    out = {name: row["median"] for name, row in startup.measure(rounds=7).items()}
    for module in ("torch", "jax"):
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", f"import {module}"],
                                  capture_output=True)
            samples.append(time.perf_counter() - start)
        if done.returncode == 0:
            out[f"python -c 'import {module}'"] = sorted(samples)[1]
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("gradcli", "numpy", "scipy-openblas64", "autograd", "torch", "jax",
                    "jaxlib", "tensorflow-cpu", "tensorflow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default="benchmarks/results.json")
    parser.add_argument("--only", default=None, help="substring of workload names")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated, from: " + ", ".join(ENGINES))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best counts)")
    parser.add_argument("--budget", type=float, default=0.5,
                        help="seconds per workload per round")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit every engine's thread pools (BLAS, OpenMP, XLA, TF, "
                        "torch) to N: on a machine other work keeps busy, fork-join pools "
                        "wait for a CPU at every parallel step")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--markdown", default=None, help="also write the tables as Markdown")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: gradcli only, one quick round, no peers, no cold start")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    if args.smoke:
        engines, args.rounds, args.budget, args.no_cold_start = ["gradcli"], 1, 0.01, True
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {unknown}")
    load = host.Load.begin()
    measured = run(engines, args.rounds, args.budget, args.only, args.threads)
    report = {"date": date.today().isoformat(), "platform": platform.platform(),
              "cpu": host.cpu(), "python": platform.python_version(),
              "versions": _versions(), "rounds": args.rounds, "budget": args.budget,
              "threads": args.threads,
              **measured}
    if not args.no_cold_start:
        report["cold_start_seconds"] = cold_start()
    report["load"] = load.report()
    print_report(report)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))


if __name__ == "__main__":
    main()
