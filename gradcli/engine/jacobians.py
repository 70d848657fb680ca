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

from gradcli.engine.autodiff import jvp, sum_all, vjp
from gradcli.engine.batching import vmap
from gradcli.engine.evaluate import Program, plan
from gradcli.engine.graph import Node, Shape, leaf, toposort
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import getitem, selected_shape
from gradcli.engine.rules import STANDARD, RuleTable
from gradcli.engine.sources import Source

BASIS = "basis:"
Build = Callable[[int], list[Node | None]]


@dataclass(frozen=True)
class Basis:
    """Unit vectors over a component of an array of `shape`; with
    `per_sample`, over one sample's elements, repeated along axis 0."""

    shape: Shape
    index: tuple | None = None
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
    return Basis(source.node.shape, source.index, per_sample).inner


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


def gradient_nodes(outputs: Sequence[Node], sources: Sequence[Source],
                   per_sample: bool, rules: RuleTable = STANDARD) -> list[Node | None]:
    """Components of d(sum of outputs)/d(source): what a Hessian differentiates."""
    total = sum_all(outputs[0])
    for extra in outputs[1:]:
        total = N.add(total, sum_all(extra))
    grads = vjp([total], [N.fill(1.0, (), total.dtype)], [s.node for s in sources], rules)
    return [restrict(g, s, int(per_sample)) for g, s in zip(grads, sources)]


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


def jacobian_node(y: Node, source: Source, rules: RuleTable = STANDARD) -> Node | None:
    """The whole Jacobian d y / d source as one node of shape y.shape + source
    shape (for `jacobian(expr, wrt)` inside expressions): a batched VJP over
    a constant identity basis, so it is a graph and differentiable again."""
    from gradcli.engine.graph import const

    inner = source_inner(source, False)
    if y.size == 0:
        return N.fill(0.0, y.shape + inner, y.dtype)
    eye = np.eye(y.size, dtype=y.dtype).reshape((y.size,) + y.shape)
    cot = leaf("cotangent", y.shape, y.dtype)
    (g,) = vjp([y], [cot], [source.node], rules)
    g = restrict(g, source, 0)
    if g is None:
        return None
    (rows,) = vmap([g], {id(cot): const(eye)})
    return N.reshape(rows, y.shape + inner)


def hessian_node(y: Node, source: Source, rules: RuleTable = STANDARD) -> Node | None:
    """d²(sum of y)/d source² as one node (source shape twice)."""
    (g,) = gradient_nodes([y], [source], False, rules)
    if g is None:
        return None
    from gradcli.engine.graph import const

    inner = source_inner(source, False)
    count = int(np.prod(inner, dtype=np.int64))
    basis = Basis(source.node.shape, source.index).chunk(0, count, count, y.dtype)
    tangent = leaf("tangent", source.node.shape, source.node.dtype)
    (tg,) = jvp([g], {id(source.node): tangent}, rules)
    if tg is None:
        return N.fill(0.0, inner + inner, y.dtype)
    (cols,) = vmap([tg], {id(tangent): const(basis)})
    # cols[k] = d g / d src_k: move the basis axis last -> inner + inner
    stacked = N.reshape(cols, inner + inner)
    k = len(inner)
    return N.transpose(stacked, tuple(range(k, 2 * k)) + tuple(range(k)))
