"""Failure rates per property over many seeded programs (a tool, not a test):

    python tests/survey.py 1000          # seeds 0..999, one process per CPU

prints, per property and kind of source, how many programs fail it, the
smallest failing seeds (to shrink with tests/shrink.py), and the time taken."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from propcheck import run_seed  # noqa: E402
from randprog import to_yaml  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    workers = int(os.environ.get("GRADCLI_WORKERS", str(os.cpu_count() or 1)))
    start, cpu = time.perf_counter(), time.process_time()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        outcomes = list(pool.map(run_seed, range(count), chunksize=4))
    wall = time.perf_counter() - start
    children = os.times()
    checked = [o for o in outcomes if not o.rejected]
    programs: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    smallest: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for o in checked:
        for prop in {f.prop for f in o.failures}:
            programs[prop] += 1
        for tag in {f.tag for f in o.failures}:
            tags[tag] += 1
            smallest[tag].append((len(to_yaml(o.spec)), o.seed))
    print(f"{count} programs, {len(outcomes) - len(checked)} rejected, "
          f"{sum(o.inconclusive for o in checked)} inconclusive finite differences "
          f"(across a kink), {wall:.0f} s wall, "
          f"{children.children_user + children.children_system + time.process_time() - cpu:.0f}"
          f" s CPU, {workers} workers")
    for prop in sorted(programs):
        kinds = {t.split(":")[1]: n for t, n in tags.items() if t.split(":")[0] == prop}
        print(f"  {prop:7} failed in {programs[prop]:4} of {len(checked)} programs  {kinds}")
    for tag in sorted(smallest):
        print(f"  smallest {tag:14} seeds {[s for _, s in sorted(smallest[tag])[:6]]}")


if __name__ == "__main__":
    main()
