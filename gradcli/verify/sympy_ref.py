"""Sympy's derivatives of the reference forward graph, evaluated at the point
(method a of `gradcli check`).

The reference graph (reference.py) is lowered once: the elements of every
source leaf that a checked source names (and that a sampled element is
differentiated by) are real symbols (for a let source,
the elements of its EPS leaf, which are 0 at the point), every other leaf
element a 30-digit Float (constants of the graph stay exact integers where
they are).  Every kind and order is then sympy.diff of that
expression: `grad` d(total)/ds_k, `orders` N the nested sum-then-diff of
`gradcli grad --order N`, `jacobian` d y_o/ds_k, `hessian` d²(total)/ds_i ds_j
(also between a let source and another source: both are leaves here).

Sympy can fail (a Max it cannot order, a recursion limit, an expression too
large to differentiate in reasonable time): any exception, or an expression
over the size budget, becomes a Skip with the reason, so a check never
crashes on sympy.  Its work is bounded by sympy_budget.py: an expression
differentiated has at most MAX_TREE nodes as a tree, a sum is
differentiated through the terms with the symbol only, and a quantity has a
time budget checked between calls (elements not reached are left out, with
the reason; none reached is a Skip).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.errors import SpecError
from gradcli.verify.reference import Reference, RefSource
from gradcli.verify.symbolic import (
    CHECK_DIGITS,
    MAX_GRAPH_ELEMENTS,
    graph_elements,
    lower,
    numbers,
    reached,
    symbols,
    to_float,
)
from gradcli.verify.sympy_budget import (
    MAX_TREE,
    SECONDS,
    Deadline,
    OutOfTime,
    Terms,
    substitute,
    tree_size,
)

# Distinct subexpressions of one expression sympy is asked to differentiate
# or sum (a DAG count, so shared subtrees count once).
MAX_NODES = 200_000
# A nested order differentiates the whole previous sum by every component:
# its size times the number of components bounds that work.
MAX_NESTED_WORK = 2_000_000


class Skip(Exception):
    """A method that cannot run on this quantity; the message says why."""


@dataclass(frozen=True)
class Values:
    """The reference at the asked elements; `done` false where the time
    budget ran out first (`why`)."""

    ref: np.ndarray
    done: np.ndarray
    why: str = ""


@dataclass(frozen=True)
class Lowered:
    arrays: dict[str, np.ndarray]       # let/output name -> object array
    total: Any                          # sum of every output element
    symbols: dict[str, np.ndarray]      # source leaf name -> flat object array
    subs: dict[Any, Any]                # symbol -> its value at the point


def dag_size(expr: Any, limit: int) -> int:
    """Distinct subexpressions of `expr`, counting stops past `limit`."""
    seen: set[Any] = set()
    stack = [expr]
    while stack and len(seen) <= limit:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        stack.extend(getattr(e, "args", ()))
    return len(seen)


def _guarded(what: str):
    """Any failure inside sympy becomes a Skip naming it."""

    def wrap(fn):
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (Skip, OutOfTime):
                raise
            except RecursionError:
                raise Skip(f"sympy could not {what}: recursion too deep") from None
            except Exception as exc:  # noqa: BLE001 - sympy raises anything; never crash
                message = str(exc).splitlines()[0] if str(exc) else ""
                raise Skip(f"sympy could not {what}: {type(exc).__name__}"
                           + (f": {message[:200]}" if message else "")) from None
        return run

    return wrap


class SympyReference:
    """`seconds`: the time budget of each quantity; the spec's sympy work
    together (lowering included) gets SPEC_SECONDS_FACTOR times as much."""

    def __init__(self, ref: Reference, value_names: Sequence[str],
                 seconds: float = SECONDS,
                 differentiated: Mapping[str, Collection[int]] | None = None) -> None:
        from gradcli.verify.sympy_budget import SPEC_SECONDS_FACTOR

        self.ref = ref
        self.value_names = [n for n in value_names if n not in ref.problem.outputs]
        self.seconds = seconds
        # leaf name -> the flat elements that are symbols (None: every source element)
        self.differentiated = differentiated
        self.spec = Deadline(seconds * SPEC_SECONDS_FACTOR, "for the spec")
        self._lowered: Lowered | Skip | None = None
        self._diffs: dict[tuple[Any, Any], Any] = {}
        self._terms: dict[int, Terms] = {}
        self._nested: dict[tuple[str, int], Any] = {}

    def lowered(self) -> Lowered:
        if self._lowered is None:
            try:
                self._lowered = self._lower()
            except Skip as why:
                self._lowered = why
        if isinstance(self._lowered, Skip):
            raise self._lowered
        return self._lowered

    def _lower(self) -> Lowered:
        try:
            return self._lower_within(Deadline(self.seconds, "to lower the spec")
                                      .within(self.spec))
        except OutOfTime as why:
            raise Skip(str(why)) from None

    @_guarded("lower the spec")
    def _lower_within(self, deadline: Deadline) -> Lowered:
        import sympy

        ref = self.ref
        names = list(ref.problem.outputs) + self.value_names
        nodes = [ref.nodes[n] for n in names]
        leaves = ref.leaves
        stops = {id(n) for n in leaves.values()}
        size = graph_elements(nodes, stops)
        if size > MAX_GRAPH_ELEMENTS:
            raise Skip(f"graph of {size} elements is too large to lower to sympy "
                       f"(limit {MAX_GRAPH_ELEMENTS})")
        used = {id(n) for n in reached(nodes, stops)}
        masks: dict[str, tuple[np.ndarray, str]] = {}
        for src in ref.sources.values():
            name = src.leaf.attrs["name"]
            mask, _ = masks.setdefault(name, (np.zeros(src.leaf.size, dtype=bool), src.name))
            wanted = src.positions if self.differentiated is None else \
                np.fromiter(self.differentiated.get(name, ()), dtype=np.int64)
            mask[wanted] = True
        given: dict[int, np.ndarray] = {}
        flat_symbols: dict[str, np.ndarray] = {}
        subs: dict[Any, Any] = {}
        for name, node in leaves.items():
            if id(node) not in used:
                continue
            value = ref.point[name]
            if name not in masks:
                given[id(node)] = numbers(value, CHECK_DIGITS, exact=False)
                continue
            mask, label = masks[name]
            array = symbols(label, node.shape, mask.reshape(node.shape), value, CHECK_DIGITS,
                            exact=False)
            given[id(node)] = array
            flat = array.reshape(-1)
            flat_symbols[name] = flat
            for k in np.flatnonzero(mask):
                subs[flat[k]] = sympy.Float(float(value.reshape(-1)[k]), CHECK_DIGITS)
        arrays = dict(zip(names, lower(nodes, given, CHECK_DIGITS, deadline.check)))
        # the sum of the outputs: a bool or integer output has no derivative
        total = sympy.Add(*[e for n, node in ref.problem.outputs.items() if node.is_float
                            for e in np.ravel(arrays[n])])
        return Lowered(arrays, total, flat_symbols, subs)

    # ---- expressions -----------------------------------------------------------------

    def _symbols(self, src: RefSource) -> list[Any]:
        low = self.lowered()
        flat = low.symbols.get(src.leaf.attrs["name"])
        if flat is None:  # the outputs never reach this source: every derivative is 0
            flat = symbols(src.name, (src.leaf.size,)).reshape(-1)
        return [flat[int(p)] for p in src.positions]

    def diff(self, expr: Any, symbol: Any) -> Any:
        """sympy.diff of the terms of `expr` that contain `symbol`, remembered
        (gradients, nested orders and Hessians of one spec differentiate the
        same expressions by the same symbols)."""
        import sympy

        key = (expr, symbol)
        if key not in self._diffs:
            terms = self._terms.get(id(expr))
            if terms is None or terms.expr is not expr:
                terms = self._terms[id(expr)] = Terms(expr)
            part = terms.containing(symbol)
            if tree_size(part, MAX_TREE) > MAX_TREE:
                raise Skip(f"sympy would differentiate an expression of more than {MAX_TREE} "
                           "nodes (counted as a tree: a subexpression used n times counts n "
                           "times), too large to attempt")
            self._diffs[key] = sympy.diff(part, symbol)
        return self._diffs[key]

    def _budget(self, expr: Any, what: str) -> Any:
        size = dag_size(expr, MAX_NODES)
        if size > MAX_NODES:
            raise Skip(f"{what} has more than {MAX_NODES} distinct subexpressions, too large "
                       "for sympy")
        return expr

    def _nested_total(self, src: RefSource, order: int, deadline: Deadline) -> Any:
        """sum of the (order)-th nested gradient's elements, as `grad --order` nests."""
        import sympy

        if order == 1:
            return self._budget(self.lowered().total, "the sum of the outputs")
        key = (src.key, order)
        if key not in self._nested:
            below = self._nested_total(src, order - 1, deadline)
            syms = self._symbols(src)
            work = dag_size(below, MAX_NODES) * len(syms)
            if work > MAX_NESTED_WORK:
                raise Skip(f"order {order} would differentiate an expression of "
                           f"{work // len(syms)} subexpressions by {len(syms)} components, "
                           "too much for sympy")
            terms = []
            for s in syms:
                deadline.check()
                terms.append(self.diff(below, s))
            self._nested[key] = self._budget(sympy.Add(*terms),
                                             f"the sum of the order-{order - 1} gradient")
        return self._nested[key]

    def values(self, q, elements: np.ndarray, n: int) -> np.ndarray:
        """The reference at the flat `elements` of quantity q (NaN where
        sympy's derivative is undefined at the point, or not reached within
        the time budget)."""
        return self.compute(q, elements, n).ref

    def compute(self, q, elements: np.ndarray, n: int) -> Values:
        """The reference at the flat `elements` of quantity q, element by
        element within the quantity's time budget, with what was reached."""
        deadline = Deadline(self.seconds).within(self.spec)
        ref = np.full(len(elements), np.nan)
        done = np.zeros(len(elements), dtype=bool)
        try:
            expression = self._expressions(q, n, deadline)
            for k, e in enumerate(elements):
                deadline.check()
                expr = expression(int(e))
                deadline.check()
                ref[k] = self._evaluate(expr)
                done[k] = True
        except OutOfTime as why:
            if not done.any():
                raise Skip(f"{why} before any component was computed") from None
            return Values(ref, done, f"{why} (after {int(done.sum())} of {len(elements)})")
        return Values(ref, done)

    @_guarded("differentiate")
    def _expressions(self, q, n: int, deadline: Deadline):
        """A function from a flat element of q to its sympy expression."""
        low = self.lowered()
        if q.kind == "value":
            array = np.ravel(low.arrays[q.output])
            return lambda e: array[e]
        src = self.ref.sources[q.source]
        syms = self._symbols(src)
        if q.kind in ("grad", "orders"):
            total = self._nested_total(src, q.order if q.kind == "orders" else 1, deadline)
            return _guarded("differentiate")(lambda e: self.diff(total, syms[e]))
        if q.kind == "jacobian":
            y = np.ravel(low.arrays[q.output])
            return _guarded("differentiate")(
                lambda e: self.diff(self._budget(y[e // n], "an output element"), syms[e % n]))
        other = self._symbols(self.ref.sources[q.other])
        total = self._budget(low.total, "the sum of the outputs")
        return _guarded("differentiate")(
            lambda e: self.diff(self.diff(total, syms[e // n]), other[e % n]))

    @_guarded("evaluate a derivative")
    def _evaluate(self, expr: Any) -> float:
        try:
            return to_float(substitute(expr, self.lowered().subs)
                            if hasattr(expr, "xreplace") else expr)
        except (SpecError, TypeError, ValueError):
            return np.nan  # undefined at the point (DiracDelta(0), Subs, ...)
