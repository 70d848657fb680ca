"""Identity bases over a source (or an output), fed to batched passes in
chunks, and the component of a gradient a Source selects.

With a per-sample axis (`--batch-axis 0`) the basis spans one sample's
elements and is repeated over all samples, so the cost does not grow with
the number of samples beyond evaluating them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcli.engine.graph import Index, Node, Shape
from gradcli.engine.ops.structure import getitem, selected_shape
from gradcli.engine.sources import Source

BASIS = "basis:"  # the name of the leaf a chunk of basis vectors is fed to


@dataclass(frozen=True)
class Basis:
    """Unit vectors over a component of an array of `shape`; with
    `per_sample`, over one sample's elements, repeated along axis 0."""

    shape: Shape
    index: Index | None = None
    per_sample: bool = False

    @property
    def inner(self) -> Shape:
        base = self.shape[1:] if self.per_sample else self.shape
        return selected_shape(base, self.index) if self.index is not None else base

    @property
    def count(self) -> int:
        return int(np.prod(self.inner, dtype=np.int64))

    def chunk(self, start: int, stop: int, size: int, dtype: str) -> np.ndarray:
        """Basis vectors start..stop-1 as a (size,) + shape array, zero-padded."""
        out = np.zeros((size,) + self.shape, dtype=dtype)
        lead = (slice(None),) * (2 if self.per_sample else 1)
        view = out[lead + tuple(self.index or ())]  # basic indexing: a view into out
        rows = np.arange(stop - start)
        where = tuple(np.unravel_index(np.arange(start, stop), self.inner)) if self.inner else ()
        samples = (slice(None),) if self.per_sample else ()
        view[(rows,) + samples + where] = 1
        return out


def restrict(g: Node | None, source: Source, lead: int) -> Node | None:
    """The component of a gradient (after `lead` batch/sample axes)."""
    if g is None or source.index is None:
        return g
    return getitem(g, (slice(None),) * lead + tuple(source.index))


def source_inner(source: Source, per_sample: bool) -> Shape:
    """The shape of a source's component (one sample's, with `per_sample`)."""
    return Basis(source.node.shape, source.index, per_sample).inner
