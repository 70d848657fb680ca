"""The ops of the random-program generator (tests/randprog.py): each takes an
expression of known shape and returns a new one, with numpy computing the
result's shape (so the generator and gradcli agree on numpy semantics).

`bound` is a rough upper bound of |value|; `tamed()` squashes an expression
through tanh when it could grow large, so exp/prod/** never overflow."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

CAP = 24  # at most this many elements in any drawn intermediate


@dataclass(frozen=True)
class Ex:
    text: str
    shape: tuple[int, ...]
    bound: float
    kind: str = ""  # "input" or "let" for a name of the pool
    note: str = ""  # what made it ("reshape:(2, 3)", "transpose", "neg"), for patterns

    def tamed(self) -> Ex:
        if self.bound > 30 or not math.isfinite(self.bound):
            return Ex(f"tanh({self.text})", self.shape, 1.0)
        return self


def size_of(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=int))


def shape_by(fn, *shapes: tuple[int, ...]) -> tuple[int, ...]:  # noqa: ANN001
    return tuple(np.shape(fn(*[np.zeros(s) for s in shapes])))


# ---- elementwise --------------------------------------------------------------------------

SQ = "({0} * {0} + 0.5)"  # positive, >= 0.5
UNARY: list[tuple[str, object]] = [
    ("sin({0})", 1.0), ("tanh({0})", 1.0), ("(-{0})", "b"), ("cos({0})", 1.0),
    ("sigmoid({0})", 1.0), ("arctan({0})", 1.6), ("erf({0})", 1.0), ("erfc({0})", 2.0),
    ("sech2({0})", 1.0), ("arcsinh({0})", "log"), ("softplus({0})", "b+1"),
    ("silu({0})", "b+1"), ("gelu({0})", "b+1"), ("gelu({0}, approximate=True)", "b+1"),
    ("square({0})", "b2"), ("({0} ** 2)", "b2"), ("({0} ** 3)", "b3"), ("(0.5 * {0})", "b"),
    ("exp({0})", "exp"), ("expm1({0})", "exp"), ("sinh({0})", "exp"), ("cosh({0})", "exp"),
    ("log(" + SQ + ")", "log2"), ("sqrt(" + SQ + ")", "b+1"), ("log1p({0} * {0})", "log2"),
    ("log2(" + SQ + ")", "log2"), ("log10(sigmoid({0}) + 0.1)", 1.0),
    ("cbrt(" + SQ + ")", "b+1"), ("arccosh({0} * {0} + 1.5)", "log2"),
    ("arcsin(0.5 * tanh({0}))", 1.0), ("arccos(0.5 * tanh({0}))", 3.2),
    ("arctanh(0.5 * tanh({0}))", 1.0), ("tan(0.5 * tanh({0}))", 1.0),
    ("(" + SQ + " ** 0.5)", "b+1"), ("(1.0 / " + SQ + ")", 2.0), ("stop_gradient({0})", "b"),
    ("relu({0})", "b"), ("abs({0})", "b"), ("elu({0})", "b+1"),
    ("leaky_relu({0}, alpha=0.1)", "b"), ("sign({0})", 1.0), ("clip({0}, -0.5, 0.5)", 0.5),
    ("maximum({0}, 0.1)", "b+1"), ("minimum({0}, 0.3)", "b+1"),
]


def _bound(rule: object, b: float) -> float:
    if isinstance(rule, float):
        return rule
    return {"b": b, "b+1": b + 1, "b2": b * b, "b3": b ** 3, "exp": math.exp(min(b, 700)),
            "log": math.log(2 * b + 1) + 1, "log2": 2 * math.log(b + 1.5) + 1}[rule]


def elementwise(bld, x: Ex) -> Ex:  # noqa: ANN001 - bld: randprog.Builder
    form, rule = UNARY[bld.int(0, len(UNARY) - 1)]
    if rule == "exp" and x.bound > 3 or rule == "b3" and x.bound > 3:
        x = Ex(f"tanh({x.text})", x.shape, 1.0)
    return Ex(form.format(x.text), x.shape, _bound(rule, x.bound), note="neg"
              if form == "(-{0})" else "")


# ---- adapt: any expression to a given shape ------------------------------------------------

def adapt_ops(bld, x: Ex, shape: tuple[int, ...]) -> Ex:  # noqa: ANN001
    """x turned into an expression of `shape` by shape ops."""
    if x.shape == shape:
        return x
    n, m = size_of(x.shape), size_of(shape)
    if n == m:
        if x.shape[::-1] == shape and bld.chance(50):
            return Ex(f"{x.text}.T", shape, x.bound)
        return Ex(f"reshape({x.text}, {shape!r})", shape, x.bound, note=f"reshape:{x.shape!r}")
    if shape == ():
        red = bld.pick(["sum", "mean", "max", "logsumexp", "norm", "min", "prod", "std"])
        if red == "prod" and (x.bound > 1.5 or n > 6):
            red = "mean"
        b = {"sum": x.bound * n, "norm": x.bound * n ** 0.5, "logsumexp": x.bound + 4,
             "prod": x.bound ** n}.get(red, x.bound)
        return Ex(f"{red}({x.text})", (), b)
    if x.shape == () or shape[len(shape) - len(x.shape):] == x.shape:
        return Ex(f"broadcast_to({x.text}, {shape!r})", shape, x.bound)
    flat = f"flatten({x.text})" if bld.chance(50) else f"reshape({x.text}, (-1,))"
    if n > m:
        return Ex(f"reshape({flat}[:{m}], {shape!r})", shape, x.bound)
    reps = -(-m // n)
    how = bld.pick(["tile", "repeat", "sum"])
    if how == "sum":
        return Ex(f"broadcast_to(sum({x.text}), {shape!r})", shape, x.bound * n)
    return Ex(f"reshape({how}({flat}, {reps})[:{m}], {shape!r})", shape, x.bound)


# ---- transformations ----------------------------------------------------------------------

def _binary(bld, x: Ex) -> Ex:  # noqa: ANN001
    pshape = bld.pick([x.shape, (), x.shape[1:]] if x.shape else [()])
    p = bld.fresh(pshape)
    op = bld.pick(["+", "*", "-", "/", "max", "min", "pow", "atan2", "lit"])
    a, c = (x, p) if bld.chance(50) else (p, x)
    if op in "+-":
        return Ex(f"({a.text} {op} {c.text})", x.shape, a.bound + c.bound)
    if op == "*":
        return Ex(f"({a.text} * {c.text})", x.shape, a.bound * c.bound)
    if op == "/":
        return Ex(f"({a.text} / {SQ.format(c.text)})", x.shape, 2 * a.bound)
    if op in ("max", "min"):
        return Ex(f"{op}imum({a.text}, {c.text})", x.shape, max(a.bound, c.bound))
    if op == "pow":
        return Ex(f"({SQ.format(a.text)} ** tanh({c.text}))", x.shape,
                  max(2.0, a.bound * a.bound + 0.5))
    if op == "atan2":
        return Ex(f"arctan2({a.text}, {SQ.format(c.text)})", x.shape, 1.6)
    lit = bld.pick(["0.5", "2.0", "-1.5"])
    return Ex(f"({x.text} * {lit})", x.shape, 2 * x.bound)


def _axis(bld, nd: int) -> object:  # noqa: ANN001
    opts: list[object] = [None] + list(range(-nd, nd))
    if nd >= 2:
        opts.append((0, nd - 1))
    return bld.pick(opts)


def _reduce(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    if not x.shape:
        return None
    red = bld.pick(["sum", "mean", "max", "min", "logsumexp", "norm", "prod", "var", "std"])
    axis = _axis(bld, len(x.shape))
    keep = bld.chance(30)
    shape = shape_by(lambda a: np.sum(a, axis=axis, keepdims=keep), x.shape)
    n = size_of(x.shape) // max(size_of(shape), 1)
    if red == "prod" and (x.bound > 1.5 or n > 6):
        x = Ex(f"tanh({x.text})", x.shape, 1.0)
    args = x.text + ("" if axis is None else f", axis={axis!r}") + (", keepdims=True" if keep
                                                                   else "")
    b = {"sum": x.bound * n, "norm": x.bound * n ** 0.5, "logsumexp": x.bound + 4,
         "prod": x.bound ** n, "var": x.bound ** 2}.get(red, x.bound)
    return Ex(f"{red}({args})", shape, b)


def _softmax(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    if not x.shape:
        return None
    fn = bld.pick(["softmax", "log_softmax"])
    axis = bld.pick(["", ", axis=0", ", axis=-1"])
    return Ex(f"{fn}({x.text}{axis})", x.shape, 1.0 if fn == "softmax" else x.bound * 2 + 4)


def _reshape(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    from randprog import factor_shapes

    shape = bld.pick(factor_shapes(size_of(x.shape)))
    text = repr(shape)
    if len(shape) >= 2 and bld.chance(30):
        text = repr((-1,) + shape[1:])
    return Ex(f"reshape({x.text}, {text})", shape, x.bound, note=f"reshape:{x.shape!r}")


def _transpose(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    nd = len(x.shape)
    if nd < 2 and not bld.chance(20):
        return None
    form = bld.int(0, 2)
    if form == 2 and nd >= 2:
        perm = tuple(int(i) for i in np.random.default_rng(bld.int(0, 99)).permutation(nd))
        return Ex(f"transpose({x.text}, axes={perm!r})", tuple(x.shape[i] for i in perm),
                  x.bound)
    return Ex(f"{x.text}.T" if form == 0 else f"transpose({x.text})", x.shape[::-1], x.bound,
              note="transpose")


def _layout(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    """flatten, expand_dims, squeeze, broadcast_to, tile, repeat, pad, diag."""
    nd, kind = len(x.shape), bld.pick(["flatten", "expand", "squeeze", "broadcast", "tile",
                                        "repeat", "pad", "diag"])
    if kind == "flatten":
        return Ex(f"flatten({x.text})", (size_of(x.shape),), x.bound)
    if kind == "expand":
        axis = bld.int(-nd - 1, nd)
        return Ex(f"expand_dims({x.text}, {axis})", shape_by(lambda a: np.expand_dims(a, axis),
                                                             x.shape), x.bound)
    if kind == "squeeze":
        ones = [i for i, s in enumerate(x.shape) if s == 1]
        if not ones:
            return None
        if bld.chance(50):
            return Ex(f"squeeze({x.text})", tuple(s for s in x.shape if s != 1), x.bound)
        i = bld.pick(ones)
        return Ex(f"squeeze({x.text}, axis={i})", x.shape[:i] + x.shape[i + 1:], x.bound)
    if kind == "broadcast":
        shape = (bld.int(2, 3),) + x.shape
        if 1 in x.shape and bld.chance(50):
            shape = tuple(3 if s == 1 else s for s in x.shape)
        return Ex(f"broadcast_to({x.text}, {shape!r})", shape, x.bound)
    if kind in ("tile", "repeat"):
        if kind == "tile":
            reps = bld.pick([2, (2, 1), (1, 2)])
            shape = shape_by(lambda a: np.tile(a, reps), x.shape)
            return Ex(f"tile({x.text}, {reps!r})", shape, x.bound)
        axis = None if not nd or bld.chance(40) else bld.int(0, nd - 1)
        return Ex(f"repeat({x.text}, 2{'' if axis is None else f', axis={axis}'})",
                  shape_by(lambda a: np.repeat(a, 2, axis=axis), x.shape), x.bound)
    if kind == "pad":
        if not nd:
            return None
        mode = bld.pick(["constant", "edge", "reflect", "wrap", "symmetric"])
        if mode == "reflect" and min(x.shape) < 2:
            mode = "edge"
        width = bld.pick([1, (1, 0)])
        return Ex(f'pad({x.text}, {width!r}, mode="{mode}")',
                  shape_by(lambda a: np.pad(a, width, mode=mode), x.shape), x.bound)
    if nd == 1 and x.shape[0] <= 4 or nd == 2:
        return Ex(f"diag({x.text})", shape_by(np.diag, x.shape), x.bound)
    return None


def _index(bld, x: Ex) -> tuple[str, tuple] | None:  # noqa: ANN001
    """A basic index of x: (text, python index)."""
    nd = len(x.shape)
    if not nd:
        return ("...", (Ellipsis,)) if bld.chance(50) else ("None", (None,))
    n0 = x.shape[0]
    forms = [(f"{n0 - 1}", (n0 - 1,)), ("0", (0,)), ("-1", (-1,)), ("1:", (slice(1, None),)),
             ("::-1", (slice(None, None, -1),)), ("..., None", (Ellipsis, None)),
             (":-1", (slice(None, -1),))]
    if nd >= 2:
        j = x.shape[1] - 1
        forms += [(f":, {j}", (slice(None), j)), ("0, 1:", (0, slice(1, None))),
                  ("1:, :-1", (slice(1, None), slice(None, -1))), (f"-1, {j}", (-1, j))]
    text, idx = bld.pick(forms)
    if size_of(shape_by(lambda a: a[idx], x.shape)) == 0:
        return None
    return text, idx


def _getitem(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    got = _index(bld, x)
    if got is None:
        return None
    text, idx = got
    return Ex(f"{x.text}[{text}]", shape_by(lambda a: a[idx], x.shape), x.bound)


def _at(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    got = _index(bld, x)
    if got is None or not x.shape or "None" in got[0]:
        return None
    text, idx = got
    vshape = shape_by(lambda a: a[idx], x.shape)
    if vshape and bld.chance(25):
        vshape = ()
    v = bld.fresh(vshape)
    how = bld.pick(["set", "add"])
    return Ex(f"{x.text}.at[{text}].{how}({v.text})", x.shape, x.bound + v.bound)


def _join(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    nd = len(x.shape)
    if bld.chance(50) and nd:
        axis = bld.int(-nd, nd - 1)
        pshape = list(x.shape)
        pshape[axis] = bld.int(1, 2)
        p = bld.fresh(tuple(pshape))
        shape = shape_by(lambda a, c: np.concatenate([a, c], axis=axis), x.shape, p.shape)
        parts = f"[{x.text}, {p.text}]" if bld.chance(50) else f"[{p.text}, {x.text}]"
        return Ex(f"concat({parts}, axis={axis})", shape, max(x.bound, p.bound))
    axis = bld.int(0, nd)
    p = bld.fresh(x.shape)
    return Ex(f"stack([{x.text}, {p.text}], axis={axis})",
              shape_by(lambda a, c: np.stack([a, c], axis=axis), x.shape, x.shape),
              max(x.bound, p.bound))


def _product(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    nd = len(x.shape)
    kind = bld.pick(["matmul", "dot", "outer", "tensordot", "einsum", "mse"])
    if kind == "mse":
        p = bld.fresh(x.shape)
        return Ex(f"mse({x.text}, {p.text})", (), (x.bound + p.bound) ** 2)
    if kind == "outer":
        p = bld.fresh((bld.int(1, 3),))
        return Ex(f"outer({x.text}, {p.text})", (size_of(x.shape), p.shape[0]),
                  x.bound * p.bound)
    if nd not in (1, 2):
        return None
    k = x.shape[-1]
    if kind == "einsum":
        if nd == 2 and bld.chance(50):
            return Ex(f'einsum("ij->ji", {x.text})', x.shape[::-1], x.bound)
        p = bld.fresh(x.shape)
        spec = "ij,ij->i" if nd == 2 else "i,i->"
        return Ex(f'einsum("{spec}", {x.text}, {p.text})', x.shape[:-1], x.bound * p.bound * k)
    pshape = bld.pick([(k,), (k, bld.int(1, 3))])
    p = bld.fresh(pshape)
    shape = shape_by(np.matmul, x.shape, pshape)
    if kind == "matmul":
        text = f"({x.text} @ {p.text})" if bld.chance(50) else f"matmul({x.text}, {p.text})"
    elif kind == "dot":
        text = f"dot({x.text}, {p.text})"
    else:
        text = f"tensordot({x.text}, {p.text}, axes=1)"
    return Ex(text, shape, x.bound * p.bound * k)


def _linalg(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    if len(x.shape) != 2 or x.shape[0] != x.shape[1] or x.shape[0] > 3:
        return None
    n = x.shape[0]
    m = f"(eye({n}) + 0.3 * tanh({x.text}))"  # diagonally dominant: well conditioned
    kind = bld.pick(["trace", "det", "inv", "solve", "einsum"])
    if kind == "trace":
        return Ex(f"trace({x.text})", (), x.bound * n)
    if kind == "einsum":
        return Ex(f'einsum("ii->", {x.text})', (), x.bound * n)
    if kind == "det":
        return Ex(f"det({m})", (), 1.3 ** n * 2)
    if kind == "inv":
        return Ex(f"inv({m})", (n, n), 5.0)
    p = bld.fresh(bld.pick([(n,), (n, bld.int(1, 2))]))
    return Ex(f"solve({m}, {p.text})", p.shape, 5 * p.bound * n)


def _where(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    p = bld.fresh(x.shape)
    cond = bld.pick(["{a} > 0", "{a} < {b}", "sin({a}) >= 0.2", "{b} <= 0.1"])
    return Ex(f"where({cond.format(a=x.text, b=p.text)}, {x.text}, {p.text})", x.shape,
              max(x.bound, p.bound))


NAME = re.compile(r"\b([xh]\d+)\b")


def derivative_call(bld, x: Ex) -> Ex | None:  # noqa: ANN001
    """grad/jacobian/hessian of an expression built on x, w.r.t. a name above."""
    used = [n for n in dict.fromkeys(NAME.findall(x.text)) if n in bld.pool]
    names = used if used and bld.chance(80) else list(bld.pool)
    w = bld.pool[bld.pick(names)]
    wtext, wshape = w.text, w.shape
    if w.shape and bld.chance(40):
        got = _index(bld, w)
        if got is not None and "None" not in got[0] and "..." not in got[0]:
            wtext = f"{w.text}[{got[0]}]"
            wshape = shape_by(lambda a: a[got[1]], w.shape)
    body = elementwise(bld, x) if bld.chance(70) else x
    if bld.chance(40):  # a product, so the derivative still depends on the source
        body = Ex(f"({body.text} * {x.text})", x.shape, body.bound * x.bound)
    kind = bld.pick(["grad", "jacobian", "hessian"])
    if kind == "jacobian" and size_of(body.shape + wshape) <= CAP:
        return Ex(f"jacobian({body.text}, {wtext})", body.shape + wshape, 4 * body.bound + 4)
    if kind == "hessian" and size_of(wshape) <= 4:
        return Ex(f"hessian({body.text}, {wtext})", wshape + wshape,
                  10 * body.bound * size_of(body.shape) + 10)
    return Ex(f"grad({body.text}, {wtext})", wshape, 4 * body.bound * size_of(body.shape) + 4)


TRANSFORMS = [elementwise, _binary, _reduce, _reshape, _transpose, _layout, _getitem, _at,
              _join, _product, _linalg, _where, _softmax, derivative_call]


def any_ops(bld, x: Ex) -> Ex:  # noqa: ANN001
    for _ in range(4):
        y = TRANSFORMS[bld.int(0, len(TRANSFORMS) - 1)](bld, x)
        if y is not None:
            return replace(y, kind="")
    return elementwise(bld, x)
