"""The one chunked runner: a graph of ONE item, batched by vmap along a new
leading axis, planned once for a chunk of items, and run chunk by chunk.

Jacobian and Hessian blocks (an item is a basis vector), `gradcli plot`
(an item is a grid point), finite differences (an item is a derivative,
`rows` perturbed points each) and `--points` sweeps (an item is a point)
are all this loop.  Whoever plans a chunked run says what an item
is by the nodes it stacks, and what a chunk holds by a `Feed`; the runner
sizes the chunks, plans, pads the last chunk and reports progress.

Sizing reads the one-item graph, built once: an item adds a slot of every
node that depends on a stacked node (the rest is shared by all items), so
`budget // (that many elements * itemsize)` items fit in a chunk.  The
graph is then vmapped and planned once, at that size.

Finite differences (verify/stencil.py) are
`plan_chunked(functions + kink signatures, {STACK + leaf: leaf}, C,
standard(NO_RULES), 8, BUDGET * 8, chunk, rows=POINTS)`: an item is one of
the C derivatives, its POINTS perturbed points are its rows, the Feed
returns the perturbed stacks of derivatives start..stop-1, and the
Richardson step runs per chunk on what `chunks()` yields, reshaped to
(POINTS, size) + shape.  They pass their own chunk size (`requested`),
sized from every node as `check` always did, so their numbers are the
ones check gave before it used this runner, bit for bit.

`--points` sweeps are this loop too, with an item a point: their "program"
is a whole request (values, a gradient, Jacobian or Hessian blocks with
`--batch-axis 0`) planned for a chunk of points, anything with
`run(values) -> arrays` (`Runs`), sized by `program_elements` measured at
two sizes.  The chunks can also run elsewhere (Dask workers): `feeds()`
gives what each chunk is fed, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gradcli.engine.evaluate import Program
from gradcli.engine.graph import Node, depends_on, leaf, toposort
from gradcli.engine.transforms import Transforms

# (start, stop, size) -> the stacked leaves' values for items start..stop-1,
# each with a leading axis of rows * size (items past `stop` are padding).
Feed = Callable[[int, int, int], Mapping[str, np.ndarray]]
Progress = Callable[[int, int], None]


class Runs(Protocol):
    """What a chunk runs: a planned Program, or a request planned for a chunk."""

    def run(self, values: Mapping[str, np.ndarray]) -> list[np.ndarray]: ...


def program_elements(program: Program) -> int:
    """Elements of every value a planned program holds at some time (its
    leaves, constants and step results): an upper bound on its memory, in
    elements, since slots are freed after their last reader."""
    return (sum(node.size for _, _, node in program.leaves)
            + sum(int(np.size(value)) for _, value in program.constants)
            + sum(step.node.size for step in program.steps))


def item_elements(outputs: Sequence[Node], stacked: Sequence[Node]) -> int:
    """Elements one item adds to the batched program (its memory slope)."""
    live = depends_on(outputs, stacked)
    order = toposort(outputs)
    moving = sum(n.size for n in order if id(n) in live)
    # outputs that do not depend on the stack are broadcast along it
    broadcast = sum(o.size for o in outputs if id(o) not in live)
    return max(1, moving + broadcast)


def chunk_size(count: int, item_bytes: int, budget: int, requested: int | None = None) -> int:
    """Items per chunk: as asked (`--chunk-size`), else as many as the budget holds."""
    count = max(count, 1)
    if requested:
        return max(1, min(requested, count))
    return max(1, min(count, budget // max(1, item_bytes)))


@dataclass(frozen=True)
class Chunked:
    """A planned batched program over `count` items, `size` items a chunk."""

    program: Program | Runs
    count: int
    size: int
    present: tuple[bool, ...]   # which of the one-item outputs exist (None: no result)
    rows: int = 1               # leading rows per item in the stacked leaves and results

    def spans(self) -> Iterator[tuple[int, int]]:
        """(start, stop) of every chunk.  No items still run once (sliced to
        nothing), so results keep their trailing shape: (0, 3), not ()."""
        for start in range(0, max(self.count, 1), self.size):
            yield start, min(start + self.size, self.count)

    def chunks(self, values: Mapping[str, np.ndarray], feed: Feed,
               progress: Progress | None = None
               ) -> Iterator[tuple[int, int, list[np.ndarray]]]:
        """(start, stop, arrays of the present outputs) per chunk, padding
        included: for callers that reduce or stream each chunk themselves
        (finite differences, results written to disk)."""
        for start, stop, fed in self.feeds(feed):
            arrays = self.program.run({**values, **fed})
            yield start, stop, arrays
            if progress is not None:
                progress(stop, self.count)

    def feeds(self, feed: Feed) -> Iterator[tuple[int, int, Mapping[str, np.ndarray]]]:
        """(start, stop, what the chunk is fed) per chunk, in order."""
        for start, stop in self.spans():
            yield start, stop, feed(start, stop, self.size)

    def run(self, values: Mapping[str, np.ndarray], feed: Feed,
            progress: Progress | None = None) -> list[np.ndarray | None]:
        """Every output over all items, concatenated along axis 0 (rows == 1)."""
        if self.rows != 1:
            raise ValueError("run() concatenates items; with several rows per item, "
                             "reduce each chunk from chunks()")
        parts: list[list[np.ndarray]] = [[] for _ in self.present]
        slots = [i for i, ok in enumerate(self.present) if ok]
        for start, stop, arrays in self.chunks(values, feed, progress):
            for i, array in zip(slots, arrays):
                parts[i].append(np.asarray(array)[: stop - start])
        return [np.concatenate(p) if ok else None for p, ok in zip(parts, self.present)]


def plan_chunked(outputs: Sequence[Node | None], stack: Mapping[str, Node], count: int,
                 transforms: Transforms, itemsize: int, budget: int,
                 requested: int | None = None, rows: int = 1) -> Chunked:
    """Plan `outputs` (the graph of one item) batched over `count` items.

    `stack` maps the name of a leaf the batches are fed to onto the one-item
    node it replaces (a basis vector's leaf, a grid point's, a source's).
    `budget` is in bytes; `requested` fixes the items per chunk instead."""
    present = [o for o in outputs if o is not None]
    slope = item_elements(present, list(stack.values())) * rows
    size = chunk_size(count, slope * itemsize, budget, requested)
    stacked = {id(node): leaf(name, (rows * size,) + node.shape, node.dtype)
               for name, node in stack.items()}
    program = transforms.plan([o for o in transforms.vmap(present, stacked) if o is not None])
    return Chunked(program, count, size, tuple(o is not None for o in outputs), rows)
