"""Derivatives inside expressions: `grad(expr, wrt)`, `jacobian(expr, wrt)`
and `hessian(expr, wrt)` in `let:` and `outputs:`.

Derivatives are graphs, so a call expands in place into the nodes of the
derivative, and whatever uses it (a PINN residual `u_t - alpha * u_xx`, a
loss, the outer `gradcli grad`) differentiates through it again.

The meaning is the command's:
- grad(expr, wrt): d(sum of expr)/d wrt, shaped like wrt;
- jacobian(expr, wrt): d expr / d wrt, shape expr.shape + wrt.shape (no sum);
- hessian(expr, wrt): d²(sum of expr)/d wrt², shape wrt.shape + wrt.shape.

`wrt` is read from the syntax tree, never evaluated: an input, a `let` (or
earlier output) name, or a component of one (`x[:, 0]`, `inp[0, 0]`).  A
let name gives the derivative at that node (its adjoint), as for `--wrt`.
Unlike the command, which reports an unconnected source as null, a call
inside an expression needs a value: an expr that does not depend on wrt
gives zeros of the result's shape (as JAX does).

The transformations come with the Context (`Context.transforms`, injected
by the API): the language builds nodes and never imports autodiff.
"""

from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING, Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.structure import selected_shape
from gradcli.engine.sources import Source
from gradcli.errors import SpecError
from gradcli.language.functions.context import as_node, size_error
from gradcli.language.indexing import static_index

if TYPE_CHECKING:
    from gradcli.language.expr import _Compiler

USAGE = {"grad": "grad(expr, wrt): d(sum of expr)/d wrt",
         "jacobian": "jacobian(expr, wrt): d expr/d wrt, shape expr.shape + wrt.shape",
         "hessian": "hessian(expr, wrt): d²(sum of expr)/d wrt², shape wrt.shape twice"}


def derivative_call(compiler: _Compiler, call: ast.Call, depth: int) -> Node:
    """Build the node of one `grad|jacobian|hessian(expr, wrt)` call."""
    assert isinstance(call.func, ast.Name)
    name = call.func.id
    expr_node, wrt_node = _arguments(compiler, call, name)
    value = as_node(compiler.ctx, compiler.visit(expr_node, depth))
    if not value.is_float:
        raise compiler.fail(expr_node, f"{name}: the expression is {value.dtype}, which has no "
                                       "derivative (only float expressions do)")
    source = wrt_source(compiler, wrt_node, name)
    transforms = compiler.ctx.transforms
    if transforms is None:
        raise TypeError("derivative calls need Context.transforms (see engine/transforms.py)")
    inner = _inner(source)
    dtype = source.node.dtype
    if name == "grad":
        result = transforms.grad_node(value, source)
        return result if result is not None else N.fill(0.0, inner, dtype)
    # The basis of these calls is a constant built now: size it first.
    count = math.prod(inner)
    if name == "jacobian":
        _sized(compiler, call, name, (value.size, value.size), value.shape + inner)
        result = transforms.jacobian_node(value, source)
        return result if result is not None else N.fill(0.0, value.shape + inner, dtype)
    _sized(compiler, call, name, (count,) + source.node.shape, inner + inner)
    result = transforms.hessian_node(value, source)
    return result if result is not None else N.fill(0.0, inner + inner, dtype)


def _inner(source: Source) -> tuple[int, ...]:
    """The shape of the source's component (the whole source without an index)."""
    shape = source.node.shape
    return selected_shape(shape, source.index) if source.index is not None else shape


def _sized(compiler: _Compiler, call: ast.Call, name: str, basis: tuple[int, ...],
           result: tuple[int, ...]) -> None:
    """Refuse a derivative call whose identity basis or result is too large."""
    for what, shape in (("identity basis", basis), ("result", result)):
        reason = size_error(shape, compiler.ctx.max_elements, f"its {what}")
        if reason:
            raise compiler.fail(call, f"{name}: {reason}")


def _arguments(compiler: _Compiler, call: ast.Call, name: str) -> tuple[ast.expr, ast.expr]:
    """(expr, wrt) from positional arguments or the keywords expr=, wrt=."""
    given: dict[str, Any] = dict(zip(("expr", "wrt"), call.args))
    if len(call.args) > 2:
        raise compiler.fail(call.args[2], f"{name} takes two arguments: {USAGE[name]}")
    for keyword in call.keywords:
        if keyword.arg not in ("expr", "wrt"):
            raise compiler.fail(keyword.value, f"{name} has no argument '{keyword.arg}=': "
                                               f"{USAGE[name]}")
        if keyword.arg in given:
            raise compiler.fail(keyword.value, f"{name}: '{keyword.arg}' is given twice")
        given[keyword.arg] = keyword.value
    if "expr" not in given or "wrt" not in given:
        missing = "expr" if "expr" not in given else "wrt"
        raise compiler.fail(call, f"{name} needs '{missing}': {USAGE[name]}")
    return given["expr"], given["wrt"]


def wrt_source(compiler: _Compiler, node: ast.expr, caller: str) -> Source:
    """The source a `wrt` argument names, read from its syntax."""
    target, index = node, None
    if isinstance(node, ast.Subscript):
        index = static_index(node.slice, compiler)
        target = node.value
    if not isinstance(target, ast.Name):
        raise compiler.fail(node, f"{caller}: wrt must be an input or let name, or a component "
                                  "of one like x[:, 0] - not an expression (give the "
                                  "expression a name in let: to differentiate at it)")
    name = target.id
    if name not in compiler.names:
        from gradcli.errors import suggest

        if name in compiler.callables:
            reason = f"'{name}' is a model; differentiate w.r.t. its input or a let name"
        else:
            reason = (f"unknown name '{name}'{suggest(name, compiler.names)}; wrt must be an "
                      "input or a let name defined above")
        raise compiler.fail(target, f"{caller}: {reason}")
    source_node = compiler.names[name]
    if not source_node.is_float:
        raise compiler.fail(target, f"{caller}: '{name}' is {source_node.dtype}: integer "
                                    "inputs are never differentiated")
    if index is not None:
        try:
            selected_shape(source_node.shape, index)
        except SpecError as exc:
            raise compiler.fail(node, f"{caller}: '{ast.unparse(node)}': {exc.message}") \
                from None
    return Source(ast.unparse(node), name, source_node, index)
