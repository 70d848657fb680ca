"""Bounds on the work sympy does for `gradcli check` and `gradcli symbolic`.

sympy works on expression *trees*: a `let` chain like
`a1 = sin(a0) * cos(a0) + a0` shares each link three times, so its
expressions are small graphs but trees of 3**n nodes, and sympy.diff, its
assumption queries and its printers walk the tree.  sympy cannot be
interrupted from inside a call, so the work is bounded in three ways:

- size, before each call, deterministically: an expression handed to
  sympy.diff may have at most MAX_TREE nodes counted as a tree (a count
  that costs one walk of the graph);
- a sum is differentiated through the terms that contain the symbol only
  (`Terms`): d/dx_k of sum(sin(x)) over 10,000 elements is one term, not
  10,000 derivatives of zero;
- time, between calls: a `Deadline` per quantity (and one for the whole
  spec), checked before every differentiation and evaluation.  One call
  started within the budget runs to its end, and the size bound keeps that
  call to a few seconds.  The budget is CPU time of the process (what the
  work costs, not how busy the machine is), so a check is as repeatable as
  a time budget can be; only a row that ran out of it can differ from run
  to run, and it says so.

Evaluation at the point substitutes numbers bottom-up over the graph, each
shared subexpression once (`substitute`), where xreplace walks the tree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Nodes, counted as a tree, of an expression sympy.diff is given.  sympy
# spends 50-400 µs per node of it (more where it asks about signs), so
# this keeps one call to a few seconds; every spec shipped in specs/ stays
# below 3,000, even at second order.
MAX_TREE = 20_000
# CPU seconds of sympy work per checked quantity (per source for
# `symbolic`), `--sympy-seconds`; one spec's sympy rows together get
# SPEC_SECONDS_FACTOR times as much.
SECONDS = 10.0
SPEC_SECONDS_FACTOR = 6


class OutOfTime(Exception):
    """The time budget ran out; the message says which."""


@dataclass
class Deadline:
    """A time budget that callers check between sympy calls."""

    seconds: float
    what: str = "per quantity"
    start: float = field(default_factory=time.process_time)

    @property
    def expired(self) -> bool:
        return time.process_time() - self.start > self.seconds

    def check(self) -> None:
        if self.expired:
            raise OutOfTime(f"sympy's time budget ({self.seconds:g} s {self.what}) ran out")

    def within(self, outer: Deadline | None) -> Deadline:
        """This budget, ending no later than `outer`."""
        if outer is None:
            return self
        left = outer.seconds - (time.process_time() - outer.start)
        return self if left >= self.seconds else Deadline(max(left, 0.0), outer.what)


def fold_graph(expr: Any, value: Callable[[Any, list[Any]], Any], memo: dict[int, Any],
               keep: list[Any] | None = None) -> Any:
    """`value(node, [values of its args])` for every node of `expr`'s graph,
    children first, each shared subexpression once, without recursion (a
    deep expression must not hit Python's limit).  `memo` is by id, so
    `keep` (when given) holds on to the nodes it has seen."""
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        key = id(node)
        if key in memo:
            continue
        args = getattr(node, "args", ())
        if args and not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in args if id(a) not in memo)
            continue
        memo[key] = value(node, [memo[id(a)] for a in args])
        if keep is not None:
            keep.append(node)
    return memo[id(expr)]


def tree_size(expr: Any, limit: int) -> int:
    """Nodes of `expr` counted as a tree (a shared subexpression as often as
    it occurs), found in one walk of its graph; any count past `limit` is
    reported as limit + 1."""
    return fold_graph(expr, lambda node, sizes: min(1 + sum(sizes), limit + 1), {})


def substitute(expr: Any, values: Mapping[Any, Any]) -> Any:
    """expr.xreplace(values), rebuilding each distinct subexpression once
    (sympy's xreplace rebuilds every occurrence: the tree, not the graph).
    Rebuilding with numbers evaluates as it goes, exactly as xreplace does."""
    done: dict[int, Any] = {}
    keep: list[Any] = []  # the ids in `done` stay valid while their objects live
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        key = id(node)
        if key in done:
            continue
        if node in values:
            done[key] = values[node]
        elif not ready:
            args = getattr(node, "args", ())
            if args and hasattr(node, "_xreplace"):
                stack.append((node, True))
                stack.extend((a, False) for a in args if id(a) not in done)
                continue
            done[key] = node
        else:
            args = tuple(done[id(a)] if hasattr(a, "_xreplace") else a for a in node.args)
            changed = any(new is not old for new, old in zip(args, node.args))
            done[key] = node.func(*args) if changed else node
        keep.append(node)
    return done[id(expr)]


class Terms:
    """The terms of a sum, by the symbols each contains (found in one walk
    of the graph), so that d(sum)/ds differentiates only the terms with s."""

    def __init__(self, expr: Any) -> None:
        self.expr = expr
        self.terms = expr.args if getattr(expr, "is_Add", False) else (expr,)
        found: dict[int, frozenset[Any]] = {}
        keep: list[Any] = []
        self.by_symbol: dict[Any, list[Any]] = {}
        for term in self.terms:
            for symbol in _symbols_of(term, found, keep):
                self.by_symbol.setdefault(symbol, []).append(term)

    def containing(self, symbol: Any) -> Any:
        """The sum of the terms that contain `symbol` (0 if none)."""
        import sympy

        return sympy.Add(*self.by_symbol.get(symbol, ()))


def _symbols_of(expr: Any, found: dict[int, frozenset[Any]], keep: list[Any]
                ) -> frozenset[Any]:
    """expr.free_symbols, each shared subexpression visited once (`found`
    is by id, so `keep` holds on to what it has seen)."""
    def symbols(node: Any, below: list[frozenset[Any]]) -> frozenset[Any]:
        if getattr(node, "is_Symbol", False):
            return frozenset((node,))
        if below and getattr(node, "bound_symbols", None):  # Subs, Lambda, ...: as sympy says
            return frozenset(node.free_symbols)
        return frozenset().union(*below)

    return fold_graph(expr, symbols, found, keep)
