"""The chunked runner: one planned program over items in chunks, padded
last chunk, results equal to the unchunked ones, several rows per item."""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.engine.chunks import chunk_size, item_elements, plan_chunked
from gradcli.engine.graph import leaf
from gradcli.engine.ops import nodes as N
from gradcli.engine.transforms import standard

X = leaf("x", (3,), "float64")
W = leaf("w", (3,), "float64")
ONE = N.unary("sin", N.mul(X, W))  # one item: x is replaced by a stack of items
VALUES = {"w": np.array([0.5, -1.0, 2.0])}
ITEMS = np.linspace(-1.0, 1.0, 7 * 3).reshape(7, 3)


def _feed(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
    part = ITEMS[start:stop]
    return {"items": np.concatenate([part, np.zeros((size - len(part), 3))])}


@pytest.mark.parametrize("requested", [1, 2, 3, 7, 50])
def test_chunked_runs_equal_one_pass(requested: int) -> None:
    runner = plan_chunked([ONE, None], {"items": X}, len(ITEMS), standard(), 8, 10**9,
                          requested)
    assert runner.size == min(requested, len(ITEMS)) and runner.present == (True, False)
    (got, missing) = runner.run(VALUES, _feed)
    assert missing is None
    np.testing.assert_array_equal(got, np.sin(ITEMS * VALUES["w"]))


def test_the_budget_sizes_the_chunks_from_the_one_item_graph() -> None:
    slope = item_elements([ONE], [X])
    assert slope == 3 * 3  # x, x * w, sin(x * w): w is shared by all items
    runner = plan_chunked([ONE], {"items": X}, len(ITEMS), standard(), 8, 2 * slope * 8)
    assert runner.size == 2 and len(list(runner.spans())) == 4
    assert chunk_size(0, 8, 100) == 1  # no items still run once


def test_several_rows_per_item_come_back_per_chunk() -> None:
    runner = plan_chunked([ONE], {"items": X}, len(ITEMS), standard(), 8, 10**9, 3, rows=2)

    def feed(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
        part = np.zeros((2, size, 3))
        part[0, : stop - start] = ITEMS[start:stop]
        part[1, : stop - start] = -ITEMS[start:stop]
        return {"items": part.reshape(2 * size, 3)}

    seen = []
    for start, stop, (array,) in runner.chunks(VALUES, feed):
        rows = np.asarray(array).reshape(2, runner.size, 3)[:, : stop - start]
        np.testing.assert_array_equal(rows[0], np.sin(ITEMS[start:stop] * VALUES["w"]))
        np.testing.assert_array_equal(rows[1], np.sin(-ITEMS[start:stop] * VALUES["w"]))
        seen.append((start, stop))
    assert seen == [(0, 3), (3, 6), (6, 7)]
    with pytest.raises(ValueError, match="chunks"):
        runner.run(VALUES, feed)
