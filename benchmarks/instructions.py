"""python -m benchmarks.instructions [--only TEXT] [--calls N] [--tree DIR]

Instructions a warm call of each gradcli workload executes (and the numpy
forward floor of workload b), counted by valgrind's callgrind: unlike wall
time they are the same on a busy machine as on a quiet one.  Each workload
runs in two processes, warmed up, then N and 3N calls; the difference over
2N calls is one call's count (imports and planning cancel out).  BLAS runs
single-threaded (valgrind serialises threads anyway).

Callgrind counts user-space instructions only: the kernel's work for page
faults and mmap/munmap (what the allocator tuning and the memory plan
remove) is not in them; the minor page faults a call are reported beside
them.  --tree runs the gradcli of another checkout (e.g. an exported older
commit) on the same workloads."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CODE = """
import json, resource, sys
import gradcli
gradcli.tune_allocator()  # as the CLI does; GRADCLI_MALLOC_TUNING=0 (--untuned) keeps it off
from benchmarks.workloads import gradcli_calls, numpy_mlp_forward
calls = dict(gradcli_calls(), numpy_b_forward=numpy_mlp_forward())
call = calls[sys.argv[1]]
for _ in range(2):
    call()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(int(sys.argv[2])):
    call()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(json.dumps({"faults": faults}))
"""
WORKLOADS = ("a_seed000_grad", "b_mlp_grad", "numpy_b_forward", "c_jacobian_tanh_256",
             "d_hessian_logsumexp", "e_per_point_hessians")


def count(workload: str, calls: int, env: dict[str, str]) -> tuple[int, float]:
    """(instructions, minor page faults) of `calls` warm calls plus the fixed part."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "calls.py"
        script.write_text(CODE)
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                               sys.executable, str(script), workload, str(calls)],
                              capture_output=True, text=True, check=True, env=env)
    collected = [line.split()[-1] for line in done.stderr.splitlines() if "Collected" in line]
    faults = json.loads(done.stdout.strip().splitlines()[-1])["faults"]
    return int(collected[-1]), faults


def per_call(workload: str, calls: int, env: dict[str, str]) -> tuple[float, float]:
    low, _ = count(workload, calls, env)
    high, faults = count(workload, 3 * calls, env)
    return (high - low) / (2 * calls), faults / (3 * calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=None, help="substring of workload names")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--tree", default=None, help="a checkout whose gradcli to measure")
    parser.add_argument("--untuned", action="store_true", help="GRADCLI_MALLOC_TUNING=0")
    args = parser.parse_args()
    root = Path(args.tree or Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if args.untuned:
        env["GRADCLI_MALLOC_TUNING"] = "0"
    for workload in WORKLOADS:
        if args.only and args.only not in workload:
            continue
        instructions, faults = per_call(workload, args.calls, env)
        print(f"{workload:24s} {instructions / 1e6:9.2f} M instructions a call  "
              f"{faults:8.1f} minor page faults a call", flush=True)


if __name__ == "__main__":
    main()
