"""python -m benchmarks.steps WORKLOAD [--top N] [--repeats R]

Where a warm gradcli call's time goes, step by step: the planned programs one
steady-state call of a benchmark workload runs are caught, and each step is
timed on its own (the interpreted path of `Program.run`, into the same pool
buffers, so the same calls as the compiled program), keeping each step's best
of R runs: the least disturbed by other work on the machine.  Steps are
grouped by op, shape and whether they write into a planned buffer.  Set
OPENBLAS_NUM_THREADS=1 to match `python -m benchmarks --threads 1`."""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from collections.abc import Mapping

import numpy as np

import gradcli
from benchmarks.workloads import gradcli_calls
from gradcli.engine import evaluate


def caught_programs(workload: str) -> list[tuple[evaluate.Program, Mapping[str, np.ndarray]]]:
    """The programs (and their values) one warm call of `workload` runs."""
    call = gradcli_calls()[workload]
    call()
    call()  # planning and one-time checks happen in the first calls
    seen: dict[int, tuple[evaluate.Program, Mapping[str, np.ndarray]]] = {}
    original = evaluate.Program.run

    def spy(self: evaluate.Program, values: Mapping[str, np.ndarray],
            watch: object = None) -> list[np.ndarray]:
        seen[id(self)] = (self, values)
        return original(self, values, watch)  # type: ignore[arg-type]

    evaluate.Program.run = spy  # type: ignore[method-assign]
    try:
        call()
    finally:
        evaluate.Program.run = original  # type: ignore[method-assign]
    return list(seen.values())


def step_times(program: evaluate.Program, values: Mapping[str, np.ndarray],
               repeats: int) -> list[float]:
    """Each step's best time over `repeats` runs of the whole schedule."""
    views, held = program.pool.take() if program.pool is not None else ((), False)
    best = [float("inf")] * len(program.steps)
    try:
        for _ in range(repeats):
            env: list[np.ndarray | None] = [None] * program.slot_count
            for slot, value in program.constants:
                env[slot] = value
            for name, slot, _node in program.leaves:
                env[slot] = values[name]
            with np.errstate(all="ignore"):
                for k, step in enumerate(program.steps):
                    args = [env[i] for i in step.args]
                    start = time.perf_counter()
                    env[step.out] = step.into(views, args) if step.views else step.call(*args)
                    best[k] = min(best[k], time.perf_counter() - start)
    finally:
        if held and program.pool is not None:
            program.pool.give()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    gradcli.tune_allocator()  # as the CLI does; GRADCLI_MALLOC_TUNING=0 keeps it off
    rows: dict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    programs = caught_programs(args.workload)
    for program, values in programs:
        for step, seconds in zip(program.steps, step_times(program, values, args.repeats),
                                 strict=True):
            node = step.node
            key = (f"{node.op} {'x'.join(map(str, node.shape)) or 'scalar'}"
                   + (" (into a planned buffer)" if step.views else ""))
            rows[key] += seconds
            counts[key] += 1
    total = sum(rows.values())
    print(f"{args.workload}: {len(programs)} program(s), "
          f"{sum(len(p.steps) for p, _ in programs)} steps, "
          f"{total * 1e3:.3f} ms the sum of each step's best time")
    for key, seconds in sorted(rows.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {seconds * 1e3:8.3f} ms {seconds / total:6.1%} {counts[key]:3d}x  {key}")


if __name__ == "__main__":
    main()
