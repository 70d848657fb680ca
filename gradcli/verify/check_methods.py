"""The two computed references of `gradcli check`, side by side: sympy's
derivative at the point (method a, sympy_ref.py) and central finite
differences (method b, finite_diff.py), both of the reference graph
(reference.py: the spec as written, float64, no rewrite rules, every source
a leaf) and never of the engine's derivative programs.

Samples: finite differences look at up to `fd_limit` units of a quantity
(all of them below it; fewer on a large graph, so that one quantity's
stencils evaluate at most FD_WORK elements), sympy at up to `max_symbolic`
elements drawn from those units, so every element sympy compares has the kink flag the finite
differences computed for it: both leave out exactly the same components,
with the same note.

Finite-difference tolerance: |engine - fd| <= atol + rtol |fd| + E, E the
estimated error of the difference (stencil.py), with no safety factor.  A
component whose E exceeds FD_INCONCLUSIVE of its scale, max(|fd|, atol /
rtol), is not compared ("finite differences inconclusive"), and a row with
nothing compared is a SKIP, never a PASS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.verify.compare import Row, element_row
from gradcli.verify.finite_diff import FiniteDifferences, Layout, Unsupported
from gradcli.verify.quantities import Quantity
from gradcli.verify.reference import Reference
from gradcli.verify.symbolic import graph_elements, sample
from gradcli.verify.sympy_budget import SECONDS
from gradcli.verify.sympy_ref import Skip, SympyReference, Values

FD_INCONCLUSIVE = 1e-3
# Elements evaluated by one quantity's stencils at most (units x stencil
# points x the elements of the reference graph), a few seconds of numpy: a
# spec of 10**4 elements gets its 1024 units, one of 10**6 elements ~20.  At
# least one unit is always differenced (24 evaluations of the spec).
FD_WORK = 500_000_000
FD_POINTS = 24  # points per unit of a first-order stencil (12) or a Hessian's (24)


def _kink_note(kinks: Sequence[frozenset[str]], mask: np.ndarray) -> str:
    ops = sorted(set().union(*[k for k, m in zip(kinks, mask) if m])) if mask.any() else []
    return "straddles a kink (" + ", ".join(ops) + ")"


def _late(found: Values) -> tuple[np.ndarray, str]:
    """The elements sympy's time budget did not reach."""
    return ~found.done, f"not computed: {found.why}"


class References:
    """Sympy and finite-difference references for one problem at one point."""

    def __init__(self, problem: Any, items: Sequence[Quantity], max_symbolic: int,
                 fd_limit: int, methods: Sequence[str] = ("sympy", "fd"),
                 sympy_seconds: float = SECONDS) -> None:
        keys = [k for q in items for k in (q.source, q.other) if k is not None]
        self.ref = Reference(problem, keys)
        self.limit = max_symbolic
        stops = {id(n) for n in self.ref.leaves.values()}
        size = graph_elements(list(self.ref.nodes.values()), stops)
        self.fd_limit = int(max(1, min(fd_limit, FD_WORK // (FD_POINTS * max(size, 1)))))
        self.methods = tuple(methods)
        self.fd = FiniteDifferences(self.ref)
        self.sympy = SympyReference(self.ref, [q.output for q in items if q.kind == "value"],
                                    sympy_seconds, self._differentiated(items))

    def _differentiated(self, items: Sequence[Quantity]) -> dict[str, set[int]]:
        """The leaf elements sympy differentiates by: its symbols.  Every other
        element is lowered as a number, so a spec of 10**5 elements lowers as
        fast as numbers build (sin of a new symbol costs sympy 100 µs, of a
        number 8 µs).  A nested order differentiates the sum of the previous
        one, so it needs every component of its source."""
        wanted: dict[str, set[int]] = {}

        def add(src: Any, positions: np.ndarray) -> None:
            wanted.setdefault(src.leaf.attrs["name"], set()).update(int(p) for p in positions)

        for q in items:
            if q.kind == "value" or "sympy" not in self.methods:
                continue
            src = self.ref.sources[q.source]
            if q.kind == "orders" and q.order > 1:
                add(src, src.positions)
                continue
            layout = self.fd.layout(q)
            elements = self.sympy_elements(q, layout)
            if q.kind == "hessian":
                other = self.ref.sources[q.other]
                add(src, src.positions[elements // layout.n])
                add(other, other.positions[elements % layout.n])
            else:
                add(src, src.positions[layout.unit_of(elements)])
        return wanted

    # ---- samples ------------------------------------------------------------------

    def fd_units(self, q: Quantity, layout: Layout) -> np.ndarray:
        return sample(layout.units, self.fd_limit, "fd:" + q.key).flat

    def sympy_elements(self, q: Quantity, layout: Layout) -> np.ndarray:
        """Up to `limit` elements, all of them in units finite differences cover."""
        units = self.fd_units(q, layout)
        picked = sample(len(units) * layout.width, self.limit, q.key).flat
        if layout.kind != "jacobian":
            return units[picked]
        o, k = np.divmod(picked, len(units))
        return np.sort(o * layout.n + units[k])

    def _kinks(self, q: Quantity, layout: Layout, elements: np.ndarray
               ) -> tuple[np.ndarray, list[frozenset[str]]]:
        """The shared kink flag of each element's unit (finite differences
        compute it; for sympy alone, only for the units it needs)."""
        units = layout.unit_of(elements)
        wanted = self.fd_units(q, layout) if "fd" in self.methods else np.unique(units)
        try:
            done = self.fd.units(q, wanted)
        except Unsupported:
            return np.zeros(len(elements), dtype=bool), [frozenset()] * len(elements)
        where = np.searchsorted(wanted, units)
        kinks = [done.kinks[int(w)] for w in where]
        return np.array([bool(k) for k in kinks], dtype=bool), kinks

    # ---- rows -----------------------------------------------------------------------

    def sympy_row(self, q: Quantity, got: np.ndarray | None, rtol: float, atol: float
                  ) -> Row:
        try:
            if q.kind == "value":
                shape = self.ref.nodes[q.output].shape
                elements = sample(int(np.prod(shape, dtype=np.int64)), self.limit, q.key).flat
                found = self.sympy.compute(q, elements, 1)
                return element_row(q.key, "sympy", got, shape, elements, found.ref, rtol, atol,
                                   excluded=[_late(found)] + self._undefined(got, elements,
                                                                            found.ref))
            layout = self.fd.layout(q)
            elements = self.sympy_elements(q, layout)
            found = self.sympy.compute(q, elements, layout.n)
        except Skip as why:
            return Row(q.key, "sympy", "SKIP", np.nan, np.nan, 0, 0, str(why))
        flags, kinks = self._kinks(q, layout, elements)
        excluded = [_late(found), (flags, _kink_note(kinks, flags))] + \
            self._undefined(got, elements, found.ref)
        return element_row(q.key, "sympy", got, layout.shape, elements, found.ref, rtol, atol,
                           excluded=excluded)

    @staticmethod
    def _undefined(got: np.ndarray | None, elements: np.ndarray, ref: np.ndarray
                   ) -> list[tuple[np.ndarray, str]]:
        flat = None if got is None else np.asarray(got, dtype=np.float64).reshape(-1)
        values = np.zeros(len(elements)) if flat is None or flat.size <= elements.max(initial=-1) \
            else flat[elements]  # (a got of the wrong shape fails in element_row)
        return [(np.isnan(ref) & ~np.isnan(values),
                 "sympy's derivative is undefined at the point")]

    def fd_row(self, q: Quantity, got: np.ndarray | None, rtol: float, atol: float) -> Row:
        layout = self.fd.layout(q)
        units = self.fd_units(q, layout)
        try:
            done = self.fd.units(q, units)
        except Unsupported as why:
            return Row(q.key, "fd", "SKIP", np.nan, np.nan, 0, 0, str(why))
        elements = layout.elements_of(units)
        where = np.searchsorted(units, layout.unit_of(elements))
        within = layout.within(elements)
        ref = done.value[where, within]
        error = done.error[where, within]
        kinks = [done.kinks[int(w)] for w in where]
        flags = np.array([bool(k) for k in kinks], dtype=bool)
        floor = atol / rtol if rtol > 0 else atol
        scale = np.maximum(np.abs(np.nan_to_num(ref, nan=0.0, posinf=0.0, neginf=0.0)), floor)
        # a non-finite difference (NaN/inf values near the point) is no reference either
        vague = ~(np.isfinite(ref) & (error <= FD_INCONCLUSIVE * scale)) & ~flags
        notes = []
        used = error[~flags & ~vague]
        if used.size and used.max() > 0:
            notes.append(f"fd error estimate up to {used.max():.2g} (added to the tolerance)")
        vague_note = "finite differences inconclusive (estimated error up to " \
            f"{error[vague].max():.2g})" if vague.any() else ""
        return element_row(q.key, "fd", got, layout.shape, elements, ref, rtol, atol,
                           np.where(np.isfinite(error), error, 0.0),
                           excluded=[(flags, _kink_note(kinks, flags)), (vague, vague_note)],
                           notes=notes)
