"""Indices read from the syntax tree, never evaluated: ints, slices, `...`
and None (numpy basic indexing).  Shared by the expression compiler, the
derivative calls' `wrt` argument and the `--wrt` source parser."""

from __future__ import annotations

import ast
from typing import Any, Protocol

from gradcli.errors import SpecError
from gradcli.language.numpy_names import dotted, strip_prefix


class Failing(Protocol):
    """What reports an error at a node of the tree (the expression compiler)."""

    def fail(self, node: ast.AST, message: str) -> SpecError: ...


def index_items(node: ast.AST, compiler: Any, depth: int) -> tuple[Any, ...]:
    """An index as numpy takes it: ints, slices, `...` and None read from the
    syntax, any other item (a list of ints, an integer input, a constant
    mask) compiled; `indexing.select` sorts out basic from advanced."""
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    return tuple(_index_item(item, compiler) if _is_static_item(item)
                 else compiler.visit(item, depth) for item in items)


def _is_static_item(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Slice) or (isinstance(node, ast.Constant) and (
        node.value is Ellipsis or node.value is None or type(node.value) is int))


def _list_item(values: list[Any] | tuple[Any, ...], item: Any) -> Any:
    """An item or a slice of a list value (the arrays `split` gives)."""
    if isinstance(item, slice):
        return list(values[item])
    if item is None or item is Ellipsis:
        raise SpecError("a list of arrays is indexed by an int or a slice")
    if not -len(values) <= item < len(values):
        raise SpecError(f"index {item} is out of range for a list of {len(values)} items")
    return values[item]


def static_index(node: ast.AST, compiler: Failing | None = None) -> tuple[Any, ...]:
    """An index made of ints, slices, `...` and None (numpy basic indexing)."""
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    return tuple(_index_item(item, compiler) for item in items)


def _index_item(node: ast.AST, compiler: Failing | None) -> Any:
    if isinstance(node, ast.Slice):
        parts = [None if p is None else _index_int(p, compiler)
                 for p in (node.lower, node.upper, node.step)]
        if parts[2] == 0:
            raise _index_error(node, compiler, "slice step cannot be zero")
        return slice(*parts)
    if isinstance(node, ast.Constant) and (node.value is Ellipsis or node.value is None):
        return node.value
    if strip_prefix(dotted(node) or "") == "newaxis":
        return None  # np.newaxis
    return _index_int(node, compiler)


def _index_int(node: ast.AST, compiler: Failing | None) -> int:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    raise _index_error(node, compiler, "indices must be integers, slices, ... or None")


def _index_error(node: ast.AST, compiler: Failing | None, message: str) -> SpecError:
    return compiler.fail(node, message) if compiler else SpecError(message)
