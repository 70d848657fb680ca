"""The two computed references of `gradcli check`: sympy's derivative at the
point (method a) and central finite differences (method b).

Both work on the spec's float64 graph and compare a sample of components
(all of them up to the limit), so the cost is bounded whatever the sizes.

Sympy lowering groups: sources that are inputs share one lowering, in which
their (component) elements are symbols and everything else is an exact
number; a `let` source gets its own lowering in which that node is replaced
by symbols, because its gradient is the adjoint at that node (upstream held
fixed) while inputs keep their total derivative.  A Hessian block between
sources of different groups is not lowered: its value depends on how the
derivative rules reuse forward values, which sympy cannot see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.evaluate import plan
from gradcli.engine.graph import Node
from gradcli.engine.ops import nodes as N
from gradcli.engine.sources import Source
from gradcli.errors import SpecError
from gradcli.verify.check import Outcome, Quantity, Row, compare_arrays, row_from
from gradcli.verify.symbolic import (
    CHECK_DIGITS,
    MAX_GRAPH_ELEMENTS,
    component_indices,
    graph_elements,
    lower,
    numbers,
    reached,
    sample,
    symbols,
    to_float,
)


class Skip(Exception):
    """A method that cannot run on this quantity; the message says why."""


@dataclass(frozen=True)
class Lowered:
    arrays: dict[str, np.ndarray]       # named node -> object array
    total: Any                          # sum of every output element
    given: dict[int, np.ndarray]        # id(node) -> symbols/numbers standing for it
    subs: dict[Any, Any]                # symbol -> its value at the point


class References:
    """Sympy and finite-difference references for one problem at one point."""

    def __init__(self, problem: Any, point: dict[str, np.ndarray], items: Sequence[Quantity],
                 max_symbolic: int, fd_limit: int) -> None:
        self.problem = problem
        self.point = point
        self.limit = max_symbolic
        self.fd_limit = fd_limit
        keys = {k for q in items for k in (q.source, q.other) if k is not None}
        self.sources = {k: problem.sources([k])[0] for k in sorted(keys)}
        self.values_of = [q.output for q in items if q.kind == "value"]
        self._groups: dict[str | None, Lowered] = {}
        self._diffs: dict[tuple[Any, Any], Any] = {}

    # ---- method (a): sympy ---------------------------------------------------------

    def group_of(self, source: Source | None) -> str | None:
        return None if source is None or source.node.op == "input" else source.name

    def lowered(self, group: str | None) -> Lowered:
        if group not in self._groups:
            self._groups[group] = self._lower(group)
        return self._groups[group]

    def _lower(self, group: str | None) -> Lowered:
        import sympy

        problem, given = self.problem, {}
        names = list(problem.outputs) + [n for n in self.values_of if n not in problem.outputs]
        nodes = [problem.named[n] for n in names]
        stops = {id(n) for n in problem.leaves.values()}
        if group is not None:
            stops.add(id(problem.named[group]))
        size = graph_elements(nodes, stops)
        if size > MAX_GRAPH_ELEMENTS:
            raise Skip(f"graph of {size} elements is too large to lower to sympy "
                       f"(limit {MAX_GRAPH_ELEMENTS})")
        used = {id(n) for n in reached(nodes, stops)}
        masks: dict[str, np.ndarray] = {}
        for source in self.sources.values():
            if self.group_of(source) == group:
                mask = masks.setdefault(source.name, np.zeros(source.node.shape, dtype=bool))
                mask[source.index if source.index is not None else ...] = True
        for name, node in problem.leaves.items():
            if id(node) not in used:
                continue
            value = self.point[name]
            given[id(node)] = symbols(name, node.shape, masks[name], value, CHECK_DIGITS) \
                if name in masks else numbers(value, CHECK_DIGITS)
        if group is not None:
            node = problem.named[group]
            value = self.node_value(node)
            given[id(node)] = symbols(group, node.shape, masks[group], value, CHECK_DIGITS)
        arrays = dict(zip(names, lower(nodes, given, CHECK_DIGITS)))
        total = sympy.Add(*[e for n in problem.outputs for e in np.ravel(arrays[n])])
        subs = {}
        for name, mask in masks.items():
            if id(problem.named[name]) not in given:
                continue  # a source the outputs never reach: its derivative is 0
            array = given[id(problem.named[name])]
            value = self.point[name] if group is None else self.node_value(problem.named[name])
            for index in np.ndindex(mask.shape):
                if mask[index]:
                    subs[array[index]] = sympy.Float(float(value[index]), CHECK_DIGITS)
        return Lowered(arrays, total, given, subs)

    def node_value(self, node: Node) -> np.ndarray:
        if node.op == "input":
            return np.asarray(self.point[node.attrs["name"]], dtype=np.float64)
        (value,) = plan([node]).run(self.point)
        return np.asarray(value, dtype=np.float64)

    def _component_symbols(self, source: Source, lowered: Lowered) -> list[Any]:
        array = lowered.given.get(id(source.node))
        if array is None:  # the outputs never reach the source: fresh symbols, derivative 0
            array = symbols(source.name, source.node.shape)
        rows = component_indices(source.node.shape, source.index)
        return [array[tuple(int(i) for i in r)] for r in rows]

    def _evaluate(self, exprs: Sequence[Any], lowered: Lowered) -> np.ndarray:
        out = np.empty(len(exprs))
        for k, expr in enumerate(exprs):
            try:
                out[k] = to_float(expr.xreplace(lowered.subs) if hasattr(expr, "xreplace")
                                  else expr)
            except (SpecError, TypeError, ValueError):
                out[k] = np.nan  # undefined at the point (DiracDelta(0), Subs, ...)
        return out

    def sympy_reference(self, q: Quantity) -> tuple[np.ndarray, np.ndarray, int]:
        """(sampled flat positions, reference values, total components)."""
        import sympy

        if q.kind == "value":
            low = self.lowered(None)
            array = low.arrays[q.output]
            picked = sample(array.size, self.limit, q.key)
            return picked.flat, self._evaluate(array.ravel()[picked.flat], low), picked.total
        source = self.sources[q.source]
        group = self.group_of(source)
        if q.kind == "hessian" and self.group_of(self.sources[q.other]) != group:
            raise Skip("a Hessian block between a let source and another source is not "
                       "lowered (it depends on how rules reuse forward values)")
        low = self.lowered(group)
        syms = self._component_symbols(source, low)
        if q.kind in ("grad", "orders"):
            total = low.total
            for _ in range(q.order - 1):
                total = sympy.Add(*[self.diff(total, s) for s in syms])
            picked = sample(len(syms), self.limit, q.key)
            exprs = [self.diff(total, syms[k]) for k in picked.flat]
        elif q.kind == "jacobian":
            y = low.arrays[q.output].ravel()
            picked = sample(y.size * len(syms), self.limit, q.key)
            exprs = [self.diff(y[f // len(syms)], syms[f % len(syms)]) for f in picked.flat]
        else:
            other = self._component_symbols(self.sources[q.other], low)
            picked = sample(len(syms) * len(other), self.limit, q.key)
            exprs = []
            for f in picked.flat:
                i, j = divmod(int(f), len(other))
                exprs.append(self.diff(self.diff(low.total, syms[i]), other[j]))
        return picked.flat, self._evaluate(exprs, low), picked.total

    def diff(self, expr: Any, symbol: Any) -> Any:
        """sympy.diff, remembered: gradients, nested orders and Hessian blocks
        of one spec differentiate the same expressions by the same symbols."""
        import sympy

        key = (expr, symbol)
        if key not in self._diffs:
            self._diffs[key] = sympy.diff(expr, symbol)
        return self._diffs[key]

    def sympy_row(self, q: Quantity, got: np.ndarray | None, rtol: float, atol: float) -> Row:
        try:
            flat, ref, total = self.sympy_reference(q)
        except Skip as why:
            return Row(q.key, "sympy", "SKIP", np.nan, np.nan, 0, 0, str(why))
        return _row(q.key, "sympy", got, flat, ref, total, rtol, atol, 0.0,
                    np.isnan(ref), "sympy's derivative is undefined at the point (a kink)")

    # ---- method (b): finite differences ---------------------------------------------

    def fd_functions(self, q: Quantity) -> list[Node] | None:
        from gradcli.engine.transforms import gradient_nodes, nested_grads

        problem = self.problem
        outputs = list(problem.outputs.values())
        if q.kind == "grad" or (q.kind == "orders" and q.order == 1):
            return outputs
        if q.kind == "orders":
            seeds = [N.ones_like(o) for o in outputs]
            (g,) = nested_grads(outputs, seeds, [self.sources[q.source]], q.order - 1)
            return None if g is None else [g]
        if q.kind == "jacobian":
            return [problem.named[q.output]]
        (g,) = gradient_nodes(outputs, [self.sources[q.source]], False)
        return None if g is None else [g]

    def fd_row(self, q: Quantity, got: np.ndarray | None, rtol: float, atol: float) -> Row:
        from gradcli.verify.finite_diff import central

        functions = self.fd_functions(q)
        source = self.sources[q.other if q.kind == "hessian" else q.source]
        if functions is None:
            return Row(q.key, "fd", "PASS" if got is None else "FAIL", 0.0, 0.0, 0, 0,
                       "unconnected in the engine's lower-order derivative")
        rows = component_indices(source.node.shape, source.index)
        flat_all = np.ravel_multi_index(rows.T, source.node.shape) if source.node.ndim \
            else np.zeros(1, dtype=np.int64)
        picked = sample(len(flat_all), self.fd_limit, "fd:" + q.key)
        diffs = central(functions, source.node, self.node_value(source.node),
                        flat_all[picked.flat], self.point)
        count = len(picked.flat)
        if q.kind in ("grad", "orders"):
            # Gradients of sums: the differences are taken element by element
            # and summed afterwards, so no rounding of the sum enters them.
            ref = sum(v.reshape(count, -1).sum(axis=1) for v in diffs.values)[:, None]
            allow = sum(a.reshape(count, -1).sum(axis=1) for a in diffs.allowance)[:, None]
        else:
            ref = diffs.values[0].reshape(count, -1)
            allow = diffs.allowance[0].reshape(count, -1)
        fn_size = ref.shape[1]
        kinks = np.broadcast_to(diffs.straddles[:, None], ref.shape)
        # `got` is laid out fn.shape + component: element (i, k) sits at i * comp + k.
        positions = picked.flat[:, None] + len(flat_all) * np.arange(fn_size)[None, :]
        note = "straddles a kink (" + ", ".join(diffs.kinks) + ")" if diffs.kinks else ""
        return _row(q.key, "fd", got, positions.ravel(), ref.ravel(), picked.total * fn_size,
                    rtol, atol, allow.ravel(), kinks.ravel(), note,
                    compared=len(picked.flat) * fn_size)


def _row(key: str, method: str, got: np.ndarray | None, flat: np.ndarray, ref: np.ndarray,
         total: int, rtol: float, atol: float, allowance: Any, excluded: np.ndarray,
         why: str, compared: int | None = None) -> Row:
    """Compare the engine's components at `flat` with `ref`, leaving out the
    `excluded` ones (kinks) and saying how many."""
    compared = len(flat) if compared is None else compared
    if got is None:
        zero = bool(np.all(np.nan_to_num(ref) == 0))
        return Row(key, method, "PASS" if zero else "FAIL", 0.0 if zero else np.inf,
                   0.0 if zero else np.inf, compared, total,
                   "unconnected (None); the reference is " + ("0" if zero else "not 0"))
    values = np.asarray(got, dtype=np.float64).ravel()[flat]
    excluded = np.asarray(excluded, dtype=bool) & ~(np.isnan(values) & np.isnan(ref))
    keep = ~excluded
    allowance = np.broadcast_to(allowance, ref.shape)[keep]
    outcome = compare_arrays(values[keep], ref[keep], rtol, atol, allowance) if keep.any() \
        else Outcome(0.0, 0.0, 0)
    notes = [f"{int(excluded.sum())} component(s) not compared: {why}"] if excluded.any() \
        else []
    return row_from(key, method, outcome, compared, total, notes)
