"""Every ```yaml example of docs/spec.md is a real spec: it loads with
gradcli.load, evaluates, validates against `gradcli schema`, and its
expect: block (if any) holds.  A doc example that drifts from the code
fails here, not in a user's terminal."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import schema_check
import yaml

import gradcli
from gradcli.language.specfile import TOP_KEYS
from gradcli.verify.expect import compare_expect

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "spec.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) >= 10


def test_every_top_level_key_is_documented_with_an_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    used = {key for block in BLOCKS for key in (yaml.safe_load(block) or {})}
    for key in TOP_KEYS:
        assert f"`{key}`" in text, key
        assert key in used, f"no yaml example of docs/spec.md uses '{key}'"


def test_every_input_form_has_an_example() -> None:
    forms = set()
    for block in BLOCKS:
        for value in (yaml.safe_load(block).get("inputs") or {}).values():
            if isinstance(value, dict):
                forms.add(next(k for k in ("value", "random", "file") if k in value))
                if "random" in value:
                    forms.add(f"random:{value['random']}")
            else:
                forms.add(type(value).__name__)
    assert forms >= {"float", "int", "list", "str", "value", "random", "file",
                     "random:uniform", "random:normal", "random:integers"}


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_loads_evaluates_and_validates(index: int, tmp_path: Path) -> None:
    block = BLOCKS[index]
    # Paths in the examples are relative to a spec in specs/, as in the repository.
    shutil.copytree(ROOT / "specs" / "data", tmp_path / "data")
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    problem = gradcli.load(str(path))
    values = problem.evaluate()
    assert values and all(np.all(np.isfinite(v)) for v in values.values())
    grads = problem.grad()
    assert grads  # every example has at least one source
    data = json.loads(json.dumps(yaml.safe_load(block)))
    assert schema_check.errors(data) == []
    if problem.spec.expect:
        failed = [c for c in compare_expect(problem) if not c.passed]
        assert failed == []
