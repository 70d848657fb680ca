"""Broken specs and expressions: exit 2, FILE:LINE:COL, no traceback, nothing on stdout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradcli.cli.group import main

GOOD_INPUTS = "inputs:\n  a: [1.0, 2.0]\n  b: [[1.0, 2.0], [3.0, 4.0]]\n"

# (id, spec text, expected location "LINE:COL" or None when only the line is pinned,
#  a fragment the message must contain)
BROKEN = [
    ("bad-yaml", "inputs:\n  a: [1.0, 2.0\noutputs:\n  y: a\n", "3:8", "invalid YAML"),
    ("unknown-top-key", GOOD_INPUTS + "ouputs:\n  y: a\n", "4:1", "did you mean 'outputs'"),
    ("unknown-name", GOOD_INPUTS + "outputs:\n  y: sin(c) + a\n", "5:10", "unknown name 'c'"),
    ("lambda", GOOD_INPUTS + "outputs:\n  y: \"(lambda q: q)(a)\"\n", "5:8", "lambda"),
    ("dunder-attribute", GOOD_INPUTS + "outputs:\n  y: a.__class__\n", "5:6", "not allowed"),
    ("dunder-import", GOOD_INPUTS + "outputs:\n  y: __import__('os')\n", "5:6", "not allowed"),
    ("comprehension", GOOD_INPUTS + "outputs:\n  y: sum([q for q in a])\n", "5:10",
     "comprehension"),
    ("attribute-call", GOOD_INPUTS + "outputs:\n  y: a.sum()\n", "5:6", "not allowed"),
    ("shape-mismatch", GOOD_INPUTS + "outputs:\n  y: b @ concat([a, a])\n", "5:6",
     "shape"),
    ("broadcast-mismatch", GOOD_INPUTS + "outputs:\n  y: a + ones((3,))\n", "5:6",
     "broadcast"),
    ("syntax", GOOD_INPUTS + "outputs:\n  y: sin(a +\n", "5:9", "never closed"),
    ("unknown-function", GOOD_INPUTS + "outputs:\n  y: sinn(a)\n", "5:6", "did you mean 'sin'"),
    ("missing-file", "inputs:\n  W: {file: nothere.npz, key: W}\noutputs:\n  y: W\n", "2:6",
     "file not found"),
    ("ragged", "inputs:\n  a: [[1.0, 2.0], [3.0]]\noutputs:\n  y: a\n", "2:6",
     "different lengths"),
    ("no-outputs", GOOD_INPUTS, None, "no outputs"),
    ("duplicate-key", GOOD_INPUTS + "outputs:\n  y: a\n  y: b\n", "6:3", "duplicate key"),
    ("integer-source", "inputs:\n  k: {value: [1, 2], dtype: int64}\n  a: [1.0, 2.0]\n"
     "outputs:\n  y: a * k\nwrt: [k]\n", "6:7", "integer input"),
    ("bad-index", GOOD_INPUTS + "outputs:\n  y: a[5]\n", "5:6", "does not fit"),
    ("walrus", GOOD_INPUTS + "outputs:\n  y: (z := a)\n", "5:7", "':='"),
    ("fstring", GOOD_INPUTS + "outputs:\n  y: f'{a}'\n", "5:6", "f-string"),
    ("billion-laughs", "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
     + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
               for p, c in zip("abcdefg", "bcdefgh")), None, "aliases"),
    ("negative-shape", "inputs:\n  z: {value: 0.0, shape: [-1, 2]}\noutputs:\n  y: z\n", "2:6",
     "negative"),
    ("huge-shape", "inputs:\n  z: {random: uniform, shape: [100000, 100000]}\noutputs:\n  y: z\n",
     "2:6", "--max-elements"),
]


@pytest.mark.parametrize("name,text,where,fragment", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_spec_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                             text: str, where: str | None, fragment: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["grad", str(spec)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("gradcli: error: ")
    assert fragment in err
    if where is not None:
        assert f"{spec}:{where}:" in err, err
    else:
        assert re.search(re.escape(str(spec)) + r"(:\d+:\d+)?", err), err


def test_missing_spec_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["grad", "no/such/spec.yaml"])
    assert exited.value.code == 2
    assert "spec file not found" in capsys.readouterr().err
