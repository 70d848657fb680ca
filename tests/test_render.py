"""Output formats (gradcli.render): the JSON contract of DESIGN §2 and its siblings."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import time

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcli.errors import SpecError
from gradcli.render import FORMATS, Entry, Result, render, write_atomic

A = np.array([[1.0, math.sin(1.0)], [1e-300, -2.5e17]])
F32 = np.array([0.1, 1.0 / 3.0, 3e-8, 16777216.0], dtype=np.float32)
NONFINITE = np.array([np.nan, np.inf, -np.inf, -0.0])


def _result() -> Result:
    entries = (
        Entry(("grad", "a"), "d(sum of y)/d(a)", A),
        Entry(("grad", "inp[0,0]"), "d(sum of y)/d(inp[0,0])", F32, note="component of inp"),
        Entry(("grad", "s"), "d(sum of y)/d(s)", np.array(0.1 + 0.2)),
        Entry(("grad", "k"), "d(sum of y)/d(k)", np.array([3, -4], dtype=np.int64)),
        Entry(("grad", "m"), "mask", np.array([True, False])),
        Entry(("grad", "bad"), "d(sum of y)/d(bad)", NONFINITE),
        Entry(("grad", "patch"), "d(sum of y)/d(patch)", None,
              note="unconnected: y does not depend on patch"),
        Entry(("grad", "cube"), "d(sum of y)/d(cube)", np.arange(8.0).reshape(2, 2, 2)),
    )
    return Result("grad", entries, {"order": 1, "dtype": "float64", "spec": "specs/x.yaml"},
                  ("grad: d(sum of y)/d(source), order 1, float64",))


def _no_constants(name: str) -> None:
    raise AssertionError(f"invalid JSON constant {name}")


def _strict_json(data: bytes) -> dict:
    """json.loads that refuses NaN/Infinity, which Python accepts but JSON does not."""
    return json.loads(data.decode("utf-8"), parse_constant=_no_constants)


# ---------------------------------------------------------------- json


def test_json_layout_matches_design_contract():
    data = render(_result(), "json")
    assert data.endswith(b"}\n")
    doc = _strict_json(data)
    assert list(doc) == ["command", "order", "dtype", "spec", "grad"]
    assert doc["command"] == "grad" and doc["order"] == 1 and doc["spec"] == "specs/x.yaml"
    assert list(doc["grad"]) == ["a", "inp[0,0]", "s", "k", "m", "bad", "patch", "cube"]
    assert doc["grad"]["patch"] is None
    assert doc["grad"]["s"] == 0.1 + 0.2 and isinstance(doc["grad"]["s"], float)  # 0-d: a number
    assert doc["grad"]["k"] == [3, -4] and all(type(v) is int for v in doc["grad"]["k"])
    assert doc["grad"]["m"] == [True, False]
    assert doc["grad"]["bad"] == ["nan", "inf", "-inf", -0.0]
    assert math.copysign(1.0, doc["grad"]["bad"][3]) == -1.0
    assert doc["grad"]["cube"] == np.arange(8.0).reshape(2, 2, 2).tolist()


def test_json_minimal_grad_document_is_exact():
    result = Result("grad", (Entry(("grad", "a"), "t", np.array([[1.0, 2.0]])),), {"order": 1})
    assert _strict_json(render(result, "json")) == {
        "command": "grad", "order": 1, "grad": {"a": [[1.0, 2.0]]}}


def test_json_nested_sections_for_jacobian_hessian_and_jvp():
    entries = (
        Entry(("outputs", "y"), "y", np.array([1.0])),
        Entry(("hessian", "a", "a"), "h", np.eye(2)),
        Entry(("hessian", "a", "b"), "h", None),
        Entry(("hessian", "b", "a"), "h", None),
        Entry(("jvp", "y"), "jvp", np.array(2.0)),
    )
    doc = _strict_json(render(Result("hessian", entries, {}), "json"))
    assert doc == {"command": "hessian", "outputs": {"y": [1.0]},
                   "hessian": {"a": {"a": [[1.0, 0.0], [0.0, 1.0]], "b": None}, "b": {"a": None}},
                   "jvp": {"y": 2.0}}


def test_json_float64_round_trips_bit_for_bit():
    doc = _strict_json(render(_result(), "json"))
    back = np.array(doc["grad"]["a"], dtype=np.float64)
    assert back.tobytes() == A.tobytes()
    assert doc["grad"]["s"] == 0.30000000000000004


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                  elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_json_any_float64_array_round_trips(arr):
    value = _strict_json(render(Result("eval", (Entry(("outputs", "y"), "y", arr),), {}),
                                "json"))["outputs"]["y"]
    spelled = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}
    back = np.vectorize(lambda v: spelled[v] if isinstance(v, str) else v, otypes=[float])(
        np.array(value, dtype=object)).reshape(arr.shape)
    assert np.array_equal(back, arr, equal_nan=True)
    finite = np.isfinite(arr)
    assert back[finite].tobytes() == arr[finite].tobytes()  # also keeps the sign of -0.0


def test_json_float32_uses_shortest_float32_digits():
    data = render(_result(), "json").decode()
    assert '"inp[0,0]": [0.1, 0.33333334, 3e-08, 16777216.0]' in data
    back = np.array(_strict_json(data.encode())["grad"]["inp[0,0]"]).astype(np.float32)
    assert back.tobytes() == F32.tobytes()


def test_json_ignores_precision_and_is_valid_with_only_nonfinite():
    result = Result("eval", (Entry(("outputs", "y"), "y", np.array(np.nan)),
                             Entry(("outputs", "z"), "z", np.array(-np.inf))), {})
    assert render(result, "json", precision=3) == render(result, "json")
    assert _strict_json(render(result, "json")) == {"command": "eval",
                                                    "outputs": {"y": "nan", "z": "-inf"}}
    many = Result("eval", (Entry(("outputs", "y"), "y", np.full(3, math.pi)),), {})
    assert _strict_json(render(many, "json", precision=2))["outputs"]["y"] == [math.pi] * 3


def test_json_meta_numpy_values_and_nonfinite():
    meta = {"rtol": np.float64(1e-7), "n": np.int64(3), "flag": np.bool_(True),
            "wrt": ("a", "inp[0,0]"), "bad": float("inf"), "v": np.float32([0.1])}
    doc = _strict_json(render(Result("check", (), meta), "json"))
    assert doc == {"command": "check", "rtol": 1e-7, "n": 3, "flag": True,
                   "wrt": ["a", "inp[0,0]"], "bad": "inf", "v": [0.1]}


def test_json_escapes_keys_and_strings():
    entries = (Entry(("outputs", 'we"ird\\key'), "t", np.array(1.0)),)
    doc = _strict_json(render(Result("eval", entries, {"spec": "ü/\n.yaml"}), "json"))
    assert doc == {"command": "eval", "spec": "ü/\n.yaml", "outputs": {'we"ird\\key': 1.0}}


def test_empty_arrays_in_every_format():
    entries = (Entry(("outputs", "e"), "e", np.zeros((2, 0))),)
    result = Result("eval", entries, {})
    assert _strict_json(render(result, "json"))["outputs"]["e"] == [[], []]
    assert yaml.safe_load(render(result, "yaml"))["outputs"]["e"] == [[], []]
    assert list(csv.reader(io.StringIO(render(result, "csv").decode()))) == [
        ["quantity", "index", "value"]]
    assert np.load(io.BytesIO(render(result, "npz")))["outputs/e"].shape == (2, 0)
    assert "shape (2, 0) float64" in render(result, "text").decode()


def test_colliding_paths_are_caller_errors():
    twice = (Entry(("grad", "a"), "t", np.array(1.0)), Entry(("grad", "a"), "t", None))
    with pytest.raises(ValueError, match="share the path"):
        render(Result("grad", twice, {}), "json")
    through = (Entry(("grad", "a"), "t", np.array(1.0)), Entry(("grad", "a", "b"), "t", None))
    with pytest.raises(ValueError, match="runs through"):
        render(Result("grad", through, {}), "yaml")
    with pytest.raises(ValueError, match="meta key"):
        render(Result("grad", (Entry(("order", "a"), "t", None),), {"order": 1}), "json")
    with pytest.raises(ValueError):
        Entry((), "t", None)


def test_unrenderable_values_are_rejected():
    with pytest.raises(TypeError, match="complex"):
        render(Result("eval", (Entry(("outputs", "y"), "y", np.array([1j])),), {}), "json")


# ---------------------------------------------------------------- yaml


def test_yaml_same_structure_as_json():
    data = render(_result(), "yaml")
    doc = yaml.safe_load(data)
    ref = _strict_json(render(_result(), "json"))
    assert list(doc) == list(ref) and list(doc["grad"]) == list(ref["grad"])
    assert np.array(doc["grad"]["a"]).tobytes() == A.tobytes()
    assert doc["grad"]["inp[0,0]"] == ref["grad"]["inp[0,0]"]
    assert doc["grad"]["patch"] is None and doc["grad"]["s"] == 0.1 + 0.2
    assert doc["grad"]["k"] == [3, -4] and doc["grad"]["m"] == [True, False]
    bad = doc["grad"]["bad"]
    assert math.isnan(bad[0]) and bad[1:3] == [math.inf, -math.inf]
    assert b".nan" in data and b"0.1, 0.33333334" in data


def test_yaml_keys_that_look_like_other_types_stay_strings():
    entries = tuple(Entry(("outputs", k), k, np.array(1.0)) for k in ("on", "null", "1", "a: b"))
    doc = yaml.safe_load(render(Result("eval", entries, {}), "yaml"))
    assert list(doc["outputs"]) == ["on", "null", "1", "a: b"]


# ---------------------------------------------------------------- csv


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_csv_one_row_per_element():
    rows = _csv_rows(render(_result(), "csv"))
    assert rows[0] == ["quantity", "index", "value"]
    body = rows[1:]
    assert len(body) == 4 + 4 + 1 + 2 + 2 + 4 + 1 + 8
    by_q: dict[str, list[tuple[str, str]]] = {}
    for quantity, index, value in body:
        by_q.setdefault(quantity, []).append((index, value))
    assert by_q["grad.a"] == [("0;0", "1.0"), ("0;1", repr(math.sin(1.0))),
                              ("1;0", "1e-300"), ("1;1", "-2.5e+17")]
    assert by_q["grad.inp[0,0]"][0] == ("0", "0.1")  # quoted by csv: the key has a comma
    assert by_q["grad.s"] == [("", "0.30000000000000004")]
    assert by_q["grad.k"] == [("0", "3"), ("1", "-4")]
    assert by_q["grad.m"] == [("0", "true"), ("1", "false")]
    assert [v for _, v in by_q["grad.bad"]] == ["nan", "inf", "-inf", "-0.0"]
    assert by_q["grad.patch"] == [("", "")]
    assert by_q["grad.cube"][5] == ("1;0;1", "5.0")
    assert np.array([float(v) for _, v in by_q["grad.a"]]).tobytes() == A.tobytes()


def test_csv_precision_means_significant_digits_for_floats_only():
    rows = _csv_rows(render(_result(), "csv", precision=3))
    values = {(q, i): v for q, i, v in rows[1:]}
    assert values[("grad.a", "0;1")] == "0.841"
    assert values[("grad.a", "1;1")] == "-2.5e+17"
    assert values[("grad.inp[0,0]", "1")] == "0.333"
    assert values[("grad.k", "0")] == "3"
    assert values[("grad.bad", "0")] == "nan"


def test_csv_lines_end_in_newline_only():
    data = render(_result(), "csv")
    assert b"\r" not in data and data.endswith(b"\n")


# ---------------------------------------------------------------- npz


def test_npz_loads_with_exact_arrays_and_meta():
    with np.load(io.BytesIO(render(_result(), "npz"))) as npz:  # allow_pickle=False default
        assert set(npz.files) == {"meta", "grad/a", "grad/inp[0,0]", "grad/s", "grad/k",
                                  "grad/m", "grad/bad", "grad/cube"}
        assert npz["grad/a"].tobytes() == A.tobytes() and npz["grad/a"].dtype == np.float64
        assert npz["grad/inp[0,0]"].dtype == np.float32
        assert npz["grad/inp[0,0]"].tobytes() == F32.tobytes()
        assert npz["grad/s"].shape == () and npz["grad/k"].dtype == np.int64
        assert npz["grad/m"].dtype == np.bool_
        assert np.array_equal(npz["grad/bad"], NONFINITE, equal_nan=True)
        meta = npz["meta"]
        assert meta.shape == () and meta.dtype.kind == "U"
        assert json.loads(str(meta)) == {"command": "grad", "order": 1, "dtype": "float64",
                                         "spec": "specs/x.yaml", "null_entries": ["grad/patch"]}


def test_npz_does_not_depend_on_the_clock(monkeypatch):
    first = render(_result(), "npz")
    later = time.time() + 86400 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    assert render(_result(), "npz") == first


def test_npz_key_collisions_are_caller_errors():
    with pytest.raises(ValueError, match="npz key"):
        render(Result("eval", (Entry(("meta",), "m", np.array(1.0)),), {}), "npz")


# ---------------------------------------------------------------- text


def test_text_has_summary_titles_shapes_and_notes():
    text = render(_result(), "text").decode()
    lines = text.splitlines()
    assert lines[0] == "grad: d(sum of y)/d(source), order 1, float64"
    assert "d(sum of y)/d(a)  shape (2, 2) float64" in lines
    assert "d(sum of y)/d(inp[0,0])  shape (4,) float32" in lines
    assert "d(sum of y)/d(s)  shape () float64" in lines
    assert "d(sum of y)/d(k)  shape (2,) int64" in lines
    assert "mask  shape (2,) bool" in lines
    i = lines.index("d(sum of y)/d(patch)")
    assert lines[i + 1:i + 3] == ["  None", "  unconnected: y does not depend on patch"]
    assert "  component of inp" in lines
    assert "  0.30000000" not in lines and "  0.3" in lines  # 8 significant digits by default
    assert "0.84147098" in text and "0.33333334" in text and "nan" in text
    assert "\x1b" not in text and text.endswith("\n")


def test_text_array_layout():
    entries = (Entry(("outputs", "y"), "y", np.array([[1.0, math.sin(1.0)], [np.nan, -10.5]])),)
    lines = render(Result("eval", entries, {}), "text").decode().splitlines()
    # decimal points line up in a column, nan is right-aligned to the cell width
    assert lines[1:] == ["  [[  1.0          0.84147098]",
                         "   [         nan -10.5       ]]"]


def test_text_precision_and_color():
    plain = render(_result(), "text", precision=3).decode()
    assert "0.841" in plain and "0.84147" not in plain and "0.333" in plain
    colored = render(_result(), "text", color=True).decode()
    assert "\x1b[1md(sum of y)/d(a)\x1b[0m  shape (2, 2) float64" in colored
    assert colored.replace("\x1b[1m", "").replace("\x1b[0m", "") == render(_result(),
                                                                          "text").decode()


def test_text_floats_never_look_like_integers():
    entries = (Entry(("outputs", "y"), "y", np.array([2.0, 1e20, 1e-20])),)
    text = render(Result("eval", entries, {}), "text").decode()
    assert "2.0" in text and "1e+20" in text and "1e-20" in text


# ---------------------------------------------------------------- all formats


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_deterministic(fmt):
    assert render(_result(), fmt) == render(_result(), fmt)
    assert render(_result(), fmt, precision=4) == render(_result(), fmt, precision=4)


def test_bad_format_and_precision_are_user_errors():
    with pytest.raises(SpecError) as err:
        render(_result(), "xml")
    assert err.value.location == "--format" and "text, json, yaml, csv, npz" in err.value.message
    for bad in (0, -1, True, 2.5):
        with pytest.raises(SpecError) as err:
            render(_result(), "text", precision=bad)
        assert err.value.location == "--precision"


# ---------------------------------------------------------------- write_atomic


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_atomic_writes_and_replaces(tmp_path):
    target = tmp_path / "out.json"
    write_atomic(str(target), b"first\n")
    assert target.read_bytes() == b"first\n"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    target.chmod(0o640)
    write_atomic(str(target), b"second\n")
    assert target.read_bytes() == b"second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # overwriting keeps permissions
    assert _leftovers(tmp_path) == []


def test_write_atomic_follows_a_symlink(tmp_path):
    real = tmp_path / "real.json"
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(str(link), b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_write_atomic_missing_folder(tmp_path):
    target = tmp_path / "nope" / "out.json"
    with pytest.raises(SpecError) as err:
        write_atomic(str(target), b"x")
    assert err.value.location == "--out"
    assert err.value.message.startswith(f"cannot write --out {target}: ")
    assert "does not exist" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_target_is_a_folder(tmp_path):
    with pytest.raises(SpecError, match="cannot write --out .*: it is a folder"):
        write_atomic(str(tmp_path), b"x")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_failure_leaves_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_bytes(b"previous")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SpecError, match="no space left on device"):
        write_atomic(str(target), b"new content")
    assert target.read_bytes() == b"previous"
    assert _leftovers(tmp_path) == [] and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_atomic_interrupt_cleans_up_and_propagates(tmp_path, monkeypatch):
    target = tmp_path / "out.json"

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(target), b"x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_write_atomic_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SpecError, match="permission denied"):
            write_atomic(str(locked / "out.json"), b"x")
    finally:
        locked.chmod(0o700)
    assert list(locked.iterdir()) == []


def test_write_atomic_permission_message_even_as_root(tmp_path, monkeypatch):
    real_open = os.open

    def denied(path, flags, mode=0o777, **kwargs):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(SpecError) as err:
        write_atomic(str(tmp_path / "out.json"), b"x")
    assert err.value.message == f"cannot write --out {tmp_path / 'out.json'}: permission denied"
    assert str(err.value) == f"--out: {err.value.message}"
    assert list(tmp_path.iterdir()) == []
