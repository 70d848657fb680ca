"""Jacobians and Hessians composed from the transformations: a batched VJP
over an identity basis of the output (rev), a batched JVP over an identity
basis of the source (fwd), and forward-over-reverse for Hessians.

The basis is a leaf fed in chunks by the chunked runner (`chunks.py`), so a
large Jacobian runs in bounded memory with one planned program and no
Python loop over basis vectors.
With a per-sample axis (`--batch-axis 0`) the basis spans one sample's
elements and is repeated over all samples, so the cost does not grow with
the number of samples beyond evaluating them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcli.engine.basis import BASIS, Basis, restrict
from gradcli.engine.chunks import Chunked, Progress, plan_chunked
from gradcli.engine.graph import Node, Shape, leaf
from gradcli.engine.sources import Source
from gradcli.engine.transforms import Transforms

# The graph of one basis vector: its results, and the leaf the basis replaces
# (fed to the chunked runner under the name BASIS).
OneVector = tuple[list[Node | None], dict[str, Node]]


def rev_vector(y: Node, sources: Sequence[Source], per_sample: bool,
               transforms: Transforms) -> OneVector:
    """Rows of d y / d source: the VJP of one output basis vector."""
    cot = leaf("cotangent", y.shape, y.dtype)
    grads = transforms.vjp([y], [cot], [s.node for s in sources])
    return [restrict(g, s, int(per_sample)) for g, s in zip(grads, sources)], {BASIS: cot}


def fwd_vector(ys: Sequence[Node | None], source: Source, transforms: Transforms) -> OneVector:
    """Columns of d y / d source: the JVP of one source basis vector."""
    node = source.node
    tangent = leaf("tangent", node.shape, node.dtype)
    outs = iter(transforms.jvp([y for y in ys if y is not None], {id(node): tangent}))
    return [next(outs) if y is not None else None for y in ys], {BASIS: tangent}


def hessian_vector(grads: Sequence[Node], source: Source, transforms: Transforms) -> OneVector:
    """Forward over reverse: the JVP of the gradient graph along one basis vector."""
    node = source.node
    tangent = leaf("tangent", node.shape, node.dtype)
    return transforms.jvp(list(grads), {id(node): tangent}), {BASIS: tangent}


# A run of one chunk keeps its basis array (read-only) for the next call up
# to this size, so a warm Jacobian or Hessian call builds no basis either.
KEEP_BASIS_BYTES = 8 << 20


@dataclass(frozen=True)
class BasisRun:
    """A chunked run whose items are the vectors of `basis`."""

    chunked: Chunked
    basis: Basis
    kept: dict[tuple[int, int, int, str], np.ndarray] = field(
        default_factory=dict, compare=False, repr=False)

    def chunk(self, start: int, stop: int, size: int, dtype: str) -> np.ndarray:
        key = (start, stop, size, dtype)
        found = self.kept.get(key)
        if found is None:
            found = self.basis.chunk(start, stop, size, dtype)
            if stop - start == self.chunked.count and found.nbytes <= KEEP_BASIS_BYTES:
                found.flags.writeable = False  # shared by every call: nobody writes it
                self.kept[key] = found
        return found

    def run(self, values: Mapping[str, np.ndarray], dtype: str,
            progress: Progress | None = None) -> list[np.ndarray | None]:
        return self.chunked.run(
            values, lambda start, stop, size: {BASIS: self.chunk(start, stop, size, dtype)},
            progress)


def basis_run(vector: OneVector, basis: Basis, transforms: Transforms, itemsize: int,
              budget: int, requested: int | None) -> BasisRun:
    outputs, stack = vector
    return BasisRun(plan_chunked(outputs, stack, basis.count, transforms, itemsize, budget,
                                 requested), basis)


def rows_to_blocks(rows: np.ndarray, lead: Shape, inner: Shape, samples: int | None,
                   rev: bool) -> np.ndarray:
    """Reorder a stacked (basis, [N,] *inner) result to the documented layout.

    rev: basis over the output (`lead`), rows are d y_k / d src -> lead + inner.
    fwd: basis over the source (`lead`), rows are d y / d src_k -> inner + lead.
    With samples, axis N moves to the front: (N,) + out + src.
    """
    if samples is None:
        shaped = rows.reshape(lead + inner)
        if rev:
            return shaped
        return np.moveaxis(shaped, tuple(range(len(lead))),
                           tuple(range(len(inner), len(inner) + len(lead))))
    shaped = rows.reshape(lead + (samples,) + inner)
    shaped = np.moveaxis(shaped, len(lead), 0)  # (N,) + lead + inner
    if rev:
        return shaped
    k, m = len(lead), len(inner)
    order = (0,) + tuple(range(1 + k, 1 + k + m)) + tuple(range(1, 1 + k))
    return np.transpose(shaped, order)
