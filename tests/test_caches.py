"""Caches are bounded: a Problem remembers its planned requests in an LRU,
so a long-lived process asking for ever new requests keeps a fixed number."""

from __future__ import annotations

import gradcli
from gradcli.api import PLANS
from gradcli.engine.lru import LRU


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # "a" is now the most recent
    cache["c"] = 3
    assert dict(cache) == {"a": 1, "c": 3}
    assert len(cache) == 2 and "b" not in cache


def test_a_problem_keeps_at_most_plans_requests() -> None:
    problem = gradcli.load({"inputs": {"x": [1.0, 2.0, 3.0]}, "outputs": {"y": "x * x"}})
    for k in range(PLANS + 10):
        problem.jacobian(chunk_size=1 + k % 3, max_memory=10**6 + k)
    assert len(problem._plans) <= PLANS
    expected = problem.jacobian()["y"]["x"]
    assert (expected == [[2.0, 0, 0], [0, 4.0, 0], [0, 0, 6.0]]).all()
