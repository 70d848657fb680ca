"""`--scheduler` / `--workers`: the chunks of a --points sweep as Dask tasks on
a LocalCluster (loopback, 2 worker processes): identical results, one plan
per worker, and a worker killed mid-run gets its chunk retried.  Skipped
when the `dask` extra is not installed (the `test` extra installs it)."""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

import gradcli  # noqa: E402
from gradcli.cli.cluster import dask_chunks, run_chunk  # noqa: E402
from gradcli.cli.group import cli  # noqa: E402
from gradcli.cli.points import Job, _feed, plan_sweep  # noqa: E402
from gradcli.engine.chunks import Chunked  # noqa: E402
from gradcli.engine.timings import Clock  # noqa: E402
from gradcli.language.points import bind, open_points  # noqa: E402

RNG = np.random.default_rng(11)
SPEC = {"inputs": {"P": [[0.0, 0.0]], "W1": RNG.normal(size=(2, 16)).tolist(),
                   "W2": (RNG.normal(size=(16, 1)) / 4).tolist()},
        "outputs": {"u": "tanh(P @ W1) @ W2"}, "wrt": ["P"]}
N, CHUNK = 103, 10


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0",
                                  silence_logs=logging.ERROR) as local:
        yield local


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SPEC))
    np.save(tmp_path / "p.npy", RNG.uniform(-2, 2, (N, 2)))
    return tmp_path / "s.yaml", tmp_path / "p.npy"


def sweep(spec: Path, points: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(cli, ["hessian", str(spec), "--points", f"P={points}",
                                      "--chunk-size", str(CHUNK), "-o", str(out), *extra])
    assert result.exit_code == 0, result.stderr


def test_a_cluster_writes_what_one_process_writes(cluster, files, tmp_path: Path) -> None:
    spec, points = files
    sweep(spec, points, tmp_path / "local.npy")
    sweep(spec, points, tmp_path / "dask.npy", "--scheduler", cluster.scheduler_address)
    assert (tmp_path / "dask.npy").read_bytes() == (tmp_path / "local.npy").read_bytes()


def _chunks(spec: Path, points: Path, **options):
    problem = gradcli.load(str(spec))
    table = open_points([f"P={points}"])
    targets = bind(table, {n: (x.shape, x.dtype) for n, x in problem.leaves.items()}, False,
                   "float64")
    plan = plan_sweep(problem, table, targets, Job("hessian", chunk_size=CHUNK), Clock())
    feeds = Chunked(None, plan.count, plan.size, ()).feeds(_feed(table, targets, False))
    return dask_chunks(plan.recipe.at(plan.size), feeds, **options)


def test_each_worker_plans_once_and_results_come_in_order(cluster, files) -> None:
    spec, points = files
    stats: dict[str, int] = {}
    spans = [(start, stop) for start, stop, _ in _chunks(
        spec, points, scheduler=cluster.scheduler_address, workers=None, stats=stats)]
    assert spans == [(k, min(k + CHUNK, N)) for k in range(0, N, CHUNK)]
    assert stats and set(stats.values()) == {1}  # 11 chunks, one plan on each worker


def kill_once(marker: str, name: str, fed: dict) -> object:
    """The task of the first chunk to start kills its worker process."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return run_chunk(name, fed)
    os._exit(1)


def test_a_killed_worker_gets_its_chunk_retried(cluster, files, tmp_path: Path) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spec, points = files
    marker = str(tmp_path / "killed")
    chunks = list(_chunks(spec, points, scheduler=cluster.scheduler_address, workers=None,
                          task=functools.partial(kill_once, marker)))
    assert os.path.exists(marker)  # a worker did die
    local = gradcli.load(str(spec))
    expected = gradcli.api.Problem(local.spec, {"P": np.load(points)}).hessian(
        batch_axis=0)["P"]["P"]
    got = np.concatenate([arrays[0][: stop - start] for start, stop, arrays in chunks])
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_workers_option_starts_its_own_local_cluster(files, tmp_path: Path) -> None:
    spec, points = files
    sweep(spec, points, tmp_path / "local.npy")
    sweep(spec, points, tmp_path / "dask.npy", "--workers", "2")
    assert (tmp_path / "dask.npy").read_bytes() == (tmp_path / "local.npy").read_bytes()
