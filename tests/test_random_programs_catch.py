"""The property suite can fail: with a deliberately wrong rewrite rule in the
engine's table, programs drawn by the same generator fail the properties
that compare against references built without the engine's rules."""

from __future__ import annotations

import pytest
from propcheck import run_seed

import gradcli.api
from gradcli.engine.graph import Node
from gradcli.engine.rules import STANDARD, Rule

SEEDS = range(60)


def _constant_is_one(node: Node, rw: object) -> Node | None:
    """Takes any uniform constant factor for 1 (the mul-one rule, too eager)."""
    a, b = node.inputs
    if b.op == "fill" and a.shape == node.shape and a.dtype == node.dtype:
        return a
    return None


def _drop_negation(node: Node, rw: object) -> Node | None:
    return node.inputs[0]


WRONG_FACTOR = Rule("wrong-factor", ("mul",), _constant_is_one,
                    "deliberately wrong: x * c = x for any constant c",
                    passes=frozenset({"evaluate"}))
WRONG_NEGATION = Rule("wrong-neg", ("neg",), _drop_negation, "deliberately wrong: -x = x",
                      passes=frozenset({"build"}))


@pytest.mark.parametrize("rule,caught_by", [
    (WRONG_NEGATION, {"a1", "f", "e"}),   # derivative programs only
    (WRONG_FACTOR, {"e", "f"}),            # every program as it is planned
])
def test_a_wrong_rule_fails_the_property_suite(monkeypatch: pytest.MonkeyPatch, rule: Rule,
                                               caught_by: set[str]) -> None:
    assert not any(run_seed(s).failures for s in SEEDS[:5])
    monkeypatch.setattr(gradcli.api, "STANDARD", STANDARD.with_rule(rule))
    failed = {f.prop for s in SEEDS for f in run_seed(s).failures}
    assert failed & caught_by, failed
