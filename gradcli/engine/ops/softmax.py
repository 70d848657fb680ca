"""The softmax family over the last axis: logsumexp, softmax, log_softmax and
softmax_c = 1 - softmax, as rows whose values and derivative rules keep full
relative precision for any finite logits.

With m the largest logit, k the number of logits equal to it and
S = sum over the others of exp(x - m) + (k - 1) (so that sum(exp(x - m)) = 1 + S):
- logsumexp = m + log1p(S): a dominant logit gives log1p(4e-18) = 4e-18, not
  log(1 + 4e-18) = 0;
- log_softmax = (x - m) - log1p(S), with x - m carried to twice the precision;
- softmax = exp(x - m) / (1 + S);
- softmax_c = 1 - softmax = S / (1 + S) at the largest logits, and 1 - softmax
  elsewhere (there softmax <= 1/2, so nothing cancels).
The rules never subtract 1 - s either: with s̄ = softmax_c,
  d log_softmax_i = t_i s̄_i - (sum_j s_j t_j - s_i t_i),
  d softmax_i     = s_i (t_i s̄_i - (sum_j s_j t_j - s_i t_i)),
so a basis tangent or cotangent (a Jacobian or Hessian column) meets only
products; the derivatives of those products are again rows of this family.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError


def _parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(m, hi, lo, e, S) over the last axis, kept: x - m = hi + lo exactly,
    e = exp(x - m) to the last bit, S as in the module doc."""
    with np.errstate(invalid="ignore", over="ignore"):
        if x.shape[-1]:
            m = np.max(x, axis=-1, keepdims=True)
        else:
            m = np.zeros(x.shape[:-1] + (1,), x.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype)  # all -inf: m = 0, lse = -inf
        hi = x - m
        lo = _two_sum_low(x, -m, hi)
        e = np.exp(hi)
        e = np.where(lo != 0, e + e * lo, e)  # (inf * 0 would be nan)
        top = x == m
        k = np.sum(top, axis=-1, keepdims=True)
        rest = np.sum(np.where(top, 0, e), axis=-1, keepdims=True) + (k - 1)
    return m, hi, lo, e, rest.astype(x.dtype)


def _two_sum_low(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The rounding error of s = fl(a + b) (Knuth's TwoSum, no branches)."""
    bb = s - a
    with np.errstate(invalid="ignore"):
        low = (a - (s - bb)) + (b - bb)
    return np.where(np.isfinite(low), low, 0).astype(a.dtype)


def _forward_logsumexp(x: np.ndarray) -> np.ndarray:
    m, _, _, _, rest = _parts(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (m + np.log1p(rest))[..., 0]


def _forward_log_softmax(x: np.ndarray) -> np.ndarray:
    _, hi, lo, _, rest = _parts(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (hi - np.log1p(rest)) + lo


def _forward_softmax(x: np.ndarray) -> np.ndarray:
    _, _, _, e, rest = _parts(x)
    with np.errstate(invalid="ignore"):
        return e / (1 + rest)


def _forward_softmax_c(x: np.ndarray) -> np.ndarray:
    m, _, _, e, rest = _parts(x)
    with np.errstate(invalid="ignore"):
        total = 1 + rest
        return np.where(x == m, rest / total, 1 - e / total)


# ---- rules -----------------------------------------------------------------------

def _keep(v: Node) -> Node:
    """Sum over the last axis, kept as size 1."""
    return N.reduce_sum(v, (v.ndim - 1,), keepdims=True)


def _mixed(t: Node, x: Node) -> Node:
    """t s̄ - (sum(s t) - s t): d log_softmax along t, without 1 - s."""
    s = N.unary("softmax", x)
    st = N.mul(s, t)
    return N.sub(N.mul(t, N.unary("softmax_c", x)), N.sub(_keep(st), st))


def _vjp_logsumexp(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x = out.inputs[0]
    return (N.mul(N.reshape(g, g.shape + (1,)), N.unary("softmax", x)),)


def _jvp_logsumexp(t: tuple[Node | None, ...], out: Node) -> Node | None:
    if t[0] is None:
        return None
    x = out.inputs[0]
    total = _keep(N.mul(t[0], N.unary("softmax", x)))
    return N.reshape(total, out.shape)


def _vjp_log_softmax(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    # sum_i g_i (d_ij - s_j) = g_j s̄_j - s_j (sum(g) - g_j)
    x = out.inputs[0]
    s = N.unary("softmax", x)
    return (N.sub(N.mul(g, N.unary("softmax_c", x)), N.mul(s, N.sub(_keep(g), g))),)


def _jvp_log_softmax(t: tuple[Node | None, ...], out: Node) -> Node | None:
    return None if t[0] is None else _mixed(t[0], out.inputs[0])


def _vjp_softmax(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    # sum_i g_i s_i (d_ij - s_j) = s_j (g_j s̄_j - (sum(g s) - g_j s_j))
    return (N.mul(out, _mixed(g, out.inputs[0])),)


def _jvp_softmax(t: tuple[Node | None, ...], out: Node) -> Node | None:
    return None if t[0] is None else N.mul(out, _mixed(t[0], out.inputs[0]))


def _vjp_softmax_c(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    (d,) = _vjp_softmax(g, apply("softmax", (out.inputs[0],)), needs)
    return (N.neg(d),)


def _jvp_softmax_c(t: tuple[Node | None, ...], out: Node) -> Node | None:
    d = _jvp_softmax(t, apply("softmax", (out.inputs[0],)))
    return None if d is None else N.neg(d)


def _infer(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x = inputs[0]
    if x.ndim == 0:
        raise ShapeError("the softmax family needs an axis of classes (at least 1 dimension)")
    return x.shape, x.dtype


def _infer_reduced(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    shape, dtype = _infer(inputs, attrs)
    return shape[:-1], dtype


def _batch(name: str):  # noqa: ANN202 - the rule type of row.py
    def rule(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
        return apply(name, inputs, attrs)  # the batch axis is never the last one

    return rule


def _sym(kind: str):  # noqa: ANN202
    def rule(x: np.ndarray, **attrs: Any) -> np.ndarray:
        import sympy

        x = np.asarray(x, dtype=object)
        out = np.empty(x.shape[:-1] + ((1,) if kind == "logsumexp" else x.shape[-1:]),
                       dtype=object)
        for index in np.ndindex(x.shape[:-1]):
            row = list(x[index])
            total = sum(sympy.exp(v) for v in row)
            for j, v in enumerate(row):
                if kind == "logsumexp":
                    out[index + (0,)] = sympy.log(total)
                    break
                out[index + (j,)] = {"softmax": sympy.exp(v) / total,
                                     "softmax_c": 1 - sympy.exp(v) / total,
                                     "log_softmax": v - sympy.log(total)}[kind]
        return out[..., 0] if kind == "logsumexp" else out

    return rule


ROWS = [
    Primitive("logsumexp", _infer_reduced, _forward_logsumexp, _vjp_logsumexp, _jvp_logsumexp,
              _batch("logsumexp"), _sym("logsumexp"),
              "log(sum(exp(x))) over the last axis: m + log1p(S), exact for one dominant "
              "logit"),
    Primitive("log_softmax", _infer, _forward_log_softmax, _vjp_log_softmax, _jvp_log_softmax,
              _batch("log_softmax"), _sym("log_softmax"),
              "x - logsumexp(x) over the last axis, as (x - m) - log1p(S)"),
    Primitive("softmax", _infer, _forward_softmax, _vjp_softmax, _jvp_softmax,
              _batch("softmax"), _sym("softmax"),
              "exp(x - m) / (1 + S) over the last axis"),
    Primitive("softmax_c", _infer, _forward_softmax_c, _vjp_softmax_c, _jvp_softmax_c,
              _batch("softmax_c"), _sym("softmax_c"),
              "1 - softmax(x) over the last axis, without cancellation: S / (1 + S) at the "
              "largest logits"),
]
