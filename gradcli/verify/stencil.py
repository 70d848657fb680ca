"""Central finite-difference stencils over forward values, for `gradcli check`.

A derivative is asked for as a list of axes, each a direction in the leaves
(one element, or several moved together) with an order along it: d/dx_k is
one axis of order 1; d²/dx_i dx_j two axes of order 1; d²/dx_k² one axis of
order 2; the N-th nested gradient d/dx_k (d/dt)^(N-1) f(x + t u) an axis of
order N-1 along u and one of order 1 along x_k.  The stencil is the tensor
product of the one-dimensional central differences (error O(h²)), taken at
six steps h, h/2, ..., h/32; consecutive pairs are combined by Richardson
extrapolation into R_0 ... R_4 (error O(h⁴)), and each element keeps the
R_k with the smallest estimated error.  Only forward values enter: the
engine's derivative rules are never run.

All points of a chunk of derivatives run as one batched program (`vmap` of
the functions over a stack of perturbed leaf values), chunk by chunk, by
the chunked runner of Jacobians, plots and sweeps (engine/chunks.py).  Steps are powers of
two no smaller than 2^-13 max(1, |x|), so every perturbed point x + o h is
exact and the divisions by h are exact too.

Error estimate of R_k (honest, no safety factor): the larger of
|R_k - R_(k-1)| and |R_(k+1) - R_k| (in the asymptotic regime 15 and 15/16
times the truncation error of R_k; requiring both neighbours to agree keeps
a chance agreement at too large a step from passing as accuracy), plus the
rounding of the function values, eps * sum_p |c_p| max(|f_p|, S) over the
points p with their coefficients c_p in R_k, S the largest |value| of any
node between the perturbed leaves and the function (a value computed
through 1e8 carries errors of eps * 1e8 however small it is: without S, a
cancellation made correlated rounding look like accuracy).  Elements the
perturbation does not move have exactly zero difference and no rounding
error.

Kinks: at each point the stencil also evaluates nodes that say on which side
of every kink the point lies (comparisons and other non-float nodes, the
sign of the first input of abs/sign/sqrt/cbrt/pow (not x ** n for a constant
whole n >= 0, which is smooth), which side of a maximum wins, where a max is
attained).  A derivative whose points do not all agree
with the centre straddles a kink: its difference quotient means nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from itertools import product
from math import factorial, prod

import numpy as np

from gradcli.engine.chunks import Chunked, plan_chunked
from gradcli.engine.evaluate import plan
from gradcli.engine.graph import Node, depends_on, toposort
from gradcli.engine.ops import nodes as N
from gradcli.engine.rules import NO_RULES
from gradcli.engine.transforms import standard

EPS = float(np.finfo(np.float64).eps)
DIVISORS = (1, 2, 4, 8, 16, 32)   # the steps h ... h/32: runs of four
BUDGET = 20_000_000           # elements of one batched evaluation
STACK = "fd:stack:"
# Ops whose derivative jumps where the sign of their first input changes.
SIGN_KINKS = ("abs", "sign", "sqrt", "cbrt", "pow")


@dataclass(frozen=True)
class Axis:
    """One direction of a stencil for C derivatives at once: in leaf `leaf`,
    the elements `positions[c]` (flat, moved together) by steps `steps[c]`;
    `order` is the derivative's order along it."""

    leaf: str
    order: int
    positions: np.ndarray   # (C, m) ints
    steps: np.ndarray       # (C,) floats, powers of two


@dataclass(frozen=True)
class Stencil:
    """Per derivative c: the Richardson value of each function
    (`values[i]` has shape (C,) + fn_i.shape), its estimated error, and the
    ops whose side changes among its points (empty: no kink in reach)."""

    values: tuple[np.ndarray, ...]
    errors: tuple[np.ndarray, ...]
    kinks: tuple[frozenset[str], ...]


@cache
def central(order: int) -> tuple[tuple[int, Fraction], ...]:
    """(offset, weight) of the central difference of the order-th derivative
    with unit step, error O(h²): offsets -p..p, p = (order + 1) // 2, weights
    solving sum_o w_o o^m = m! [m == order] exactly (fractions)."""
    p = (order + 1) // 2
    offsets = list(range(-p, p + 1))
    n = len(offsets)
    rows = [[Fraction(o) ** m for o in offsets] + [Fraction(factorial(m) if m == order else 0)]
            for m in range(n)]
    for col in range(n):  # Gauss-Jordan on a small, exactly solvable system
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return tuple((o, rows[k][n]) for k, o in enumerate(offsets) if rows[k][n] != 0)


def power_of_two_steps(base: float, magnitude: np.ndarray) -> np.ndarray:
    """The largest power of two <= base * max(1, |x|) (1 where |x| is not finite)."""
    scale = np.where(np.isfinite(magnitude), np.maximum(1.0, np.abs(magnitude)), 1.0)
    return 2.0 ** np.floor(np.log2(base * scale))


def kink_signatures(functions: Sequence[Node], sources: Sequence[Node]
                    ) -> list[tuple[str, Node]]:
    """Nodes whose value says on which side of every kink a point lies."""
    live = depends_on(functions, sources)
    ids = {id(s) for s in sources}
    out: list[tuple[str, Node]] = []
    for node in toposort(functions):
        if id(node) not in live or id(node) in ids:
            continue
        if not node.is_float and node.op != "input":
            out.append((node.op, node))
        elif node.op in SIGN_KINKS and node.inputs[0].is_float and not _whole_power(node):
            out.append((node.op, N.unary("sign", node.inputs[0])))
        elif node.op == "maximum":
            out.append((node.op, N.unary("sign", N.sub(*node.inputs))))
        elif node.op == "max":
            x, axes = node.inputs[0], node.attrs["axes"]
            out.append((node.op, N.compare("eq", x, N.expand_to(node, x.shape, axes))))
    return out


def _whole_power(node: Node) -> bool:
    """x ** n with n a constant whole number >= 0: smooth through x = 0."""
    if node.op != "pow":
        return False
    exponent = node.inputs[1]
    if exponent.op == "fill":
        values = np.asarray(exponent.attrs["value"])
    elif exponent.op == "const":
        values = np.asarray(exponent.attrs["value"])
    else:
        return False
    return bool(values.size) and bool(np.all((values >= 0) & (values == np.round(values))))


def _grid(axes: Sequence[Axis]) -> list[tuple[tuple[int, ...], float]]:
    """Offsets and weights of the tensor-product stencil (unit steps)."""
    per_axis = [central(a.order) for a in axes]
    return [(tuple(o for o, _ in combo), float(prod(w for _, w in combo)))
            for combo in product(*per_axis)]


class Stenciler:
    """Runs stencils on one graph at one point, remembering planned programs."""

    def __init__(self, feed: Mapping[str, np.ndarray], leaves: Mapping[str, Node]) -> None:
        self.feed = feed
        self.leaves = leaves
        self._programs: dict[tuple, tuple[Chunked, list[tuple[str, Node]], list]] = {}
        self._scales: dict[tuple, list[float]] = {}

    def scales(self, functions: Sequence[Node], names: tuple[str, ...]) -> list[float]:
        """Per function, the largest |value| at the point of any float node
        between the perturbed leaves and it (the function included): its
        values carry rounding errors of about eps times that, however small
        the function itself is after cancellation ((x*x + 1e8) - 1e8)."""
        key = (tuple(id(f) for f in functions), names)
        if key not in self._scales:
            live = depends_on(functions, [self.leaves[n] for n in names])
            found: dict[int, float] = {}
            nodes = [n for n in toposort(functions) if id(n) in live and n.is_float]
            batch: list[Node] = []
            for node in nodes + [None]:
                if node is not None and sum(n.size for n in batch) + node.size <= BUDGET:
                    batch.append(node)
                    continue
                if batch:
                    for n, v in zip(batch, plan(batch, NO_RULES).run(self.feed)):
                        v = np.abs(np.asarray(v, dtype=np.float64))
                        found[id(n)] = float(v[np.isfinite(v)].max(initial=0.0))
                batch = [node] if node is not None else []
            self._scales[key] = [
                max([found.get(id(n), 0.0) for n in toposort([f]) if id(n) in found],
                    default=0.0) for f in functions]
        return self._scales[key]

    def _program(self, functions: Sequence[Node], names: tuple[str, ...], points: int,
                 chunk: int) -> tuple[Chunked, list[tuple[str, Node]], list]:
        """The functions and kink signatures batched over `chunk` derivatives of
        `points` perturbed points each, by the chunked runner (engine/chunks.py),
        planned once with no rewrite rules."""
        key = (tuple(id(f) for f in functions), names, points, chunk)
        if key not in self._programs:
            sources = [self.leaves[n] for n in names]
            signatures = kink_signatures(functions, sources)
            center = plan([n for _, n in signatures], NO_RULES).run(self.feed) \
                if signatures else []
            targets = list(functions) + [n for _, n in signatures]
            runner = plan_chunked(targets, {STACK + n: self.leaves[n] for n in names}, chunk,
                                  standard(NO_RULES), 8, BUDGET * 8, chunk, rows=points)
            self._programs[key] = (runner, signatures, center)
        return self._programs[key]

    def run(self, functions: Sequence[Node], axes: Sequence[Axis]) -> Stencil:
        """Derivatives of every function along `axes` for each of the C rows."""
        count = len(axes[0].steps)
        names = tuple(sorted({a.leaf for a in axes}))
        grid = _grid(axes)
        points = [(d, offsets, w) for d in DIVISORS for offsets, w in grid]
        size = sum(n.size for n in toposort(functions)) + sum(
            self.leaves[n].size for n in names)
        # Sized from every node (not only the moving ones, as plan_chunked
        # would): the chunks, hence the numbers, stay those check always gave.
        chunk = int(max(1, min(count, BUDGET // (len(points) * max(1, size)))))
        runner, signatures, center = self._program(functions, names, len(points), chunk)
        scales = self.scales(functions, names)
        values: list[list[np.ndarray]] = [[] for _ in functions]
        errors: list[list[np.ndarray]] = [[] for _ in functions]
        kinks: list[frozenset[str]] = []

        def feed(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
            rows = np.arange(start, stop)
            return {STACK + name: self._stack(name, axes, points, rows, size) for name in names}

        for start, stop, results in replace(runner, count=count).chunks(self.feed, feed):
            rows = np.arange(start, stop)
            weights = self._weights(axes, points, rows)
            for i, fn in enumerate(functions):
                f = np.asarray(results[i], dtype=np.float64).reshape(
                    (len(points), chunk) + fn.shape)[:, :len(rows)]
                value, error = _richardson(f, weights, len(grid), scales[i])
                values[i].append(value)
                errors[i].append(error)
            kinks += _kinks(signatures, center, results[len(functions):], len(points), chunk,
                            len(rows))
        return Stencil(tuple(np.concatenate(v) for v in values),
                       tuple(np.concatenate(e) for e in errors), tuple(kinks))

    def _stack(self, name: str, axes: Sequence[Axis], points: list, rows: np.ndarray,
               chunk: int) -> np.ndarray:
        """(P * chunk,) + shape perturbed copies of the leaf's value; rows past
        the end (in the last chunk) stay at the base point."""
        base = np.asarray(self.feed[name], dtype=np.float64)
        delta = np.zeros((len(points), chunk, base.size))
        local = np.arange(len(rows))[:, None]
        for p, (divisor, offsets, _) in enumerate(points):
            for axis, o in zip(axes, offsets):
                if axis.leaf == name and o:
                    step = o * axis.steps[rows] / divisor
                    delta[p][local, axis.positions[rows]] += step[:, None]
        return (base.reshape(1, 1, -1) + delta).reshape((len(points) * chunk,) + base.shape)

    @staticmethod
    def _weights(axes: Sequence[Axis], points: list, rows: np.ndarray) -> np.ndarray:
        """(P, C) weight of each point in the difference of its own step."""
        out = np.empty((len(points), len(rows)))
        for p, (divisor, _, w) in enumerate(points):
            scale = np.ones(len(rows))
            for axis in axes:
                scale = scale * (axis.steps[rows] / divisor) ** axis.order
            out[p] = w / scale
        return out


def _richardson(f: np.ndarray, weights: np.ndarray, per_level: int, scale: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """The best Richardson value from the levels of `f` (P, C, ...) and its
    estimated error (module doc); per element, the R_k with the smallest
    estimate (large steps lose to truncation, small ones to rounding; where
    a function varies faster than max(1, |x|) suggests, a smaller step wins)."""
    shape = weights.shape + (1,) * (f.ndim - 2)
    w = weights.reshape(shape)
    terms = w * f
    magnitude = np.abs(w) * np.maximum(np.abs(f), scale)
    count = len(DIVISORS)
    levels = [terms[k * per_level:(k + 1) * per_level].sum(axis=0) for k in range(count)]
    sizes = [magnitude[k * per_level:(k + 1) * per_level].sum(axis=0) for k in range(count)]
    richardson = [(4.0 * levels[k + 1] - levels[k]) / 3.0 for k in range(count - 1)]
    fine = richardson[1]
    error = np.full(fine.shape, np.inf)
    for k in range(1, count - 2):
        rounding = EPS * (4.0 / 3.0 * sizes[k + 1] + 1.0 / 3.0 * sizes[k])
        estimate = np.maximum(np.abs(richardson[k] - richardson[k - 1]),
                              np.abs(richardson[k + 1] - richardson[k])) + rounding
        better = estimate < error
        fine = np.where(better, richardson[k], fine)
        error = np.where(better, estimate, error)
    moved = np.any(f != f[:1], axis=0)
    fine = np.where(moved, fine, 0.0)
    error = np.where(moved, error, 0.0)
    error = np.where(np.isfinite(fine) & np.isfinite(error), error, np.inf)
    return fine, error


def _kinks(signatures: list[tuple[str, Node]], center: list, results: list, points: int,
           chunk: int, count: int) -> list[frozenset[str]]:
    hit: list[set[str]] = [set() for _ in range(count)]
    for (op, _), mid, got in zip(signatures, center, results):
        mid = np.asarray(mid)
        got = np.asarray(got).reshape((points, chunk) + mid.shape)[:, :count]
        same = got == mid
        if mid.dtype.kind == "f":
            same |= np.isnan(got) & np.isnan(mid)
        flips = ~np.all(same.reshape(points, count, -1), axis=(0, 2))
        for c in np.flatnonzero(flips):
            hit[c].add(op)
    return [frozenset(h) for h in hit]
