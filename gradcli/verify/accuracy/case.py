"""One accuracy case: an op, the gradcli expressions that exercise it, its
points, and its 50-digit references.

A case sees the op as a map from n numbers to m numbers per point (a unary
op: 1 -> 1; logsumexp over 3 logits: 3 -> 1; softmax: 3 -> 3).  Its
references are closed forms in mpmath: the values (m), the Jacobian (m x n)
and the second derivatives (m x n x n).  `cross_check` holds them against
`mpmath.diff` of the value form, so a wrong closed form cannot pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath

from gradcli.verify.accuracy.points import Points, Range

DIGITS = 50  # the references' working precision
Mp = Any  # an mpmath number (mpf; an mpc marks a point outside the real domain)
Values = Callable[[Sequence[Mp]], list[Mp]]
Jacobian = Callable[[Sequence[Mp]], list[list[Mp]]]
Second = Callable[[Sequence[Mp]], list[list[list[Mp]]]]


@dataclass(frozen=True)
class Case:
    """How the harness measures `op` (a TABLE row or a catalogue function)."""

    op: str
    inputs: tuple[tuple[str, tuple[int, ...]], ...]  # gradcli input names, per-point shapes
    outputs: tuple[str, ...]  # gradcli expressions: one number per point each
    points: Callable[[Range], Any]  # Range -> (P, n) array of points
    value: Values
    jacobian: Jacobian
    second: Second
    where: str = ""  # the op's own dangerous points, in words (for docs/accuracy.md)
    avoid: Callable[[Any], Any] | None = None  # (P, n) points -> mask of points to leave out
    fixed: tuple[tuple[str, str, int], ...] = ()  # constant inputs: name, dtype, value
    # (P, n) points -> mask of the points where the op's documented exceptions
    # (`accuracy` in its row) apply; None: everywhere.  Elsewhere the bar holds.
    loose: Callable[[Any], Any] | None = None
    # One op measured several ways (norm's ords, matrix_power's n): each way is
    # its own case, named "op variant" in docs/accuracy.md; "" for the only one.
    variant: str = ""
    # value, Jacobian and second derivatives at once (the decompositions share
    # one factorisation between them); None: the three callables above
    forms: Callable[[Sequence[Mp]], tuple[list, list, list]] | None = None

    @property
    def key(self) -> str:
        """The case's name: the op, or the op and its variant."""
        return f"{self.op} {self.variant}" if self.variant else self.op

    @property
    def width(self) -> int:
        """n: the numbers per point."""
        return sum(_size(shape) for _, shape in self.inputs)

    def split(self, flat: Any) -> dict[str, Any]:
        """The (P, n) points as gradcli inputs of shape (P,) + per-point shape."""
        out, start = {}, 0
        for name, shape in self.inputs:
            size = _size(shape)
            out[name] = flat[:, start:start + size].reshape((flat.shape[0],) + shape)
            start += size
        return out


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


def unary(op: str, points: Points, f: Callable[[Mp], Mp], d1: Callable[[Mp], Mp],
          d2: Callable[[Mp], Mp], where: str = "", expr: str | None = None,
          avoid: Callable[[Any], Any] | None = None) -> Case:
    """An elementwise op y = f(x) with closed forms of f' and f''."""
    return Case(op, (("x", ()),), (expr or f"{op}(x)",),
                lambda r: points(r).reshape(-1, 1),
                lambda x: [f(x[0])], lambda x: [[d1(x[0])]], lambda x: [[[d2(x[0])]]],
                where, avoid)


def binary(op: str, expr: str, points: Callable[[Range], Any],
           f: Callable[[Mp, Mp], Mp],
           grad: Callable[[Mp, Mp], tuple[Mp, Mp]],
           hess: Callable[[Mp, Mp], tuple[Mp, Mp, Mp]], where: str = "",
           avoid: Callable[[Any], Any] | None = None,
           loose: Callable[[Any], Any] | None = None) -> Case:
    """y = f(a, b); grad = (f_a, f_b), hess = (f_aa, f_ab, f_bb)."""

    def second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
        aa, ab, bb = hess(x[0], x[1])
        return [[[aa, ab], [ab, bb]]]

    return Case(op, (("a", ()), ("b", ())), (expr,), points,
                lambda x: [f(x[0], x[1])], lambda x: [list(grad(x[0], x[1]))], second,
                where, avoid, loose=loose)


def references(case: Case, point: Sequence[float]) -> tuple[list, list, list]:
    """Values, Jacobian and second derivatives at one point, at DIGITS digits."""
    with mpmath.workdps(DIGITS):
        x = [mpmath.mpf(float(v)) for v in point]
        if case.forms is not None:
            return case.forms(x)
        return case.value(x), case.jacobian(x), case.second(x)


def cross_check(case: Case, point: Sequence[float], digits: int = 20) -> list[str]:
    """Where the closed forms disagree with mpmath.diff of the value form.

    The step is relative to the point (and to its distance from a pole the
    closed forms know nothing about, so it is small); the working precision
    is high enough that the differences keep `digits` digits."""
    problems = []
    xs = [mpmath.mpf(float(v)) for v in point]
    value, jac, sec = references(case, point)
    n = len(xs)
    with mpmath.workdps(DIGITS + 100):
        h = mpmath.mpf(10) ** -30
        # Below this, differences of the values hold no digits at this precision
        # (erf(-28) = -1 + 4e-343): entries that small are not cross-checked.
        size = min([min(abs(x), 1) for x in xs if x != 0] or [mpmath.mpf(1)])
        scale = max([abs(mpmath.mpf(v)) for v in value if not isinstance(v, mpmath.mpc)]
                    or [mpmath.mpf(1)])
        floors = [scale * mpmath.mpf(10) ** -80 / size ** k for k in (1, 2)]
        for i in range(len(value)):
            def fi(*args: Mp, i: int = i) -> Mp:
                return case.value(list(args))[i]

            for j in range(n):
                orders = [0] * n
                orders[j] = 1
                _compare(problems, f"d y{i}/d x{j}", jac[i][j],
                         _diff(fi, xs, orders, h), digits, floors[0])
                for k in range(j, n):
                    orders2 = list(orders)
                    orders2[k] += 1
                    _compare(problems, f"d2 y{i}/d x{j} d x{k}", sec[i][j][k],
                             _diff(fi, xs, orders2, h), digits, floors[1])
                    _compare(problems, f"symmetry y{i} {j},{k}", sec[i][j][k], sec[i][k][j],
                             digits)
    return problems


def _diff(f: Callable[..., Mp], xs: list[Mp], orders: list[int], h: Mp) -> Mp:
    """mpmath.diff with a step relative to the smallest nonzero coordinate (the
    test cross-checks at moderate points, |x| in [1e-20, 1e20])."""
    sizes = [min(abs(x), 1) for x in xs if x != 0] or [mpmath.mpf(1)]
    return mpmath.diff(f, tuple(xs), tuple(orders), h=h * min(sizes))


def _compare(problems: list[str], what: str, closed: Mp, numeric: Mp, digits: int,
             floor: Mp = 0) -> None:
    if isinstance(closed, mpmath.mpc) or isinstance(numeric, mpmath.mpc):
        return  # outside the real domain: the harness does not check there
    scale = max(abs(mpmath.mpf(closed)), abs(mpmath.mpf(numeric)))
    if scale <= floor:
        return
    if abs(closed - numeric) > scale * mpmath.mpf(10) ** -digits:
        problems.append(f"{what}: closed form {mpmath.nstr(closed, 15)}, "
                        f"mpmath.diff {mpmath.nstr(numeric, 15)}")

