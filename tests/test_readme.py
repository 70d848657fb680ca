"""Every command shown in README.md prints exactly what the README says."""

from __future__ import annotations

import pytest
from readme_blocks import ROOT, examples, run

EXAMPLES = examples((ROOT / "README.md").read_text())


def test_the_readme_has_examples_for_every_question() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.command for e in EXAMPLES])
def test_readme_command_output(example) -> None:
    assert run(example.command) == example.shown
