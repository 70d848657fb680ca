"""python -m benchmarks.instructions [--only TEXT] [--calls N] [--tree DIR]

Instructions a warm call of each gradcli workload executes (and the numpy
forward floor of workload b), counted by valgrind's callgrind: unlike wall
time they are the same on a busy machine as on a quiet one.  Each workload
runs in two processes, warmed up, then N and 3N calls; the difference over
2N calls is one call's count (imports and planning cancel out).  BLAS runs
single-threaded (valgrind serialises threads anyway).

Callgrind counts user-space instructions only, and replaces malloc with its
own: neither the kernel's work for page faults and mmap/munmap (what the
allocator tuning and the memory plan remove) nor malloc itself is in them.
The minor page faults a call are counted in a third process, without
valgrind, and reported beside them.  --tree runs the gradcli of another
checkout (e.g. an exported older commit) on the same workloads."""

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


def count(workload: str, calls: int, env: dict[str, str], valgrind: bool = True
          ) -> tuple[int, float]:
    """(instructions, minor page faults) of `calls` warm calls plus the fixed part
    (instructions 0 without valgrind)."""
    tool = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] if valgrind else []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "calls.py"
        script.write_text(CODE)
        done = subprocess.run([*tool, sys.executable, str(script), workload, str(calls)],
                              capture_output=True, text=True, check=True, env=env)
    collected = [line.split()[-1] for line in done.stderr.splitlines() if "Collected" in line]
    faults = json.loads(done.stdout.strip().splitlines()[-1])["faults"]
    return int(collected[-1]) if collected else 0, faults


def per_call(workload: str, calls: int, env: dict[str, str]) -> tuple[float, float]:
    low, _ = count(workload, calls, env)
    high, _ = count(workload, 3 * calls, env)
    _, faults = count(workload, 10 * calls, env, valgrind=False)
    return (high - low) / (2 * calls), faults / (10 * calls)


def profile(workload: str, calls: int, env: dict[str, str], top: int = 25) -> list[str]:
    """Where one warm call's instructions go: callgrind's self cost per
    function, 3N calls minus N calls, grouped by shared object too."""
    tables = []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "calls.py"
        script.write_text(CODE)
        for n in (calls, 3 * calls):
            out = Path(folder) / f"cg.{n}"
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            sys.executable, str(script), workload, str(n)],
                           capture_output=True, text=True, check=True, env=env)
            text = subprocess.run(["callgrind_annotate", "--threshold=100", str(out)],
                                  capture_output=True, text=True, check=True).stdout
            tables.append(_functions(text))
    low, high = tables
    diff = {k: (high.get(k, 0) - low.get(k, 0)) / (2 * calls) for k in high}
    total = sum(v for v in diff.values() if v > 0)
    by_object: dict[str, float] = {}
    for (_, obj), v in diff.items():
        by_object[obj] = by_object.get(obj, 0) + v
    lines = [f"{workload}: {total / 1e6:.2f} M instructions a call; by object:"]
    lines += [f"  {v / 1e6:8.2f} M {v / total:6.1%}  {obj}"
              for obj, v in sorted(by_object.items(), key=lambda kv: -kv[1]) if v > total / 200]
    lines.append("by function:")
    lines += [f"  {v / 1e6:8.2f} M {v / total:6.1%}  {function}  [{obj}]"
              for (function, obj), v in sorted(diff.items(), key=lambda kv: -kv[1])[:top]]
    return lines


def _functions(text: str) -> dict[tuple[str, str], int]:
    """{(function, shared object): self instructions} from callgrind_annotate."""
    found: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        parts = line.split()
        if (len(parts) < 3 or not parts[0].replace(",", "").isdigit() or "(" not in parts[1]
                or "PROGRAM TOTALS" in line):
            continue
        name = " ".join(parts[2:])
        obj = name[name.rfind("[") + 1:-1] if name.endswith("]") else "?"
        function = name[:name.rfind("[")].strip() if name.endswith("]") else name
        obj = Path(obj).name
        key = (function.split(":", 1)[-1], obj)
        found[key] = found.get(key, 0) + int(parts[0].replace(",", ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=None, help="substring of workload names")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--tree", default=None, help="a checkout whose gradcli to measure")
    parser.add_argument("--untuned", action="store_true", help="GRADCLI_MALLOC_TUNING=0")
    parser.add_argument("--profile", action="store_true",
                        help="also where the instructions go, by function and object")
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
        if args.profile:
            print("\n".join(profile(workload, args.calls, env)), flush=True)


if __name__ == "__main__":
    main()
