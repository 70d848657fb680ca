"""The expression language: Python syntax, parsed by `ast`, walked through a
whitelist.  Nothing the user writes is ever given to `eval` or `sympify`;
each allowed construct maps to a graph builder, everything else is an error
pointing at its column."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gradcli.engine.graph import Node, Origin
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import getitem
from gradcli.errors import Location, SpecError
from gradcli.language.functions import CATALOGUE, OPERATORS
from gradcli.language.functions.context import Context, as_node, size_error
from gradcli.language.functions.results import Results
from gradcli.language.indexing import (
    _index_item,
    _is_static_item,
    _list_item,
    index_items,
    static_index,
)
from gradcli.language.numpy_names import (
    dotted,
    module_value,
    strip_prefix,
    unknown_hint,
)
from gradcli.language.syntax import (
    MAX_DEPTH,
    check_int_literal,
    column,
    describe,
    parse,
)

if TYPE_CHECKING:
    from gradcli.language.specfile import Expr

CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
# Callables other than catalogue functions (models) take nodes and give a node.
Callables = Mapping[str, Callable[..., Node]]
# Calls whose second argument is a source read from the syntax (derivcalls.py).
DERIVATIVES = ("grad", "jacobian", "hessian")


@dataclass(frozen=True)
class AtView:
    """`x.at[index]`: waiting for `.set(v)` or `.add(v)`."""

    base: Node
    index: tuple[Any, ...]


def compile_expr(text: str, names: Mapping[str, Node], ctx: Context, where: Location,
                 callables: Callables | None = None) -> Node:
    """Build the graph of one expression over already-built `names`."""
    text = text.strip() if isinstance(text, str) else text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return as_node(ctx, text)
    if not isinstance(text, str):
        raise SpecError("an expression must be a string or a number", where)
    compiler = _Compiler(names, ctx, where, callables or {}, text)
    value = compiler.visit(parse(text, where), 0)
    if isinstance(value, AtView):
        raise SpecError("x.at[...] must be followed by .set(value) or .add(value)", where)
    try:
        node = as_node(ctx, value)
    except SpecError as exc:
        hint = ""
        if isinstance(value, (list, tuple)) and any(isinstance(v, Node) for v in value):
            hint = ("; a list of arrays (like split's) is indexed (parts[0]) or unpacked "
                    "by a let with several names ('a, b: split(x, [2])')")
        raise SpecError(exc.message + hint, where) from None
    return compiler.labelled(node, None)


def compile_items(text: str, names: Mapping[str, Node], ctx: Context, where: Location,
                  count: int, callables: Callables | None = None) -> list[Node]:
    """The `count` arrays of an expression whose value is a list of arrays
    (`split(x, 3)`, a literal `[a, b]`), for a let binding several names."""
    text = text.strip() if isinstance(text, str) else text
    if not isinstance(text, str):
        raise SpecError("an expression bound to several names must give a list of arrays",
                        where)
    compiler = _Compiler(names, ctx, where, callables or {}, text)
    value = compiler.visit(parse(text, where), 0)
    if isinstance(value, Node) and value.ndim:
        if value.shape[0] != count:
            raise SpecError(f"{count} names are bound, but the expression gives an array of "
                            f"{value.shape[0]} rows (shape {value.shape})", where)
        value = [getitem(value, (k,)) for k in range(count)]  # as Python unpacks
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"{count} names are bound, but the expression gives one value, not a "
                        "list of arrays", where)
    if len(value) != count:
        raise SpecError(f"{count} names are bound, but the expression gives {len(value)} "
                        "arrays", where)
    try:
        nodes = [as_node(ctx, item) for item in value]
    except SpecError as exc:
        raise SpecError(exc.message, where) from None
    return [compiler.labelled(node, None) for node in nodes]


def compile_let(expr: Expr, names: Mapping[str, Node], ctx: Context, callables: Callables,
                parts: list[Node]) -> tuple[Node, list[Node]]:
    """The node of one `let` entry, and the arrays of its group: a name of
    `a, b: split(x, 2)` compiles the expression once, at the first name."""
    if expr.unpack is None:
        return compile_expr(expr.text, names, ctx, expr.where, callables), parts
    position, count = expr.unpack
    if position == 0:
        parts = compile_items(expr.text, names, ctx, expr.where, count, callables)
    return parts[position], parts


class _Compiler:
    def __init__(self, names: Mapping[str, Node], ctx: Context, where: Location,
                 callables: Callables, text: str = "") -> None:
        self.names, self.ctx, self.where, self.callables = names, ctx, where, callables
        self.text = text

    def loc(self, node: ast.AST) -> Location:
        return self.where.shifted(column(self.text, node))

    def fail(self, node: ast.AST, message: str) -> SpecError:
        return SpecError(message, self.loc(node))

    def visit(self, node: ast.AST, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise self.fail(node, f"{describe(node)} is not allowed in gradcli expressions")
        try:
            result = method(node, depth + 1)
        except SpecError as exc:
            if exc.location is None:
                raise SpecError(exc.message, self.loc(node)) from None
            raise
        except (ValueError, OverflowError) as exc:
            # numpy or Python refusing a value as written (an integer beyond
            # int64, ...): the user's input, so a located error, not exit 70
            raise self.fail(node, f"cannot build `{_snippet(self.text, node)}`: {exc}") \
                from None
        return self.labelled(result, node) if isinstance(result, Node) else result

    def labelled(self, result: Node, node: ast.AST | None) -> Node:
        """Give the nodes this (sub)expression just built its location as
        `origin` (location and source text), so `--check-finite` can say where a
        NaN arose, and refuse any of them above --max-elements.

        Post-order visits label the innermost sub-expression first, and the
        walk stops at labelled nodes and leaves, so each node is seen about
        once.  The label is set in place on nodes nobody else holds yet
        (origin is excluded from equality and hashing): copies would break
        the identity by which sources and parameters are found."""
        fresh = _unlabelled(result)
        if not fresh:
            return result
        where = self.where if node is None else self.loc(node)
        snippet = _snippet(self.text, node)
        label = Origin(where, snippet)
        for item in fresh:
            reason = size_error(item.shape, self.ctx.max_elements,
                                f"'{snippet}' builds an array ({item.op}) whose")
            if reason:
                raise SpecError(reason, where)
            object.__setattr__(item, "origin", label)
        return result

    def visit_Constant(self, node: ast.Constant, depth: int) -> Any:
        if isinstance(node.value, complex) or isinstance(node.value, bytes):
            raise self.fail(node, "complex numbers and bytes are not supported")
        if type(node.value) is int:
            check_int_literal(node.value, self.loc(node))
        return node.value

    def visit_Name(self, node: ast.Name, depth: int) -> Any:
        name = node.id
        if name.startswith("__"):
            raise self.fail(node, f"name '{name}' is not allowed")
        if name in self.names:
            return self.names[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        if name in CATALOGUE or name in self.callables or name in DERIVATIVES:
            raise self.fail(node, f"'{name}' is a function: call it, e.g. {name}(x)")
        raise self.fail(node, f"unknown name '{name}'{self.hint(name)}")

    def known(self) -> list[str]:
        return [*self.names, *CATALOGUE, *self.callables, *DERIVATIVES, *CONSTANTS]

    def hint(self, name: str) -> str:
        return unknown_hint(name, self.known(), CATALOGUE)

    def numpy_name(self, node: ast.AST) -> tuple[str, str] | None:
        """(catalogue name, as written) for `np.sin`, `numpy.linalg.inv` ...,
        unless the first part is a name of the spec (then it is not numpy)."""
        text = dotted(node)
        if text is None or text.split(".")[0] in self.names:
            return None
        name = strip_prefix(text)
        return None if name is None else (name, text)

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> Any:
        op = OPERATORS.get(type(node.op).__name__)
        if op is None:
            raise self.fail(node, f"operator {describe(node.op)} is not allowed")
        left, right = self.visit(node.left, depth), self.visit(node.right, depth)
        return op(self.ctx, left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Any:
        operand = self.visit(node.operand, depth)
        if isinstance(node.op, ast.USub) and isinstance(operand, (int, float)) \
                and not isinstance(operand, bool):
            return -operand  # keep `-1` a plain number: axis=-1, x[-1]
        op = OPERATORS.get(type(node.op).__name__)
        if op is None:
            raise self.fail(node, f"operator {describe(node.op)} is not allowed")
        return op(self.ctx, operand)

    def visit_Compare(self, node: ast.Compare, depth: int) -> Any:
        if len(node.ops) != 1:
            raise self.fail(node, "chained comparisons are not allowed; use one at a time")
        op = OPERATORS.get(type(node.ops[0]).__name__)
        if op is None:
            raise self.fail(node, f"comparison {describe(node.ops[0])} is not allowed")
        return op(self.ctx, self.visit(node.left, depth), self.visit(node.comparators[0], depth))

    def visit_Tuple(self, node: ast.Tuple, depth: int) -> Any:
        return tuple(self.visit(e, depth) for e in node.elts)

    def visit_List(self, node: ast.List, depth: int) -> Any:
        return [self.visit(e, depth) for e in node.elts]

    def visit_Call(self, node: ast.Call, depth: int) -> Any:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise self.fail(node, "*args and **kwargs are not allowed")
        seen: set[str | None] = set()
        for keyword in node.keywords:  # ast accepts f(a=1, a=2); Python refuses it
            if keyword.arg in seen:
                raise self.fail(keyword, f"keyword argument '{keyword.arg}' is repeated")
            seen.add(keyword.arg)
        if isinstance(node.func, ast.Name) and node.func.id in DERIVATIVES:
            from gradcli.language.derivcalls import derivative_call

            return derivative_call(self, node, depth)
        args = [self.visit(a, depth) for a in node.args]
        kwargs = {k.arg: self.visit(k.value, depth) for k in node.keywords}
        func = node.func
        numpy = self.numpy_name(func)
        if numpy is not None:
            return self.call_function(node, numpy[0], numpy[1], args, kwargs)
        if isinstance(func, ast.Attribute) and func.attr in ("set", "add"):
            view = self.visit(func.value, depth)
            if not isinstance(view, AtView):
                raise self.fail(func, f".{func.attr}() is only allowed as "
                                      f"x.at[index].{func.attr}(v)")
            if len(args) != 1 or kwargs:
                raise self.fail(node, f".{func.attr}() takes exactly one value")
            value = as_node(self.ctx, args[0])
            base = view.base
            if value.is_float and not base.is_float:
                base = N.cast(base, value.dtype)
            value = N.cast(value, base.dtype) if base.is_float else value
            from gradcli.language.functions.indexing import update

            return update(self.ctx, base, view.index, value, func.attr)
        if isinstance(func, ast.Attribute):
            if func.attr.startswith("_"):
                raise self.fail(func, f"attribute '{func.attr}' is not allowed")
            self.visit(func.value, depth)  # `__import__('os').system()`: name the first fault
            raise self.fail(func, f"calling .{func.attr}() is not allowed: only catalogue "
                                  f"functions can be called (like {func.attr}(x))")
        if not isinstance(func, ast.Name):
            self.visit(func, depth)  # names what is wrong with it (lambda, ...)
            raise self.fail(func, "only catalogue functions can be called (like sin(x))")
        name = func.id
        if name.startswith("__"):
            raise self.fail(func, f"name '{name}' is not allowed")
        if name in self.callables:
            return self.callables[name](*args, **kwargs)
        return self.call_function(node, name, name, args, kwargs)

    def call_function(self, node: ast.Call, name: str, written: str, args: list[Any],
                      kwargs: dict[str, Any]) -> Any:
        """Call catalogue function `name` (spelled `written`, e.g. np.sin)."""
        function = CATALOGUE.get(name)
        if function is None:
            raise self.fail(node.func, f"unknown function '{written}'{self.hint(name)}")
        try:
            return function.build(self.ctx, *args, **kwargs)
        except TypeError as exc:
            raise self.fail(node, f"{function.signature}: {exc}") from None

    def visit_Attribute(self, node: ast.Attribute, depth: int) -> Any:
        numpy = self.numpy_name(node)
        if numpy is not None:
            found, value = module_value(numpy[1])
            if found:
                return value
            if numpy[0] in CATALOGUE:
                raise self.fail(node, f"'{numpy[1]}' is a function: call it, e.g. "
                                      f"{numpy[1]}(x)")
            raise self.fail(node, f"unknown name '{numpy[1]}'{self.hint(numpy[0])}")
        if node.attr.startswith("_"):
            raise self.fail(node, f"attribute '{node.attr}' is not allowed")
        if isinstance(node.value, ast.Call) and node.attr not in ("T", "at"):
            # numpy's field names of a function with several results: eigh(a).eigenvectors
            value = self.visit(node.value, depth)
            if isinstance(value, Results):
                return value.field(node.attr)
        if node.attr not in ("T", "at"):
            raise self.fail(node, f"attribute '.{node.attr}' is not allowed "
                                  "(only .T and .at[index].set/add)")
        value = as_node(self.ctx, self.visit(node.value, depth))
        if node.attr == "T":
            return N.transpose(value)
        return _AtPending(value)

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> Any:
        target = self.visit(node.value, depth)
        if isinstance(target, Results):  # one array of several: eigh(a)[0]
            return target.pick(static_index(node.slice, self))
        if isinstance(target, (list, tuple)) and _is_static_item(node.slice):
            return _list_item(target, _index_item(node.slice, self))
        index = index_items(node.slice, self, depth)
        if isinstance(target, _AtPending):
            return AtView(target.base, index)
        from gradcli.language.functions.indexing import select

        return select(self.ctx, as_node(self.ctx, target), index)


@dataclass(frozen=True)
class _AtPending:
    base: Node


def _unlabelled(root: Node) -> list[Node]:
    """Computed nodes without an origin reachable from `root` through such
    nodes.  Leaves and constants are not: leaves are shared by every
    expression, and constants are allocated (and bounded) already; input-less
    computed nodes like `fill` are, since they allocate only when evaluated."""
    out: list[Node] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen or node.origin or node.op in ("input", "const"):
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(node.inputs)
    return out


def _snippet(text: str, node: ast.AST | None) -> str:
    """The source text of a sub-expression, shortened for messages."""
    part = (ast.get_source_segment(text, node) if node is not None else None) or text
    part = " ".join(part.split())
    return part if len(part) <= 60 else part[:57] + "..."
