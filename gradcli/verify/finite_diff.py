"""Central finite differences of graph nodes with respect to one source, in
float64, for `gradcli check` (method b).

All perturbed points of a chunk run as one batched program (`vmap` of the
function over a stack of perturbed source values), so a source of a few
hundred elements costs a handful of numpy calls, not a Python loop of
evaluations.  The source may be an intermediate node: vmap replaces that node
by the stack, which is exactly "hold everything upstream fixed".

Accuracy: each component gets its own step h = STEP * max(1, |x|), and the
central differences D(h), D(h/2), D(h/4) (each divided by the exact spacing
of its two points) are combined by Richardson extrapolation into R(h) and
R(h/2), with errors O(h**4).  |R(h) - R(h/2)| (about 16 times the error of
R(h/2)) plus the rounding error of the function values divided by the step
is the error estimate that widens the tolerance: a correct derivative never
fails because of the finite difference itself, while the estimate stays
around 1e-10 relative on smooth functions, so a wrong rule shows.

Kinks: a component whose perturbed points fall on different sides of a kink
(a comparison flips, abs/sqrt/sign change sign, maximum/max change winner)
has no meaningful difference quotient; it is reported, not compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli.engine.batching import vmap
from gradcli.engine.evaluate import plan
from gradcli.engine.graph import Node, depends_on, leaf, toposort
from gradcli.engine.ops import nodes as N

STEP = 2.0 ** -9
POINTS = 6  # +-h, +-h/2, +-h/4
EPS = float(np.finfo(np.float64).eps)
# Safety factor on the error estimate: estimates are rough, a rule error is not.
SAFETY = 10.0
# Elements of one batched evaluation (perturbed points x graph elements).
BUDGET = 20_000_000
STACK = "fd:points"
# Ops whose derivative jumps where the sign of their first input changes.
SIGN_KINKS = ("abs", "sign", "sqrt", "cbrt", "pow")


@dataclass(frozen=True)
class Differences:
    """Per sampled component k: the Richardson derivative of every function
    (`values[i]` has shape (K,) + fn_i.shape), its error allowance, and
    whether the points straddle a kink (then `names` says which ops)."""

    values: tuple[np.ndarray, ...]
    allowance: tuple[np.ndarray, ...]
    straddles: np.ndarray
    kinks: tuple[str, ...]


def kink_signatures(functions: Sequence[Node], source: Node) -> list[tuple[str, Node]]:
    """Nodes whose value says on which side of every kink a point lies:
    non-float (piecewise constant) nodes, the sign of the first input of
    abs-like ops, which side wins a maximum, and where a max is attained."""
    live = depends_on(functions, [source])
    out: list[tuple[str, Node]] = []
    for node in toposort(functions):
        if id(node) not in live or node is source:
            continue
        if not node.is_float and node.op != "input":
            out.append((node.op, node))
        elif node.op in SIGN_KINKS and node.inputs[0].is_float:
            out.append((node.op, N.unary("sign", node.inputs[0])))
        elif node.op == "maximum":
            out.append((node.op, N.unary("sign", N.sub(*node.inputs))))
        elif node.op == "max":
            x, axes = node.inputs[0], node.attrs["axes"]
            out.append((node.op, N.compare("eq", x, N.expand_to(node, x.shape, axes))))
    return out


def _points(base: np.ndarray, flat: np.ndarray) -> list[np.ndarray]:
    """x + h, x - h, x + h/2, x - h/2, x + h/4, x - h/4 for the chosen elements."""
    x = base.reshape(-1)[flat]
    h = STEP * np.maximum(1.0, np.abs(x))
    return [x + sign * h / scale for scale in (1, 2, 4) for sign in (1, -1)]


def _stack(base: np.ndarray, flat: np.ndarray, chunk: int) -> tuple[np.ndarray, list]:
    """(POINTS * chunk,) + base.shape perturbed copies of the base value, and
    the exact spacing of each +/- pair; rows past the end of `flat` (in the
    last chunk) stay at the base point."""
    points = _points(base, flat)
    stack = np.broadcast_to(base, (POINTS, chunk) + base.shape).copy()
    view = stack.reshape(POINTS, chunk, -1)
    rows = np.arange(len(flat))
    for j, p in enumerate(points):
        view[j, rows, flat] = p
    spacing = [points[2 * k] - points[2 * k + 1] for k in range(POINTS // 2)]
    return stack.reshape((POINTS * chunk,) + base.shape), spacing


def central(functions: Sequence[Node], source: Node, base: np.ndarray, flat: np.ndarray,
            feed: Mapping[str, np.ndarray]) -> Differences:
    """d function / d source[flat[k]] for each k by central differences.

    `base` is the source's float64 value at the point, `feed` the inputs of the
    graph (an intermediate source still needs its upstream inputs for other
    paths).
    """
    base = np.asarray(base, dtype=np.float64)
    signatures = kink_signatures(functions, source)
    size = sum(n.size for n in toposort(functions)) + base.size
    chunk = int(max(1, min(len(flat), BUDGET // (POINTS * max(1, size)))))
    stacked = leaf(STACK, (POINTS * chunk,) + source.shape, "float64")
    targets = list(functions) + [node for _, node in signatures]
    program = plan(vmap(targets, {id(source): stacked}))
    center = plan([node for _, node in signatures]).run(feed) if signatures else []
    parts: list[list[np.ndarray]] = [[] for _ in functions]
    allow: list[list[np.ndarray]] = [[] for _ in functions]
    straddles: list[np.ndarray] = []
    hit: set[str] = set()
    for start in range(0, len(flat), chunk):
        part = flat[start:start + chunk]
        count = len(part)
        stack, spacing = _stack(base, part, chunk)
        results = program.run({**feed, STACK: stack})
        for i, fn in enumerate(functions):
            values = np.asarray(results[i], dtype=np.float64).reshape(
                (POINTS, chunk) + fn.shape)[:, :count]
            shape = (count,) + (1,) * fn.ndim
            d = [(values[2 * k] - values[2 * k + 1]) / spacing[k].reshape(shape)
                 for k in range(POINTS // 2)]
            coarse = d[1] + (d[1] - d[0]) / 3.0
            fine = d[2] + (d[2] - d[1]) / 3.0
            parts[i].append(fine)
            # Elements the perturbation does not reach have exactly equal
            # values and no rounding error in their differences.
            moved = np.any(values != values[:1], axis=0)
            scale = np.where(moved, np.max(np.abs(values), axis=0), 0.0)
            rounding = EPS * scale / spacing[2].reshape(shape)
            allow[i].append(SAFETY * (np.abs(fine - coarse) + rounding))
        crossed = np.zeros(count, dtype=bool)
        for (op, _), mid, got in zip(signatures, center, results[len(functions):]):
            got = np.asarray(got).reshape((POINTS, chunk) + np.shape(mid))[:, :count]
            flips = np.any((got != np.asarray(mid)).reshape(POINTS, count, -1), axis=(0, 2))
            if flips.any():
                hit.add(op)
            crossed |= flips
        straddles.append(crossed)
    return Differences(tuple(np.concatenate(p) for p in parts),
                       tuple(np.concatenate(a) for a in allow),
                       np.concatenate(straddles) if straddles else np.zeros(0, dtype=bool),
                       tuple(sorted(hit)))
