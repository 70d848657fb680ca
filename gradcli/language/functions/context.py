"""What every catalogue function needs besides its arguments: the problem's
float dtype, and the conversions of user values (numbers, nested lists,
nodes) into graph nodes of consistent dtypes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.graph import Node, const
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import broadcast
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.results import Results
from gradcli.language.limits import MAX_ELEMENTS, MAX_NDIM, size_error  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from gradcli.engine.transforms import Transforms

@dataclass(frozen=True)
class Context:
    """The problem-wide settings a function builds with."""

    dtype: str  # the problem's float dtype, "float64" or "float32"
    # Largest array (in elements) a spec may ask for: every shape is checked
    # against it when its node is built, long before anything is allocated.
    max_elements: int = MAX_ELEMENTS
    # The transformations (and the rule table they simplify with) that
    # derivative calls inside expressions build with: injected by the API,
    # so the language never imports autodiff (see engine/transforms.py).
    transforms: Transforms | None = None


def check_size(ctx: Context, shape: Sequence[int], what: str = "") -> tuple[int, ...]:
    """`shape` as a tuple, or a SpecError if an array of it is too large."""
    reason = size_error(shape, ctx.max_elements, what)
    if reason:
        raise SpecError(reason)
    return tuple(int(d) for d in shape)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _contains_node(value: Any) -> bool:
    if isinstance(value, Node):
        return True
    return isinstance(value, (list, tuple)) and any(_contains_node(v) for v in value)


def as_node(ctx: Context, value: Any) -> Node:
    """A node for a user value.  Nodes pass through unchanged (int nodes stay
    int); numbers and nested lists of numbers become constants of the
    problem's float dtype (spec literals are floats); a list holding nodes is
    stacked along a new first axis, as `np.array([a, b])` would."""
    if isinstance(value, Node):
        return value
    if isinstance(value, Results):
        raise SpecError(value.usage())
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return const(value, ctx.dtype)
        if value.dtype.kind in "iub":
            return const(value)
        raise SpecError(f"an array of dtype {value.dtype} cannot be used as a value")
    if isinstance(value, (list, tuple)) and _contains_node(value):
        return _stack_elements(ctx, value)
    if isinstance(value, (list, tuple, bool, int, float, np.number, np.bool_)):
        _check_numbers(value)
        try:
            return const(np.asarray(value, dtype=ctx.dtype), ctx.dtype)
        except OverflowError:
            raise SpecError(f"{_short(value)} holds an integer too large for "
                            f"{ctx.dtype}") from None
        except ValueError:
            raise SpecError(f"the nested list {_short(value)} is ragged: every row must have "
                            "the same length") from None
    raise SpecError(f"{_describe(value)} cannot be used as an array value")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_numbers(value: Any) -> None:
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_numbers(item)
    elif not isinstance(value, (bool, int, float, np.number, np.bool_)):
        raise SpecError(f"{_describe(value)} cannot be an element of an array")


def _stack_elements(ctx: Context, items: Sequence[Any]) -> Node:
    parts = promote(ctx, *(as_node(ctx, item) for item in items))
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        raise ShapeError("a list of arrays needs equal shapes to become one array, got "
                         + ", ".join(str(p.shape) for p in parts))
    rows = [N.reshape(p, (1,) + p.shape) for p in parts]
    return rows[0] if len(rows) == 1 else apply("concat", rows, {"axis": 0})


def times(a: Node, b: Node) -> Node:
    """a * b with IEEE semantics.  nodes.mul drops products with a zero
    constant, which is right for cotangents but not for user arithmetic:
    0 * inf and 0 * nan are nan in numpy, and so here."""
    return apply("mul", (a, b))


def to_float(ctx: Context, value: Any) -> Node:
    """A float node: int and bool nodes are cast to the problem's dtype
    (numpy's functions like exp promote integers to floats too)."""
    node = as_node(ctx, value)
    return node if node.is_float else N.cast(node, ctx.dtype)


def promote(ctx: Context, *values: Any) -> list[Node]:
    """Operands of one arithmetic op with a common dtype.

    Bool operands count as floats (a 0/1 mask); when any operand is a float,
    int operands are cast to the problem's dtype; int operands of different
    widths are widened to one (the engine's dtype rule takes the first)."""
    nodes = [as_node(ctx, v) for v in values]
    if any(n.is_float or n.dtype == "bool" for n in nodes):
        return [N.cast(n, ctx.dtype) for n in nodes]
    widest = str(np.result_type(*(n.dtype for n in nodes)))
    return [N.cast(n, widest) for n in nodes]


def elementwise(ctx: Context, *values: Any) -> list[Node]:
    """Promoted operands of an elementwise op, checked to broadcast together
    (a ShapeError naming the shapes, before any node is built)."""
    nodes = promote(ctx, *values)
    broadcast(tuple(nodes))
    return nodes


def condition(ctx: Context, value: Any) -> Node:
    """A boolean node for `where`: comparisons pass through; other arrays
    follow numpy's truth rule (non-zero is true)."""
    if isinstance(value, Node):
        if value.dtype == "bool":
            return value
        return N.compare("ne", value, const(np.zeros((), value.dtype)))
    if isinstance(value, np.ndarray):
        return const(value.astype(bool))
    if isinstance(value, (list, tuple)) and _contains_node(value):
        raise SpecError("a condition must be one array (e.g. x > 0), not a list of arrays")
    _check_numbers(value)
    try:
        return const(np.asarray(value, dtype=bool))
    except ValueError:
        raise SpecError(f"the nested list {_short(value)} is ragged") from None
