"""docs/networks.md stays true: its layer reference is the registry's own
(regenerate with `python -m gradcli.language.layers.reference`), every
command it shows prints what it says, and every YAML example of a model in
it loads."""

from __future__ import annotations

import re

import pytest
import yaml
from readme_blocks import ROOT, examples, run

from gradcli.language.layers import REGISTRY
from gradcli.language.layers.reference import BEGIN, END, render_markdown

DOC = (ROOT / "docs" / "networks.md").read_text(encoding="utf-8")


def test_the_layer_reference_is_generated_from_the_registry() -> None:
    assert render_markdown() in DOC, "run python -m gradcli.language.layers.reference"
    section = DOC[DOC.index(BEGIN):DOC.index(END)]
    assert all(f"#### `{name}`" in section for name in REGISTRY)


@pytest.mark.parametrize("example", examples(DOC), ids=lambda e: e.command)
def test_commands_print_what_the_page_shows(example) -> None:
    assert run(example.command) == example.shown


LAYER_LISTS = [block for block in re.findall(r"```yaml\n(.*?)```", DOC, re.S)
               if "layers:" in block]


@pytest.mark.parametrize("block", LAYER_LISTS, ids=range(len(LAYER_LISTS)))
def test_every_model_example_reads(block: str) -> None:
    from gradcli.language.models import parse_models
    from gradcli.language.yamlread import read_yaml

    doc = read_yaml(block, "<networks.md>")
    models = doc.data["models"]
    for body in models.values():
        body.pop("weights", None)  # files live beside the specs, not the docs
    parsed = parse_models(doc, models, ROOT / "specs", {})
    assert parsed and all(m.layers for m in parsed.values())
    assert yaml.safe_load(block)
