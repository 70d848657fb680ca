"""Sweeps (`gradcli plot`): a function of one swept input and its
derivatives along a grid, every other input keeping its value.

The swept input (or one component of an input, `--over 'inp[0,0]=0:1:101'`)
must hold a single number.  Replacing the input by the whole grid at once
would be wrong in general (`sum(x * w)` or `mean(x)` would mix the points),
so the curves are the derivative graphs of ONE point, batched over the grid:

  1. for each output component f, the nested gradients d^k f/dx^k
     (k = 1..order) are built as graphs, exactly as `grad --order k` builds
     them (for a single number, the nested gradient IS the k-th derivative);
  2. the swept input is replaced by a function of one grid point, and the
     chunked runner (`chunks.py`) vmaps the graph over grid points, plans
     it once and runs it chunk by chunk, the last chunk padded.

No Python loop runs over the points (DESIGN: vectorise, never loop), yet
each point is computed exactly as the single-point graph would; a test
checks the curves against `Problem.grad(values=...)` point by point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli.engine.autodiff import sum_all
from gradcli.engine.chunks import plan_chunked
from gradcli.engine.graph import Node, Shape, leaf, substitute
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import getitem, selected_shape
from gradcli.engine.sources import Source
from gradcli.engine.transforms import Transforms, check_growth, check_order
from gradcli.errors import SpecError

DEFAULT_POINTS = 201
MAX_POINTS = 1_000_000
MAX_CURVES = 12  # output components: beyond this a figure is unreadable
CHUNK_ELEMENTS = 20_000_000  # elements of all intermediate arrays in one batched pass
GRID = "sweep-grid"  # the leaf a chunk of grid points is fed to


@dataclass(frozen=True)
class Over:
    """`--over SOURCE=START:STOP[:POINTS]`."""

    source: str
    start: float
    stop: float
    points: int

    def grid(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.points)


@dataclass(frozen=True)
class Series:
    """One curve: the order-th derivative of one output component."""

    output: str      # "y" or "y[1]"
    order: int
    values: np.ndarray


@dataclass(frozen=True)
class Curves:
    title: str
    over: Over
    grid: np.ndarray
    series: tuple[Series, ...]
    notes: tuple[str, ...] = ()


def swept_leaf(leaves: Mapping[str, Node], named: Mapping[str, Node], source: Source,
               over: Over) -> tuple[Node, Shape]:
    """The input leaf behind `--over` and the shape of the swept part (one number)."""
    x = leaves.get(source.name)
    if x is None or named.get(source.name) is not x:
        raise SpecError(f"--over sweeps an input; '{source.name}' is an expression (let or "
                        "output): sweep the inputs it is computed from", "--over")
    shape = x.shape if source.index is None else selected_shape(x.shape, source.index)
    if int(np.prod(shape, dtype=np.int64)) != 1:
        raise SpecError(f"--over {over.source} holds {int(np.prod(shape))} numbers (shape "
                        f"{shape}); sweep a single number, e.g. one component like "
                        f"{source.name}[{', '.join('0' * len(x.shape)) or '0'}]", "--over")
    return x, shape


def sweep(chosen: Sequence[tuple[str, Node]], source: Source, x: Node, shape: Shape,
          values: Mapping[str, np.ndarray], over: Over, order: int, title: str,
          transforms: Transforms) -> Curves:
    """Every component of the `chosen` outputs and its derivatives 1..order
    along the grid of `over`, `x` being the swept leaf (see `swept_leaf`)."""
    nodes, labels, notes = _derivative_graphs(_components(chosen), source, x, order,
                                              transforms)
    columns = _run_over_grid(nodes, source, x, shape, values, over, transforms)
    series = tuple(Series(label, k, column) for (label, k), column in zip(labels, columns))
    if any(not np.all(np.isfinite(s.values)) for s in series):
        notes.append("some values are NaN or infinite; a figure leaves them out")
    return Curves(title, over, over.grid().astype(x.dtype), series, tuple(notes))


def _components(chosen: Sequence[tuple[str, Node]]) -> list[tuple[str, Node]]:
    """(label, scalar node) for every element of the chosen outputs."""
    functions: list[tuple[str, Node]] = []
    for name, node in chosen:
        if not node.is_float:
            raise SpecError(f"output '{name}' is {node.dtype}: only float outputs can be "
                            "plotted", "--output")
        for flat in range(node.size):
            index = tuple(int(i) for i in np.unravel_index(flat, node.shape))
            # A one-element output (a (1, 1) network output) is just its name.
            label = name + (f"[{', '.join(map(str, index))}]" if node.size > 1 else "")
            element = getitem(node, index) if node.shape else node
            functions.append((label, N.reshape(element, ())))
    if len(functions) > MAX_CURVES:
        raise SpecError(f"the selected outputs have {len(functions)} components; a plot "
                        f"shows at most {MAX_CURVES}: select fewer with --output, or reduce "
                        "them in an expression (sum, mean, an index)", "--output")
    return functions


def _derivative_graphs(functions: list[tuple[str, Node]], source: Source, x: Node, order: int,
                       transforms: Transforms
                       ) -> tuple[list[Node], list[tuple[str, int]], list[str]]:
    """Each function and its nested gradients w.r.t. the swept number, as
    scalar nodes of one point, with (label, order) and notes in words."""
    check_order(order)
    nodes: list[Node] = []
    labels: list[tuple[str, int]] = []
    notes: list[str] = []
    for label, f in functions:
        current = f
        nodes.append(f)
        labels.append((label, 0))
        for k in range(1, order + 1):
            if k > 1:
                check_growth([current], f"the order-{k - 1} derivative of {label}",
                             f"order {k}", "ask for a lower order", "--order")
            total = sum_all(current)
            (g,) = transforms.vjp([total], [N.fill(1.0, (), total.dtype)], [x])
            if g is not None and source.index is not None:
                g = getitem(g, source.index)
            if g is None:
                if k == 1:
                    notes.append(f"{label} does not depend on {source.key}: its derivatives "
                                 "are 0")
                g = N.fill(0.0, (), f.dtype)
            current = N.reshape(g, ())
            nodes.append(current)
            labels.append((label, k))
    return nodes, labels, notes


def _run_over_grid(nodes: list[Node], source: Source, x: Node, shape: Shape,
                   values: Mapping[str, np.ndarray], over: Over,
                   transforms: Transforms) -> list[np.ndarray]:
    """The one-point graphs, with the swept input a function of one grid
    point, run over the grid by the chunked runner."""
    point = leaf("sweep-point", (), x.dtype)  # the swept number, then its batch
    if source.index is None:
        swept = N.reshape(point, x.shape)
    else:
        swept = apply("setitem", (x, N.reshape(point, shape)), {"index": source.index})
    one_point = substitute(nodes, {id(x): swept})
    itemsize = np.dtype(x.dtype).itemsize
    runner = plan_chunked(one_point, {GRID: point}, over.points, transforms, itemsize,
                          CHUNK_ELEMENTS * itemsize)
    grid = over.grid().astype(x.dtype)

    def feed(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
        part = grid[start:stop]  # the last chunk is padded with its last point
        return {GRID: np.concatenate([part, np.full(size - len(part), part[-1], x.dtype)])}

    return [column for column in runner.run(values, feed) if column is not None]
