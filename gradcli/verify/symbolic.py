"""Graphs lowered to sympy, element by element.

Every input element becomes either a real symbol named like the component a
user would write (`a[0,1]`) or an exact number; each node then becomes an
object array of sympy expressions through its op row's `sympy` rule, so the
lowering knows no op by name (three exceptions, in lowering_exceptions.py).  `check`
differentiates these expressions to get an independent derivative, and
`symbolic` prints them as closed forms.

sympy is imported inside functions only: importing this module is cheap, and
`gradcli grad` never pays for sympy.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import TABLE
from gradcli.errors import SpecError
from gradcli.verify.lowering_exceptions import OVERRIDES

# Symbolic lowering costs microseconds per element and op; past this many
# elements in a graph the lowering would take minutes, so callers skip it
# with a note instead of hanging.
MAX_GRAPH_ELEMENTS = 200_000
# Closed forms are run through sympy.simplify only below this operation
# count: simplify is exponential in the worst case, and a large expression
# is not made readable by it anyway.
SIMPLIFY_OPS = 60
# Digits of the numbers substituted when evaluating at a point: well beyond
# float64, so the symbolic reference is not limited by float64 rounding.
CHECK_DIGITS = 30
# Elements of an elementwise node lowered between two checks of a time budget
# (about a tenth of a second of sympy).
PIECE = 1000


def element_label(name: str, index: Sequence[int]) -> str:
    """How a component is written by users and in symbol names: `a[0,1]`, `x` for 0-d."""
    return name if not len(index) else f"{name}[{','.join(str(int(i)) for i in index)}]"


def latex_label(name: str, index: Sequence[int]) -> str:
    return name if not len(index) else f"{name}_{{{','.join(str(int(i)) for i in index)}}}"


# ---- numbers ---------------------------------------------------------------------

def number(value: Any, digits: int | None, exact: bool = True) -> Any:
    """A sympy number for a numpy scalar.

    digits=None (closed forms): integers and short fractions are exact
    (2.0 -> 2, 0.5 -> 1/2) so printed formulas stay readable; other floats
    keep their float64 value.  digits=N (checks): integers exact, other
    floats their exact binary value carried at N digits, so the reference is
    more precise than the engine.  exact=False (the values of inputs in a
    check): only 0 stays exact, 2.0 is a Float too: an exact 2 would make
    sech(2)**2 + tanh(2)**2 - 1 an exact number that sympy's Max cannot
    order ("not comparable"); at N digits it is a number it can.
    """
    import sympy

    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    x = float(value)
    if not np.isfinite(x):
        return sympy.nan if np.isnan(x) else (sympy.oo if x > 0 else -sympy.oo)
    if digits is not None and not exact and x != 0:
        return sympy.Float(x, digits)
    if x.is_integer() and abs(x) < 2**53:
        return sympy.Integer(int(x))
    if digits is not None:
        return sympy.Float(x, digits)
    nice = sympy.Rational(x).limit_denominator(1000)
    return nice if float(nice) == x else sympy.Float(x)


def numbers(array: np.ndarray, digits: int | None, exact: bool = True) -> np.ndarray:
    """An object array of sympy numbers for a numeric array."""
    array = np.asarray(array)
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(array.shape):
        out[index] = number(array[index], digits, exact)
    return out


def _sympified(array: Any, digits: int | None) -> np.ndarray:
    """Rules built on numpy (fill, sums of empty axes) can leave Python numbers
    in their object arrays; make every element a sympy object."""
    out = np.array(array, dtype=object)
    for index in np.ndindex(out.shape):
        item = out[index]
        if isinstance(item, (bool, int, float, np.generic)):
            out[index] = number(item, digits)
    return out


def symbols(name: str, shape: Sequence[int], mask: np.ndarray | None = None,
            values: np.ndarray | None = None, digits: int | None = None,
            exact: bool = True) -> np.ndarray:
    """Real symbols `name[i,j]` where `mask` is true (everywhere without one);
    elsewhere the numbers of `values`."""
    import sympy

    out = np.empty(tuple(shape), dtype=object)
    for index in np.ndindex(out.shape):
        if mask is None or mask[index]:
            out[index] = sympy.Symbol(element_label(name, index), real=True)
        else:
            out[index] = number(values[index], digits, exact)
    return out


# ---- lowering --------------------------------------------------------------------------

def _schedule(outputs: Sequence[Node], given: Mapping[int, Any]) -> list[Node]:
    """The nodes to lower, inputs first, not descending below given nodes."""
    order: list[Node] = []
    seen: set[int] = set(given)
    for root in outputs:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in seen and not expanded:
                continue
            if expanded:
                order.append(node)
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((i, False) for i in reversed(node.inputs) if id(i) not in seen)
    return order


def reached(outputs: Sequence[Node], stops: Mapping[int, Any] | set[int]) -> list[Node]:
    """Every node the outputs reach, not walking past the `stops` (which are included)."""
    found: list[Node] = []
    seen: set[int] = set()
    stack = list(outputs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        if id(node) not in stops:
            stack.extend(node.inputs)
    return found


def graph_elements(outputs: Sequence[Node], stops: Mapping[int, Any] | set[int]) -> int:
    """Elements to lower (stops included): what the cost of `lower` grows with."""
    return sum(n.size for n in reached(outputs, stops))


def lower(outputs: Sequence[Node], given: Mapping[int, np.ndarray],
          digits: int | None = None, check: Callable[[], None] | None = None
          ) -> list[np.ndarray]:
    """Object arrays of sympy expressions for `outputs`.

    `given` maps id(node) to the object array standing for that node: every
    input leaf the outputs reach, and any intermediate node to be treated as
    independent (a `let` source), below which nothing is lowered.  `check`
    is called before each node (a time budget raises there).
    """
    env: dict[int, np.ndarray] = dict(given)
    for node in _schedule(outputs, given):
        if check is not None:
            check()
        if node.op == "input":
            raise SpecError(f"internal: no symbolic value for input '{node.attrs['name']}'")
        if node.op == "const":
            env[id(node)] = numbers(node.attrs["value"], digits)
            continue
        rule = OVERRIDES.get(node.op, TABLE[node.op].sympy)
        args = [env[id(i)] for i in node.inputs]
        if check is not None and getattr(rule, "elementwise", False) and node.size > PIECE:
            result = _in_pieces(rule, args, node, check)
        else:
            result = rule(*args, **node.attrs)
        env[id(node)] = _sympified(result, digits)
    return [env[id(o)] for o in outputs]


def _in_pieces(rule: Callable[..., np.ndarray], args: Sequence[np.ndarray], node: Node,
               check: Callable[[], None]) -> np.ndarray:
    """An elementwise rule applied PIECE elements at a time, `check` between
    pieces: sin of 10**5 numbers is half a minute of sympy, past any budget."""
    flat = [a.reshape(-1) for a in np.broadcast_arrays(
        *(np.asarray(a, dtype=object) for a in args))]
    out = np.empty(node.size, dtype=object)
    for start in range(0, node.size, PIECE):
        check()
        piece = rule(*(f[start:start + PIECE] for f in flat), **node.attrs)
        out[start:start + PIECE] = np.asarray(piece, dtype=object).reshape(-1)
    return out.reshape(node.shape)


# ---- sampling and evaluation ------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """Flat indices of the components examined, out of `total`."""

    flat: np.ndarray
    total: int

    @property
    def sampled(self) -> bool:
        return len(self.flat) < self.total


def sample(total: int, limit: int, key: str) -> Sample:
    """All components up to `limit`; beyond, a random sample that is the same
    on every run (seeded by the quantity's name), in increasing order."""
    if total <= limit:
        return Sample(np.arange(total), total)
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return Sample(np.sort(rng.choice(total, size=limit, replace=False)), total)


def to_float(expr: Any) -> float:
    """The float64 value of a fully numeric expression (inf/nan for poles)."""
    import sympy

    if isinstance(expr, sympy.logic.boolalg.BooleanAtom):
        return float(bool(expr))
    value = sympy.sympify(expr).evalf(CHECK_DIGITS) if not isinstance(expr, float) else expr
    if value in (sympy.oo, sympy.zoo):
        return np.inf if value == sympy.oo else np.nan
    if value == -sympy.oo:
        return -np.inf
    if value is sympy.nan:
        return np.nan
    if not value.is_number:
        raise SpecError(f"internal: symbolic value did not reduce to a number: {value}")
    if value.is_real is False:
        return np.nan
    return float(value)


def component_indices(shape: Sequence[int], index: tuple[Any, ...] | None) -> np.ndarray:
    """Base-array multi-indices (rows) of a source's component elements, in order."""
    flat = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(tuple(shape))
    chosen = flat if index is None else flat[index]
    return np.stack(np.unravel_index(np.ravel(chosen), tuple(shape)), axis=-1) \
        if len(shape) else np.zeros((1, 0), dtype=np.int64)
