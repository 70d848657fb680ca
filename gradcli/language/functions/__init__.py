"""The user-facing catalogue of the expression language (DESIGN §4), built
from the primitives.  The expression compiler looks functions up in
CATALOGUE and operators in OPERATORS, and calls them with a Context."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gradcli.language.functions import (
    aliases,
    arrays,
    create,
    decompositions,
    einsum,
    elementwise,
    indexing,
    layout,
    linalg,
    matrices,
    nn,
    norms,
    numeric,
    padding,
    piecewise,
    reduce,
    scans,
)
from gradcli.language.functions.context import Context, as_node
from gradcli.language.functions.operators import OPERATORS
from gradcli.language.functions.registry import Function


def _catalogue() -> Mapping[str, Function]:
    table: dict[str, Function] = {}
    for family in (elementwise, piecewise, numeric, reduce, norms, linalg, matrices,
                   decompositions, einsum, arrays, padding, nn, create, aliases, indexing,
                   scans, layout):
        for function in family.FUNCTIONS:
            if function.name in table:
                raise AssertionError(f"catalogue function {function.name} defined twice")
            table[function.name] = function
    return MappingProxyType(dict(sorted(table.items())))


CATALOGUE: Mapping[str, Function] = _catalogue()

__all__ = ["CATALOGUE", "OPERATORS", "Context", "Function", "as_node"]
