"""Elementwise primitives.  Derivatives are written in graph ops; where a
naive formula loses precision, the rule uses a form that does not
(tanh' = sech2(x) = 4e/(1+e)**2 with e = exp(-2|x|), rather than 1 - tanh**2;
sigmoid' = s(x) * s(-x))."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from gradcli.engine.graph import Node
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import (
    batch_elementwise,
    infer_elementwise,
    infer_predicate,
    keep_dtype,
    sym_elementwise,
)
from gradcli.engine.ops.row import Accuracy, Into, Primitive
from gradcli.engine.ops.stable import (
    arctan2_partials,
    inv_one_plus_square,
    inv_sqrt_one_plus_square,
    inv_sqrt_square_minus_one,
    one_minus_square,
)

Deriv = Callable[[Node, Node], Node]  # (x, y) -> dy/dx as a node


def unary(name: str, forward: Callable[..., np.ndarray], deriv: Deriv | None,
          sympy: Callable[..., object], doc: str, kink: str = "") -> Primitive:
    """A row for y = f(x) with dy/dx = deriv(x, y) (None: piecewise constant)."""
    vjp = jvp = None
    if deriv is not None:
        def vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
            return (N.mul_derivative(g, deriv(out.inputs[0], out)),)

        def jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
            return None if t[0] is None else N.mul_derivative(t[0], deriv(out.inputs[0], out))

    return Primitive(name, infer_elementwise, forward, vjp, jvp, batch_elementwise(name),
                     sym_elementwise(sympy), doc, kink)


def c(value: float, like: Node) -> Node:
    return N.scalar(value, like)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Both branches are exact where they are used: no exp overflows, no 1 - s.
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _sech2_into(out: np.ndarray, x: np.ndarray, *, scratch: tuple[np.ndarray]) -> None:
    # 4 e / (1 + e)**2 with e = exp(-2|x|) <= 1: no overflow, no cancellation,
    # full relative precision in both tails (down to the last subnormal), one
    # exp an element; the rest are in-place passes over `out` and one scratch.
    # x is read by the first call only, so `out` may be x's own buffer.
    (d,) = scratch
    np.abs(x, out=out)
    np.multiply(out, -2, out=out)
    np.exp(out, out=out)
    np.add(out, 1, out=d)
    np.multiply(d, d, out=d)
    np.multiply(out, 4, out=out)
    np.divide(out, d, out=out)


def _sech2(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)  # a 0-d array stays an array
    _sech2_into(out, x, scratch=(np.empty_like(x),))
    return out


def _elementwise_math(fn: Callable[[float], float]) -> Callable[[np.ndarray], np.ndarray]:
    """A scalar function of `math` (erf, erfc: accurate in the tails) over an array:
    numpy has none, and a plain map over a list is twice as fast as np.vectorize."""

    def forward(x: np.ndarray) -> np.ndarray:
        flat = np.fromiter(map(fn, np.ravel(x).tolist()), dtype=np.float64, count=np.size(x))
        return flat.reshape(np.shape(x))

    return forward


_erf = _elementwise_math(math.erf)
_erfc = _elementwise_math(math.erfc)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _gauss(x: Node) -> Node:
    return N.mul(c(TWO_OVER_SQRT_PI, x), N.unary("exp", N.neg(N.square(x))))


def _inv_sqrt(x: Node) -> Node:
    return N.power(x, c(-0.5, x))


UNARY = [
    unary("neg", np.negative, lambda x, y: c(-1.0, x), lambda sp, a: -a, "-x"),
    unary("exp", np.exp, lambda x, y: y, lambda sp, a: sp.exp(a), "e**x"),
    unary("expm1", np.expm1, lambda x, y: N.unary("exp", x), lambda sp, a: sp.exp(a) - 1,
          "e**x - 1, exact for small x"),
    unary("log", np.log, lambda x, y: N.reciprocal(x), lambda sp, a: sp.log(a),
          "natural logarithm"),
    unary("log1p", np.log1p, lambda x, y: N.reciprocal(N.add(x, c(1.0, x))),
          lambda sp, a: sp.log(1 + a), "log(1 + x), exact for small x"),
    unary("sin", np.sin, lambda x, y: N.unary("cos", x), lambda sp, a: sp.sin(a), "sine"),
    unary("cos", np.cos, lambda x, y: N.neg(N.unary("sin", x)), lambda sp, a: sp.cos(a),
          "cosine"),
    unary("tan", np.tan, lambda x, y: N.add(c(1.0, x), N.square(y)), lambda sp, a: sp.tan(a),
          "tangent"),
    unary("arcsin", np.arcsin, lambda x, y: _inv_sqrt(one_minus_square(x)),
          lambda sp, a: sp.asin(a), "inverse sine", "derivative infinite at ±1"),
    unary("arccos", np.arccos, lambda x, y: N.neg(_inv_sqrt(one_minus_square(x))),
          lambda sp, a: sp.acos(a), "inverse cosine", "derivative infinite at ±1"),
    unary("arctan", np.arctan, lambda x, y: inv_one_plus_square(x),
          lambda sp, a: sp.atan(a), "inverse tangent"),
    unary("sinh", np.sinh, lambda x, y: N.unary("cosh", x), lambda sp, a: sp.sinh(a),
          "hyperbolic sine"),
    unary("cosh", np.cosh, lambda x, y: N.unary("sinh", x), lambda sp, a: sp.cosh(a),
          "hyperbolic cosine"),
    unary("tanh", np.tanh, lambda x, y: N.unary("sech2", x),
          lambda sp, a: sp.tanh(a), "hyperbolic tangent; derivative sech(x)**2 keeps "
          "full relative precision where 1 - tanh**2 cancels"),
    # tanh's derivative as its own op: exact in the tails, and its derivative
    # -2 sech² tanh reuses values the program already has (no cosh, sinh, pow).
    replace(unary("sech2", _sech2, lambda x, y: N.mul(N.mul(c(-2.0, x), y), N.unary("tanh", x)),
                  lambda sp, a: sp.sech(a) ** 2,
                  "sech(x)**2 = 1 - tanh(x)**2, exact for large |x|"),
            into=Into(_sech2_into, scratch=1, inplace=True)),
    unary("arcsinh", np.arcsinh, lambda x, y: inv_sqrt_one_plus_square(x),
          lambda sp, a: sp.asinh(a), "inverse hyperbolic sine"),
    unary("arccosh", np.arccosh, lambda x, y: inv_sqrt_square_minus_one(x),
          lambda sp, a: sp.acosh(a), "inverse hyperbolic cosine", "derivative infinite at 1"),
    unary("arctanh", np.arctanh, lambda x, y: N.reciprocal(one_minus_square(x)),
          lambda sp, a: sp.atanh(a), "inverse hyperbolic tangent"),
    # 1/(2y), not 0.5/y: its derivative -(2y)**-2 (2y') has no intermediate
    # y**-2 that overflows while sqrt'' is still a normal number.
    unary("sqrt", np.sqrt, lambda x, y: N.reciprocal(N.mul(c(2.0, x), y)),
          lambda sp, a: sp.sqrt(a), "square root", "sqrt'(0) = +inf (the one-sided limit)"),
    # 1/(3 y*y) rather than y**-2 / 3: the second derivative then has no
    # y**-5 that overflows before the constant 2/9 brings it back in range.
    unary("cbrt", np.cbrt,
          lambda x, y: N.reciprocal(N.mul(c(3.0, x), N.square(y))),
          lambda sp, a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3), "real cube root",
          "cbrt'(0) = +inf"),
    unary("abs", np.abs, lambda x, y: N.unary("sign", x), lambda sp, a: sp.Abs(a),
          "absolute value", "abs'(0) = 0"),
    unary("sign", np.sign, None, lambda sp, a: sp.sign(a), "-1, 0 or 1",
          "derivative 0 everywhere (undefined at 0, taken as 0)"),
    unary("erf", keep_dtype(_erf), lambda x, y: _gauss(x), lambda sp, a: sp.erf(a),
          "error function"),
    unary("erfc", keep_dtype(_erfc), lambda x, y: N.neg(_gauss(x)), lambda sp, a: sp.erfc(a),
          "complementary error function 1 - erf(x), exact in the tails"),
    # s(x) s(-x) = sech2(x/2) / 4: the same value, and its derivative
    # -sech2(x/2) tanh(x/2) / 4 is a product, where s'(x) s(-x) - s(x) s'(-x)
    # would cancel near 0.
    unary("sigmoid", _sigmoid,
          lambda x, y: N.mul(c(0.25, x), N.unary("sech2", N.mul(c(0.5, x), x))),
          lambda sp, a: 1 / (1 + sp.exp(-a)), "logistic 1/(1+e**-x), stable for any x"),
    unary("softplus", keep_dtype(lambda x: np.logaddexp(0, x)),
          lambda x, y: N.unary("sigmoid", x), lambda sp, a: sp.log(1 + sp.exp(a)),
          "log(1 + e**x), stable for any x"),
]


def _vjp_add(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    return tuple(N.sum_to(g, x.shape) if need else None for x, need in zip(out.inputs, needs))


def _jvp_add(t: tuple[Node | None, ...], out: Node) -> Node | None:
    parts = [N.broadcast_to(x, out.shape) for x in t if x is not None]
    return None if not parts else parts[0] if len(parts) == 1 else N.add(parts[0], parts[1])


def _binary(name: str, partials: Callable[[Node, Node, Node], tuple[Node, Node]],
            forward: Callable[..., np.ndarray], sympy: Callable[..., object], doc: str,
            kink: str = "") -> Primitive:
    """A row for y = f(a, b) with (dy/da, dy/db) = partials(a, b, y)."""

    def vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
        a, b = out.inputs
        da, db = partials(a, b, out)
        return (N.sum_to(N.mul_derivative(g, da), a.shape) if needs[0] else None,
                N.sum_to(N.mul_derivative(g, db), b.shape) if needs[1] else None)

    def jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
        a, b = out.inputs
        da, db = partials(a, b, out)
        terms = [N.mul_derivative(ti, d) for ti, d in zip(t, (da, db)) if ti is not None]
        if not terms:
            return None
        total = terms[0] if len(terms) == 1 else N.add(terms[0], terms[1])
        return N.broadcast_to(total, out.shape)

    return Primitive(name, infer_elementwise, forward, vjp, jvp, batch_elementwise(name),
                     sym_elementwise(sympy), doc, kink)


def _pow_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    """d/da = b * a**(b-1), but exactly 0 where b == 0: a**0 is the constant 1
    (at a = 0 the product would be 0 * inf = NaN).  d/db = a**b * log(a), but
    exactly 0 where a == 0 < b: 0**b is the constant 0 for b > 0 (the product
    would be 0 * -inf = NaN).  The masks are `where`s, so higher orders keep
    them (nodes.mul_derivative)."""
    # The mask sits on a**(b-1), not on the product: where b == 0 and a**-1 is
    # finite, d/da = 0 * a**-1 = 0 already, and its derivative by b keeps the
    # a**-1 that d2/da db = a**(b-1) (1 + b log a) needs there.
    power = N.power(a, N.sub(b, c(1.0, a)))
    da = N.mul(b, _zero_where(_zero_exponent_pole(a, b), power))
    db = N.mul(y, N.unary("log", a))
    return da, _zero_where(_zero_base(a, b), db)


def _zero_exponent_pole(a: Node, b: Node) -> Node:
    """b == 0 and a**-1 overflows (|a| below 1/max, a = 0 included): where
    0 * a**-1 would be NaN.  One boolean node, as in _zero_base."""
    at_zero = N.compare("eq", b, c(0.0, b))
    if at_zero.op == "const" and not at_zero.attrs["value"].any():
        return at_zero
    limit = 1.0 / float(np.finfo(a.dtype if a.is_float else "float64").max)
    size = N.where(at_zero, N.unary("abs", a), c(1.0, a))
    return N.compare("lt", size, c(limit, a))


def _zero_base(a: Node, b: Node) -> Node:
    """a == 0 and b > 0, as one boolean node (the where-trap fix needs a single
    `where`): a compared with 0 after replacing it by 1 wherever b <= 0.
    Constant operands fold, so 2.0 ** x gets a constant all-false mask."""
    zero = c(0.0, a)
    at_zero = N.compare("eq", a, zero)
    positive = N.compare("gt", b, c(0.0, b))
    for cond in (at_zero, positive):
        if cond.op == "const" and not cond.attrs["value"].any():
            return cond
    if positive.op == "const" and positive.attrs["value"].all():
        return at_zero
    return N.compare("eq", N.where(positive, a, c(1.0, a)), zero)


def _zero_where(cond: Node, d: Node) -> Node:
    """where(cond, 0, d), decided at build time when cond is a constant."""
    value = cond.attrs["value"] if cond.op == "const" else None
    if value is not None and not value.any():
        return d
    if value is not None and value.all():
        return N.fill(0.0, tuple(np.broadcast_shapes(cond.shape, d.shape)), d.dtype)
    return N.where(cond, c(0.0, d), d)


# Exponents that derivative rules produce all the time, done without np.power
# (several times slower than a multiply); results agree to the last ulp or two.
_POWERS = {2.0: lambda a: a * a, -1.0: lambda a: 1 / a, -2.0: lambda a: 1 / (a * a),
           3.0: lambda a: a * a * a, -3.0: lambda a: 1 / (a * a * a),
           0.5: np.sqrt, -0.5: lambda a: 1 / np.sqrt(a), 1.0: lambda a: a}


def _forward_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.ndim(b) == 0 and a.dtype.kind == "f":
        fast = _POWERS.get(float(b))
        if fast is not None:
            return np.asarray(fast(a), dtype=np.result_type(a, b))
    return np.power(a, b)


def _maximum_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    # Ties split the derivative evenly: 1/2 to each side.
    w = N.add(N.mask(N.compare("gt", a, b), y),
              N.mul(c(0.5, y), N.mask(N.compare("eq", a, b), y)))
    return w, N.sub(c(1.0, y), w)


def _arctan2_partials(a: Node, b: Node, y: Node) -> tuple[Node, Node]:
    return arctan2_partials(a, b)  # scaled: a**2 + b**2 neither overflows nor underflows


def _where_vjp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    cond, a, b = out.inputs
    zero = c(0.0, g)
    # where(), not multiplication by a mask: an inf/nan in the untaken branch's
    # cotangent path is never multiplied into the taken one.
    return (None,
            N.sum_to(N.where(cond, g, zero), a.shape) if needs[1] else None,
            N.sum_to(N.where(cond, zero, g), b.shape) if needs[2] else None)


def _where_jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
    cond = out.inputs[0]
    if t[1] is None and t[2] is None:
        return None
    ta = t[1] if t[1] is not None else c(0.0, out)
    tb = t[2] if t[2] is not None else c(0.0, out)
    return N.broadcast_to(N.where(cond, ta, tb), out.shape)


def _predicate(name: str, forward: Callable[..., np.ndarray], sym: str) -> Primitive:
    return Primitive(name, infer_predicate, forward, None, None, batch_elementwise(name),
                     sym_elementwise(lambda sp, a, b: getattr(sp, sym)(a, b)),
                     f"comparison ({sym}); derivative zero", "not differentiable: 0")


BINARY = [
    Primitive("add", infer_elementwise, np.add, _vjp_add, _jvp_add, batch_elementwise("add"),
              sym_elementwise(lambda sp, a, b: a + b), "a + b"),
    _binary("mul", lambda a, b, y: (b, a), np.multiply, lambda sp, a, b: a * b, "a * b"),
    replace(_binary("pow", _pow_partials, _forward_pow, lambda sp, a, b: a ** b, "a ** b",
                    "d/da = 0 where b = 0 (a**0 is the constant 1, also at a = 0); d/db = "
                    "a**b log(a) = 0 where a = 0 < b (0**b is the constant 0), -inf at "
                    "a = 0 >= b, NaN for a < 0"),
            accuracy=(Accuracy(2, math.inf, "float32 only: (1) b = 0 with |a| below "
                                            "1/sqrt(max) = 5e-20: d2/da db = 1/a is normal, "
                                            "but forward-over-reverse forms 0 * a**-2 = "
                                            "0 * inf, NaN; (2) d2/da db = a**(b-1) (1 + b "
                                            "log a) within 1e-2 of its root cancels: 1.9e-4 "
                                            "at a = 0.999, b = 1000", "float32"),)),
    _binary("maximum", _maximum_partials, np.maximum, lambda sp, a, b: sp.Max(a, b),
            "elementwise larger value", "ties split the derivative evenly (1/2 each)"),
    _binary("arctan2", _arctan2_partials, np.arctan2, lambda sp, a, b: sp.atan2(a, b),
            "angle of (b, a): arctan2(y, x)"),
    Primitive("where", lambda ins, at: (infer_elementwise(ins, at)[0],
                                        infer_elementwise(ins[1:], at)[1]),
              np.where, _where_vjp, _where_jvp, batch_elementwise("where"),
              sym_elementwise(lambda sp, cnd, a, b: sp.Piecewise((a, cnd), (b, True))),
              "where(cond, a, b): a where cond is true, else b",
              "no derivative through cond; the untaken branch gets exactly 0"),
    _predicate("lt", np.less, "Lt"),
    _predicate("le", np.less_equal, "Le"),
    _predicate("gt", np.greater, "Gt"),
    _predicate("ge", np.greater_equal, "Ge"),
    _predicate("eq", np.equal, "Eq"),
    _predicate("ne", np.not_equal, "Ne"),
]
