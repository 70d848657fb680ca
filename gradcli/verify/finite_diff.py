"""Finite differences of the reference forward graph for each checked
quantity (method b of `gradcli check`), and the kink flags both references
share.

A quantity is split into *units*, the derivatives one stencil computes:

- grad: a unit is source component k, the stencil d/dx_k of the sum of the
  outputs;
- orders N: component k, d/dx_k (d/dt)^(N-1) of the sum of f(x + t u), u =
  ones over the source's components (`grad --order N`'s nesting);
- jacobian: component k, d/dx_k of every element of the output;
- hessian: a pair (i, j) of components, d²/dx_i dx_j (d²/dx_i² when both
  are the same element).

Sums of outputs are differenced element by element and summed afterwards,
so no rounding of the sum enters them.  Steps grow with the order (rounding
grows like eps/h^order): STEPS below, times max(1, |x|) where x is the
element's value (a let source's EPS moves on the scale of the let's value),
then halved five times (stencil.py picks the best run).
Every unit also carries its kink flag, computed once and used by the sympy
reference too, so both leave out exactly the same components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcli.verify.reference import Reference, RefSource
from gradcli.verify.stencil import Axis, Stenciler, power_of_two_steps

# Base step h by total derivative order (times max(1, |x|)); the stencil
# tries h ... h/32 and keeps the run with the smallest estimated error, so
# these only need to be large enough (rounding grows like eps/h^order).
# Chosen on smooth test functions (exp, sin of a square, tanh, sigmoid, log
# at 1e3) so that the estimate bounds the actual error or is inconclusive.
STEPS = {1: 2.0 ** -7, 2: 2.0 ** -5}
LAST_STEP = 2.0 ** -4
MAX_ORDER = 8  # nested orders above this are not attempted by finite differences


class Unsupported(Exception):
    """Finite differences do not apply; the message says why."""


@dataclass(frozen=True)
class Layout:
    """How a quantity's elements map to units: element e of the flattened
    quantity is unit `unit_of(e)`, and within that unit's values, position
    `within(e)` (the output element for a Jacobian, 0 otherwise)."""

    kind: str
    shape: tuple[int, ...]
    units: int
    n: int            # components of the source (of the second source for hessian)
    width: int        # values per unit: output elements for a Jacobian, else 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def unit_of(self, elements: np.ndarray) -> np.ndarray:
        return elements % self.n if self.kind == "jacobian" else elements

    def within(self, elements: np.ndarray) -> np.ndarray:
        return elements // self.n if self.kind == "jacobian" else np.zeros_like(elements)

    def elements_of(self, units: np.ndarray) -> np.ndarray:
        """Every element computed by these units, in increasing order."""
        if self.kind != "jacobian":
            return units
        return (np.arange(self.width)[:, None] * self.n + units[None, :]).ravel()


def step(order: int) -> float:
    return STEPS.get(order, LAST_STEP)


@dataclass
class UnitValues:
    value: np.ndarray                # (units, width)
    error: np.ndarray                # (units, width)
    kinks: list[frozenset[str]]


class FiniteDifferences:
    """Unit values of every quantity, computed on demand and remembered."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        nodes, outputs, held = ref.frozen()
        self.nodes = nodes
        # the sum of the outputs: a bool or integer output has no derivative
        self.outputs = [o for o in outputs if o.is_float]
        self.stencils = Stenciler({**ref.point, **held}, ref.leaves)
        self._done: dict[str, dict[int, tuple[np.ndarray, np.ndarray, frozenset[str]]]] = {}

    def layout(self, q) -> Layout:
        src = self.ref.sources[q.source]
        if q.kind == "jacobian":
            out = self.ref.nodes[q.output]
            return Layout("jacobian", out.shape + src.shape, src.size, src.size, out.size)
        if q.kind == "hessian":
            other = self.ref.sources[q.other]
            return Layout("hessian", src.shape + other.shape, src.size * other.size,
                          other.size, 1)
        return Layout(q.kind, src.shape, src.size, src.size, 1)

    def units(self, q, ids: np.ndarray) -> UnitValues:
        """Values, estimated errors and kink flags of the units `ids`."""
        if q.kind == "orders" and q.order > MAX_ORDER:
            raise Unsupported(f"finite differences of order {q.order} are not attempted "
                              f"(above {MAX_ORDER} rounding swamps them)")
        done = self._done.setdefault(q.key, {})
        missing = np.array([u for u in ids if int(u) not in done], dtype=np.int64)
        if len(missing):
            for u, value, error, kinks in self._compute(q, missing):
                done[int(u)] = (value, error, kinks)
        width = self.layout(q).width
        value = np.array([done[int(u)][0] for u in ids]).reshape(len(ids), width)
        error = np.array([done[int(u)][1] for u in ids]).reshape(len(ids), width)
        return UnitValues(value, error, [done[int(u)][2] for u in ids])

    # ---- the stencils of each kind ----------------------------------------------------

    def _steps(self, src: RefSource, positions: np.ndarray, order: int) -> np.ndarray:
        magnitude = self.ref.magnitude[src.leaf.attrs["name"]].reshape(-1)
        return power_of_two_steps(step(order), magnitude[positions])

    def _compute(self, q, ids: np.ndarray):
        src = self.ref.sources[q.source]
        if q.kind == "hessian":
            yield from self._hessian(q, src, self.ref.sources[q.other], ids)
            return
        functions = [self.nodes[q.output]] if q.kind == "jacobian" else self.outputs
        order = q.order if q.kind == "orders" else 1
        positions = src.positions[ids]
        name = src.leaf.attrs["name"]
        axes = []
        if order > 1:
            magnitude = self.ref.magnitude[name].reshape(-1)[src.positions]
            h = power_of_two_steps(step(order), np.array([magnitude.max(initial=0.0)]))
            axes.append(Axis(name, order - 1, np.broadcast_to(src.positions, (len(ids),
                                                                              src.size)),
                             np.full(len(ids), h[0])))
        axes.append(Axis(name, 1, positions[:, None], self._steps(src, positions, order)))
        yield from self._collect(q, functions, axes, ids)

    def _hessian(self, q, a: RefSource, b: RefSource, ids: np.ndarray):
        i, j = np.divmod(ids, b.size)
        pa, pb = a.positions[i], b.positions[j]
        name_a, name_b = a.leaf.attrs["name"], b.leaf.attrs["name"]
        diagonal = (pa == pb) & (name_a == name_b)
        for mask in (diagonal, ~diagonal):
            if not mask.any():
                continue
            ha = self._steps(a, pa[mask], 2)
            if mask is diagonal:
                axes = [Axis(name_a, 2, pa[mask][:, None], ha)]
            else:
                axes = [Axis(name_a, 1, pa[mask][:, None], ha),
                        Axis(name_b, 1, pb[mask][:, None], self._steps(b, pb[mask], 2))]
            yield from self._collect(q, self.outputs, axes, ids[mask])

    def _collect(self, q, functions, axes, ids: np.ndarray):
        result = self.stencils.run(functions, axes)
        count = len(ids)
        if q.kind == "jacobian":
            value = result.values[0].reshape(count, -1)
            error = result.errors[0].reshape(count, -1)
        else:  # a sum of outputs: per element, summed afterwards
            value = sum(v.reshape(count, -1).sum(axis=1) for v in result.values)[:, None]
            error = sum(e.reshape(count, -1).sum(axis=1) for e in result.errors)[:, None]
        for k, u in enumerate(ids):
            yield u, value[k], error[k], result.kinks[k]
