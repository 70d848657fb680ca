"""Jacobians and Hessians composed from the transformations: a batched VJP
over an identity basis of the output (rev), a batched JVP over an identity
basis of the source (fwd), and forward-over-reverse for Hessians.

The basis is a leaf fed in chunks, so a large Jacobian runs in bounded
memory with one planned program and no Python loop over basis vectors.
With a per-sample axis (`--batch-axis 0`) the basis spans one sample's
elements and is repeated over all samples, so the cost does not grow with
the number of samples beyond evaluating them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli.engine.autodiff import jvp, vjp
from gradcli.engine.basis import BASIS, Basis, restrict
from gradcli.engine.batching import vmap
from gradcli.engine.evaluate import Program, plan
from gradcli.engine.graph import Node, Shape, leaf, toposort
from gradcli.engine.rules import STANDARD, RuleTable
from gradcli.engine.sources import Source

Build = Callable[[int], list[Node | None]]


def rev_builder(y: Node, sources: Sequence[Source], per_sample: bool,
                rules: RuleTable = STANDARD) -> Build:
    """Rows of d y / d source: the VJP, batched over output basis vectors."""

    def build(chunk: int) -> list[Node | None]:
        cot = leaf("cotangent", y.shape, y.dtype)
        grads = vjp([y], [cot], [s.node for s in sources], rules)
        grads = [restrict(g, s, int(per_sample)) for g, s in zip(grads, sources)]
        return vmap(grads, {id(cot): leaf(BASIS, (chunk,) + y.shape, y.dtype)})

    return build


def fwd_builder(ys: Sequence[Node | None], source: Source,
                rules: RuleTable = STANDARD) -> Build:
    """Columns of d y / d source: the JVP, batched over source basis vectors."""
    node = source.node

    def build(chunk: int) -> list[Node | None]:
        tangent = leaf("tangent", node.shape, node.dtype)
        outs = jvp([y for y in ys if y is not None], {id(node): tangent}, rules)
        outs_iter = iter(outs)
        full = [next(outs_iter) if y is not None else None for y in ys]
        return vmap(full, {id(tangent): leaf(BASIS, (chunk,) + node.shape, node.dtype)})

    return build


def per_vector_elements(build: Build) -> int:
    """Elements one basis vector adds to a batched program (its memory slope)."""
    one, two = build(1), build(2)
    return max(1, _graph_size(two) - _graph_size(one))


def _graph_size(nodes: Sequence[Node | None]) -> int:
    return sum(n.size for n in toposort([n for n in nodes if n is not None]))


@dataclass(frozen=True)
class Chunked:
    """A batched program over `basis`, run `chunk` vectors at a time."""

    program: Program
    basis: Basis
    chunk: int
    present: tuple[bool, ...]

    def run(self, values: dict[str, np.ndarray], dtype: str,
            progress: Callable[[int, int], None] | None = None) -> list[np.ndarray | None]:
        count = self.basis.count
        parts: list[list[np.ndarray]] = [[] for _ in self.present]
        # An empty basis still runs once (sliced to nothing) so that the
        # result has its trailing shape: a Jacobian of shape (0, 3) is not ().
        for start in range(0, max(count, 1), self.chunk):
            stop = min(start + self.chunk, count)
            arrays = iter(self.program.run(
                {**values, BASIS: self.basis.chunk(start, stop, self.chunk, dtype)}))
            for i, present in enumerate(self.present):
                if present:
                    parts[i].append(next(arrays)[: stop - start])
            if progress is not None:
                progress(stop, count)
        return [np.concatenate(p) if ok else None for p, ok in zip(parts, self.present)]


def chunked(build: Build, basis: Basis, chunk: int, rules: RuleTable = STANDARD) -> Chunked:
    nodes = build(chunk)
    program = plan([n for n in nodes if n is not None], rules)
    return Chunked(program, basis, chunk, tuple(n is not None for n in nodes))


def choose_chunk(build: Build, count: int, itemsize: int, budget: int,
                 requested: int | None) -> int:
    if requested:
        return max(1, min(requested, count))
    slope = per_vector_elements(build) * itemsize
    return max(1, min(count, budget // slope))


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
