"""Closed forms for `gradcli symbolic`: the derivative of the sum of the
selected outputs by each (sampled) component of each source, from the
spec's graph lowered to sympy (symbolic.py), with the subexpressions
sympy.cse shares.

The work is bounded as for `check` (sympy_budget.py): an expression handed
to sympy.diff has at most MAX_TREE nodes as a tree, a sum is differentiated
through its terms with the symbol only, and each source has a time budget
(`seconds`, checked between sympy calls; the spec gets SPEC_SECONDS_FACTOR
times as much).  A source past its budget keeps the components computed
so far and says, in `skipped`, why the rest are missing.

sympy is imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.sources import Source
from gradcli.errors import SpecError
from gradcli.verify.symbolic import (
    MAX_GRAPH_ELEMENTS,
    SIMPLIFY_OPS,
    component_indices,
    element_label,
    graph_elements,
    latex_label,
    lower,
    numbers,
    reached,
    sample,
    symbols,
)
from gradcli.verify.sympy_budget import (
    MAX_TREE,
    SECONDS,
    SPEC_SECONDS_FACTOR,
    Deadline,
    OutOfTime,
    Terms,
    tree_size,
)


@dataclass(frozen=True)
class ClosedForm:
    """The derivative of the sum of the selected outputs by each sampled
    component of one source, with the subexpressions sympy.cse shares."""

    source: str
    labels: tuple[str, ...]
    latex_labels: tuple[str, ...]
    shared: tuple[tuple[Any, Any], ...]   # (symbol, expression) from sympy.cse
    exprs: tuple[Any, ...]                # each in terms of the shared symbols
    total: int
    picked: int                           # components sampled (all of them up to `limit`)
    skipped: str | None = None            # why some (or all) components are missing



def problem_symbols(problem: Any, source: Source | None,
                    used: set[int]) -> dict[int, np.ndarray]:
    """Every float input the graph uses as symbols and every integer input as
    numbers; with a `let` source, that node as its own symbols (its upstream
    is not lowered)."""
    given: dict[int, np.ndarray] = {}
    for name, node in problem.leaves.items():
        if id(node) in used:
            given[id(node)] = symbols(name, node.shape) if node.is_float \
                else numbers(problem.values[name], None)
    if source is not None and source.node.op != "input":
        given[id(source.node)] = symbols(source.name, source.node.shape)
    return given


def closed_forms(problem: Any, sources: Sequence[Source], chosen: Sequence[tuple[str, Node]],
                 limit: int, cse: bool = True, prefix: str = "t",
                 seconds: float = SECONDS) -> list[ClosedForm]:
    """d(sum of chosen outputs)/d(component) for every (sampled) component of each source.

    Sources that are inputs share one lowering; a `let` source is lowered on
    its own with that node as symbols (its gradient is the adjoint there).
    `seconds`: each source's sympy time budget (lowering included)."""
    import sympy

    nodes = [node for _, node in chosen]
    spec = Deadline(seconds * SPEC_SECONDS_FACTOR, "for the spec")
    lowered: dict[str | None, tuple[dict[int, np.ndarray], Terms] | str] = {}
    forms = []
    for source in sources:
        deadline = Deadline(seconds, "per source").within(spec)
        group = None if source.node.op == "input" else source.name
        if group not in lowered:
            stops = {id(n) for n in problem.leaves.values()} | {id(source.node)} if group \
                else {id(n) for n in problem.leaves.values()}
            size = graph_elements(nodes, stops)
            if size > MAX_GRAPH_ELEMENTS:
                raise SpecError(f"the graph has {size} elements, too many to lower to sympy "
                                f"(limit {MAX_GRAPH_ELEMENTS}); gradcli graph --grad prints "
                                "its derivative program instead", "SPEC")
            used = {id(n) for n in reached(nodes, stops)}
            given = problem_symbols(problem, source if group else None, used)
            try:
                arrays = lower(nodes, given, check=deadline.check)
                lowered[group] = (given, Terms(sympy.Add(*[e for a in arrays
                                                           for e in np.ravel(a)])))
            except OutOfTime as why:
                lowered[group] = f"{why} while lowering the spec to sympy"
        rows = component_indices(source.node.shape, source.index)
        picked = sample(len(rows), limit, f"symbolic:{source.key}")
        entry = lowered[group]
        if isinstance(entry, str):
            forms.append(ClosedForm(source.key, (), (), (), (), picked.total, len(picked.flat),
                                    entry))
            continue
        given, terms = entry
        sym_array = given.get(id(source.node))
        if sym_array is None:  # the outputs never reach it: every derivative is 0
            sym_array = symbols(source.name, source.node.shape)
        labels, latex, exprs = [], [], []
        skipped = None
        for k in picked.flat:
            index = tuple(int(i) for i in rows[k])
            expr = _derivative(terms, sym_array[index], deadline)
            if isinstance(expr, str):
                skipped = f"{expr}; {len(exprs)} of {len(picked.flat)} components computed"
                break
            labels.append(element_label(source.name, index))
            latex.append(latex_label(source.name, index))
            exprs.append(expr)
        shared: list[tuple[Any, Any]] = []
        if cse and exprs:
            shared, exprs = sympy.cse(exprs, symbols=sympy.numbered_symbols(prefix))
        forms.append(ClosedForm(source.key, tuple(labels), tuple(latex), tuple(shared),
                                tuple(exprs), picked.total, len(picked.flat), skipped))
    return forms


def _derivative(terms: Terms, symbol: Any, deadline: Deadline) -> Any:
    """d(sum)/d(symbol), tidied; or, past a budget, a string saying which."""
    import sympy

    try:
        deadline.check()
        part = terms.containing(symbol)
        if tree_size(part, MAX_TREE) > MAX_TREE:
            return (f"sympy would differentiate an expression of more than {MAX_TREE} nodes "
                    "(counted as a tree: a subexpression used n times counts n times), too "
                    "large to attempt")
        derivative = sympy.diff(part, symbol)
        deadline.check()
        return _tidy(derivative)
    except OutOfTime as why:
        return str(why)


def _tidy(expr: Any) -> Any:
    import sympy

    # count_ops walks the tree, which can be exponentially larger than the
    # graph: measure it with the bounded count first
    if tree_size(expr, MAX_TREE) > MAX_TREE:
        return expr
    return sympy.simplify(expr) if sympy.count_ops(expr) <= SIMPLIFY_OPS else expr


def latex_names(forms: Sequence[ClosedForm]) -> dict[Any, str]:
    """LaTeX spellings a[0,1] -> a_{0,1} for every symbol in the forms."""
    names: dict[Any, str] = {}
    for form in forms:
        for expr in list(form.exprs) + [e for _, e in form.shared]:
            for sym in getattr(expr, "free_symbols", ()):
                text = sym.name
                if "[" in text and text.endswith("]"):
                    base, _, rest = text.partition("[")
                    names[sym] = f"{base}_{{{rest[:-1]}}}"
    return names


@dataclass(frozen=True)
class SymbolicReport:
    """What `gradcli symbolic` prints: per source its closed forms, its title
    and its matrix form ((temporaries, expression), expression None when the
    source is unconnected)."""

    summary: tuple[str, ...]
    forms: tuple[ClosedForm, ...]
    titles: tuple[str, ...]
    matrices: tuple[tuple[tuple[tuple[str, str], ...], str | None], ...]
    latex_names: dict[Any, str]
