"""`--scheduler ADDRESS` / `--workers N`: the chunks of a `--points` sweep as
Dask tasks (the optional `dask` extra; plain gradcli never imports dask).

- Each worker builds the chunk request once: the sweep's `Recipe` (the
  validated spec with its arrays, the --set values, the request and the
  chunk size) travels to every worker inside a worker plugin, which plans
  the request on the worker's first chunk and keeps it for the others.
  Spec files, weight files and the points file are read on this machine
  only; workers need gradcli and numpy, nothing else.
- This process reads the points, submits each chunk (at most two per
  worker in flight, so memory stays bounded here too), and takes the
  results back in order, into the same writer as a local run: the output
  is the one a single process writes, element for element.
- A worker that dies is Dask's to handle: the scheduler reschedules the
  chunks it held (up to `distributed.scheduler.allowed-failures` times),
  and a chunk whose task raises is retried (`retries`).  User errors (a
  NaN, a bad shape) come back as values and are raised here, not retried.
- `--workers N` starts a local cluster of N single-threaded worker
  processes on the loopback interface and stops it at the end; its workers
  get the malloc tuning the CLI gives itself (engine/allocator.py).  The
  workers of an existing cluster are not gradcli's processes and are left
  as they are, unless started with `--preload gradcli.cli.cluster`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from gradcli.cli.points_request import Recipe
from gradcli.errors import GradcliError, SpecError

try:  # this module is imported only for --scheduler/--workers
    from distributed import WorkerPlugin
except ImportError:  # the extra is missing: open_client says so
    WorkerPlugin = object  # type: ignore[misc,assignment]

RETRIES = 2
IN_FLIGHT = 2  # chunks per worker submitted ahead of the one being written


class PointsPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Holds a worker's ChunkRequest, built on its first chunk."""

    def __init__(self, recipe: Recipe, tune: bool) -> None:
        self.recipe, self.tune = recipe, tune
        self.request: Any = None
        self.builds = 0
        self.lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "tune": self.tune}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["recipe"], state["tune"])

    def get(self) -> Any:
        with self.lock:
            if self.request is None:
                if self.tune:
                    from gradcli.engine.allocator import tune_allocator

                    tune_allocator()
                self.request = self.recipe.build()
                self.builds += 1
            return self.request


def run_chunk(name: str, fed: Mapping[str, np.ndarray]) -> tuple[str, Any, int, str]:
    """The task: one chunk on this worker's planned request."""
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins[name]
    try:
        arrays = plugin.get().run(fed)
    except GradcliError as exc:  # the user's to fix: not a crash to retry
        return "error", exc, plugin.builds, worker.address
    return "ok", arrays, plugin.builds, worker.address


@contextlib.contextmanager
def open_client(scheduler: str | None, workers: int | None) -> Iterator[tuple[Any, bool]]:
    """(client, whether the cluster is ours) for --scheduler or --workers."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SpecError("--scheduler/--workers run on Dask, an optional extra: pip install "
                        "'gradcli[dask]'", "--workers") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise SpecError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                            "--scheduler") from None
        with client:
            yield client, False
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=":0",
                           silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client, True


def dask_chunks(recipe: Recipe, feeds: Iterable[tuple[int, int, Mapping[str, np.ndarray]]],
                scheduler: str | None, workers: int | None, retries: int = RETRIES,
                task: Callable[..., Any] = run_chunk, stats: dict[str, int] | None = None
                ) -> Iterator[tuple[int, int, list[np.ndarray]]]:
    """(start, stop, arrays) of every chunk, in order, computed on Dask workers;
    `stats` (if given) learns how many times each worker built the request."""
    with open_client(scheduler, workers) as (client, own):
        name = f"gradcli-points-{secrets.token_hex(8)}"
        client.register_plugin(PointsPlugin(recipe, own), name=name)
        window: deque[tuple[int, int, Any]] = deque()
        try:
            ahead = IN_FLIGHT * max(1, len(client.scheduler_info()["workers"]))
            for start, stop, fed in feeds:
                future = client.submit(task, name, fed, pure=False, retries=retries,
                                       key=f"{name}-{start}")
                window.append((start, stop, future))
                if len(window) > ahead:
                    yield _take(window.popleft(), stats)
            while window:
                yield _take(window.popleft(), stats)
        finally:
            for _, _, future in window:
                future.cancel()
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(name)


def _take(item: tuple[int, int, Any], stats: dict[str, int] | None
          ) -> tuple[int, int, list[np.ndarray]]:
    start, stop, future = item
    status, payload, builds, address = future.result()
    if stats is not None:
        stats[address] = max(stats.get(address, 0), builds)
    if status == "error":
        raise payload
    return start, stop, payload


def dask_setup(worker: Any) -> None:
    """`dask worker ADDRESS --preload gradcli.cli.cluster`: gives the workers of
    an existing cluster the malloc tuning gradcli's own workers get
    (engine/allocator.py; GRADCLI_MALLOC_TUNING=0 keeps it off)."""
    from gradcli.engine.allocator import tune_allocator

    tune_allocator()
