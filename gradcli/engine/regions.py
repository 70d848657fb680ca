"""Jacobian and Hessian blocks larger than memory: each chunk of a batched
run handed over as the region of the block it fills, for a writer that
keeps the block on disk (`-o FILE.npy`), instead of concatenated in RAM.

A chunk of basis vectors start..stop fills, in the documented layouts
(`blocks.rows_to_blocks`), with L the basis count and I the per-vector
result size (flattened):

| run | samples | the block seen as | region |
|---|---|---|---|
| rev (basis over the output) | no | (L, I) | rows start:stop |
| rev | N | (N, L, I) | [:, start:stop] |
| fwd (basis over the source) | no | (I, L) | columns start:stop |
| fwd | N | (N, I, L) | [:, :, start:stop] |

Only the first is contiguous in the file; the writer decides how to write
the others (render/sinks.py maps them).  Blocks with no run (a zero block)
are left to the writer's zero fill; unconnected ones are never written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gradcli.engine.basis import BASIS
from gradcli.engine.blocks import Block, BlockPlan
from gradcli.engine.chunks import Progress

# write(row, column, view shape, index into that view, data)
Write = Callable[[str, str, tuple[int, ...], tuple[Any, ...], np.ndarray], None]


def region(block: Block, samples: int | None, start: int, stop: int, rows: np.ndarray
           ) -> tuple[tuple[int, ...], tuple[Any, ...], np.ndarray]:
    """(view shape, index, data) of one chunk's rows in its block."""
    lead = int(np.prod(block.lead, dtype=np.int64))
    inner = int(np.prod(block.inner, dtype=np.int64))
    k = stop - start
    every = slice(None)
    if samples is None:
        rows = rows.reshape(k, inner)
        if block.rev:
            return (lead, inner), (slice(start, stop),), rows
        return (inner, lead), (every, slice(start, stop)), rows.T
    rows = rows.reshape(k, samples, inner)
    if block.rev:
        return (samples, lead, inner), (every, slice(start, stop)), rows.transpose(1, 0, 2)
    return (samples, inner, lead), (every, every, slice(start, stop)), rows.transpose(1, 2, 0)


def stream_blocks(block_plan: BlockPlan, values: Mapping[str, np.ndarray], dtype: str,
                  write: Write, progress: Progress | None = None) -> None:
    """Run every batched pass chunk by chunk, handing each block's part to `write`."""
    for index, run in enumerate(block_plan.runs):
        mine = [b for b in block_plan.blocks if b.run == index]
        basis = run.basis

        def feed(start: int, stop: int, size: int, basis: Any = basis) -> dict[str, Any]:
            return {BASIS: basis.chunk(start, stop, size, dtype)}

        for start, stop, arrays in run.chunked.chunks(values, feed, progress):
            for block in mine:
                rows = np.asarray(arrays[block.slot])[: stop - start]
                view, where, data = region(block, block_plan.samples, start, stop, rows)
                write(block.row, block.column, view, where, data)
