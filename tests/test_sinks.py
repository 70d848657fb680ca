"""render/sinks.py: arrays written region by region into .npy, .npz and Zarr,
all or nothing, with the disk space checked before anything is computed."""

from __future__ import annotations

import json
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from gradcli.errors import SpecError
from gradcli.render.binary import ArraySpec, open_sink, sink_kind

A = np.arange(24.0).reshape(6, 4)
B = np.arange(5, dtype=np.int64)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_rows_and_columns_land_where_they_belong(tmp_path: Path) -> None:
    out = tmp_path / "a.npy"
    with open_sink(str(out), [ArraySpec("x", A.shape, "float64")]) as sink:
        sink.write("x", (slice(0, 2),), A[:2])            # contiguous rows: one pwrite
        sink.write("x", (slice(2, 6), slice(0, 3)), A[2:, :3])  # a strided region: mapped
        sink.write("x", (slice(None), slice(3, 4)), A[:, 3:], view=(6, 4))
        assert not out.exists()  # nothing is published before the end
    np.testing.assert_array_equal(np.load(out), A)
    assert leftovers(tmp_path) == []
    assert sink_kind("r.NPZ") == "npz" and sink_kind("r.zarr/") == "zarr" and not sink_kind("r")


def test_a_reshaped_view_writes_flat_rows(tmp_path: Path) -> None:
    out = tmp_path / "a.npy"
    with open_sink(str(out), [ArraySpec("x", (2, 3, 4), "float64")]) as sink:
        flat = np.arange(24.0).reshape(6, 4)
        sink.write("x", (slice(0, 6),), flat, view=(6, 4))
    np.testing.assert_array_equal(np.load(out), np.arange(24.0).reshape(2, 3, 4))


def test_npz_has_the_layout_of_format_npz(tmp_path: Path) -> None:
    out = tmp_path / "r.npz"
    meta = {"command": "grad", "null_entries": ["grad/c"]}
    with open_sink(str(out), [ArraySpec("grad/a", A.shape, "float64"),
                              ArraySpec("grad/b", B.shape, "int64")], meta) as sink:
        for k in range(0, 6, 4):
            sink.write("grad/a", (slice(k, k + 4),), A[k:k + 4])
        sink.write("grad/b", (slice(None),), B)
    with np.load(out) as got:
        assert list(got) == ["meta", "grad/a", "grad/b"]
        assert json.loads(str(got["meta"])) == meta
        np.testing.assert_array_equal(got["grad/a"], A)
        np.testing.assert_array_equal(got["grad/b"], B)
    assert leftovers(tmp_path) == []


def test_zarr_store_with_meta_replaces_an_old_store(tmp_path: Path) -> None:
    zarr = pytest.importorskip("zarr")
    out = tmp_path / "r.zarr"
    for value in (1.0, 2.0):
        with open_sink(str(out), [ArraySpec("hessian/P/P", (6, 4), "float64")],
                       {"command": "hessian"}, rows_per_chunk=4) as sink:
            for k in range(0, 6, 4):
                sink.write("hessian/P/P", (slice(k, min(k + 4, 6)),), A[k:k + 4] * value)
    group = zarr.open_group(str(out), mode="r")
    np.testing.assert_array_equal(group["hessian/P/P"][:], A * 2.0)
    assert group.attrs["meta"] == {"command": "hessian"}
    assert leftovers(tmp_path) == []
    (tmp_path / "notes.zarr").mkdir()
    (tmp_path / "notes.zarr" / "keep.txt").write_text("mine")
    with pytest.raises(SpecError, match="not a Zarr store"):
        open_sink(str(tmp_path / "notes.zarr"), [ArraySpec("x", (1,), "float64")])
    assert (tmp_path / "notes.zarr" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".zarr"])
def test_an_error_midway_leaves_the_old_target(tmp_path: Path, suffix: str) -> None:
    if suffix == ".zarr":
        pytest.importorskip("zarr")
    out = tmp_path / f"r{suffix}"
    if suffix != ".zarr":
        out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), open_sink(
            str(out), [ArraySpec("x", A.shape, "float64")]) as sink:
        sink.write("x", (slice(0, 2),), A[:2])
        raise KeyboardInterrupt
    assert leftovers(tmp_path) == []
    assert (out.read_bytes() == b"old") if suffix != ".zarr" else not out.exists()


def test_a_disk_too_small_is_refused_before_anything_runs(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    Stat = namedtuple("Stat", "f_bavail f_frsize")
    monkeypatch.setattr(os, "statvfs", lambda path: Stat(10, 4096))
    big = ArraySpec("jacobian/y/x", (100_000, 100_000), "float64")
    for suffix in (".npy", ".npz"):
        with pytest.raises(SpecError, match=r"needs (80|160) GB on disk and .* has 0\.041 MB free"):
            open_sink(str(tmp_path / f"J{suffix}"), [big])
    assert list(tmp_path.iterdir()) == []


def test_a_folder_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(SpecError, match="it is a folder"):
        open_sink(str(tmp_path / "d.npy"), [ArraySpec("x", (1,), "float64")])
    with pytest.raises(SpecError, match="does not exist"):
        open_sink(str(tmp_path / "no" / "r.npy"), [ArraySpec("x", (1,), "float64")])
