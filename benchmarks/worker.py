"""python -m benchmarks.worker ENGINE [--only TEXT]

One engine in a process of its own (`python -m benchmarks` starts one per
engine): it builds that engine's workloads once, says `{"ready": ...}` on
stdout, then answers one JSON command a line on stdin until "quit":

  {"cmd": "time", "budget": 0.5}  -> {"seconds": {workload: median wall time of warm
                                      calls}, "cpu_seconds": {... median CPU time}}
  {"cmd": "memory"}               -> {"memory": {workload: {...}}} (gradcli only)

so no engine's thread pools, allocator settings or imports touch another's.

Engines: gradcli (with the allocator tuning the CLI applies), gradcli-untuned
(GRADCLI_MALLOC_TUNING=0), numpy (the plain forward pass of workload b, the
floor), autograd, torch, jax, jax-jit, tf.function.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable

from benchmarks.timing import medians

Calls = dict[str, Callable[[], object]]
ENGINES = ("gradcli", "gradcli-untuned", "numpy", "autograd", "torch", "jax", "jax-jit",
           "tf.function")


def limit_threads(threads: int) -> None:
    """Every engine's thread pools at `threads` (`python -m benchmarks --threads`):
    before any import, through the variables and flags each library reads."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen"
                                   "=false intra_op_parallelism_threads=1").strip()
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)


def build(engine: str) -> Calls:
    if engine in ("gradcli", "gradcli-untuned"):
        import gradcli
        from benchmarks.workloads import gradcli_calls

        if engine == "gradcli-untuned":
            os.environ["GRADCLI_MALLOC_TUNING"] = "0"
        gradcli.tune_allocator()  # what the CLI does; a no-op when switched off
        return gradcli_calls()
    if engine == "numpy":
        from benchmarks.workloads import numpy_mlp_forward

        return {"b_mlp_grad": numpy_mlp_forward()}
    from benchmarks import peers

    builders: dict[str, Callable[[], Calls]] = {
        "autograd": peers.autograd_calls, "torch": peers.torch_calls,
        "jax": lambda: peers.jax_calls(False), "jax-jit": lambda: peers.jax_calls(True),
        "tf.function": peers.tensorflow_calls}
    return builders[engine]()


def _held_pool_bytes() -> int:
    """Bytes the planned gradcli programs in this process keep between calls."""
    from gradcli.engine.evaluate import Program

    return sum(o.pool.held_bytes for o in gc.get_objects()
               if isinstance(o, Program) and o.pool is not None)


def memory(calls: Calls, pools: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per workload: the pool its programs keep (`pools`, measured when they
    were first run), tracemalloc's peak during a warm call (numpy reports its
    buffers to it) and minor page faults a call."""
    out = {}
    for name, call in calls.items():
        pool = pools.get(name, 0)
        tracemalloc.start()
        try:
            call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        count, start = 0, time.perf_counter()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        while count < 3 or (time.perf_counter() - start < 0.2 and count < 200):
            call()
            count += 1
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / count
        out[name] = {"pool_bytes": pool, "call_peak_bytes": peak,
                     "peak_bytes": pool + peak, "faults_per_call": faults}
    return out


def main() -> None:
    engine = sys.argv[1]
    if os.environ.get("BENCH_THREADS"):
        limit_threads(int(os.environ["BENCH_THREADS"]))
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    try:
        calls = {k: v for k, v in build(engine).items() if not only or only in k}
    except Exception as exc:  # a broken peer install must not stop the run
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    pools = {}
    for name, call in calls.items():  # compile, plan, warm caches before the first round
        before = _held_pool_bytes() if engine.startswith("gradcli") else 0
        call()
        call()
        pools[name] = (_held_pool_bytes() - before) if engine.startswith("gradcli") else 0
    print(json.dumps({"ready": sorted(calls)}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "time":
            timed = {name: medians(call, budget=command["budget"])
                     for name, call in calls.items()}
            reply: dict[str, object] = {"seconds": {k: v[0] for k, v in timed.items()},
                                        "cpu_seconds": {k: v[1] for k, v in timed.items()}}
        elif command["cmd"] == "memory":
            reply = {"memory": memory(calls, pools) if engine.startswith("gradcli") else {}}
        else:
            break
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
