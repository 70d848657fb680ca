"""Convolutions, channels last (Keras's layout), as three bilinear rows that
are each other's derivatives.

With n spatial axes, strides s, dilation d and padding (lo, hi) per axis
(xp is x padded with zeros), the three rows are the partial derivatives of
one trilinear form  sum g[b, o, co] * xp[b, o*s + k*d, ci] * w[k, ci, co]:

    conv(x, w)            y[b, o, co] = sum_{k, ci} xp[b, o*s + k*d, ci] w[k, ci, co]
    conv_transpose(g, w)  x-shaped: every g[b, o, co] * w[k, ci, co] added at
                          x[b, o*s + k*d - lo, ci] (the transposed convolution)
    conv_filter(x, g)     w-shaped: sum_{b, o} xp[b, o*s + k*d, ci] g[b, o, co]
                          (the correlation of the input with the cotangent)

x is (B, *S, Cin), w is (*K, Cin, Cout) (Keras's kernel layout: a 3x3 conv2d
from 4 to 8 channels has a (3, 3, 4, 8) kernel), y and g are (B, *O, Cout)
with O = (S + lo + hi - ((K - 1) * d + 1)) // s + 1.  So the vjp of conv is
conv_transpose (input) and conv_filter (kernel), and the vjps of those two
are again rows of the three: derivatives of any order stay convolutions.

`lead` leading axes (a vmapped batch of problems: Jacobian and Hessian
columns, per-sample kernels) come before B on all three operands and pair
up one to one.  The forward passes are im2col: the windows of xp as a
strided view (`windows.window_view`), copied once into a (rows, K * Cin)
matrix and multiplied by the kernel with BLAS; the transposed convolution
multiplies first and adds the K window taps back (col2im).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import add_all, result_dtype
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.engine.ops.windows import (
    Pads,
    add_windows,
    crop,
    geometry,
    out_sizes,
    pad_axes,
    window_view,
)
from gradcli.errors import ShapeError

GEOMETRY = ("strides", "dilation", "padding", "lead")
# Elements of one im2col matrix (the copied windows) at most, batch chunks apart.
COLUMNS = 1 << 22


def conv_attrs(strides: tuple[int, ...], dilation: tuple[int, ...], padding: Pads,
               lead: int = 0) -> dict[str, Any]:
    """The attrs every convolution row takes, normalised to tuples of ints."""
    return {"strides": tuple(int(s) for s in strides),
            "dilation": tuple(int(d) for d in dilation),
            "padding": tuple((int(lo), int(hi)) for lo, hi in padding), "lead": int(lead)}


def conv(x: Node, w: Node, attrs: Attrs) -> Node:
    return apply("conv", (x, w), _base(attrs))


def conv_transpose(g: Node, w: Node, attrs: Attrs, size: Shape) -> Node:
    return apply("conv_transpose", (g, w), {**_base(attrs), "size": tuple(size)})


def conv_filter(x: Node, g: Node, attrs: Attrs, kernel: Shape) -> Node:
    return apply("conv_filter", (x, g), {**_base(attrs), "kernel": tuple(kernel)})


def _base(attrs: Attrs) -> dict[str, Any]:
    return {k: attrs[k] for k in GEOMETRY}


# ---- shapes ---------------------------------------------------------------------

def _parts(node: Node, lead: int, n: int, what: str, layout: str) -> tuple[Shape, ...]:
    """(V, the axis after V, the n spatial or kernel axes, the rest) of an operand."""
    if node.ndim != lead + n + 2:
        raise ShapeError(f"{what} takes {layout} ({lead + n + 2} axes), got shape {node.shape}")
    s = node.shape
    return s[:lead], s[lead:lead + 1], s[lead + 1:lead + 1 + n], s[lead + 1 + n:]


def _kernel_parts(w: Node, lead: int, n: int, what: str) -> tuple[Shape, Shape, int, int]:
    if w.ndim != lead + n + 2:
        raise ShapeError(f"{what}: a kernel (*K, Cin, Cout) has {n + 2} axes, got shape "
                         f"{w.shape}")
    return w.shape[:lead], w.shape[lead:lead + n], w.shape[-2], w.shape[-1]


def _same_lead(what: str, *parts: Shape) -> None:
    if len(set(parts)) > 1:
        raise ShapeError(f"{what}: leading (batched) axes {' and '.join(map(str, parts))} differ")


def _infer_conv(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, w = inputs
    lead, n = attrs["lead"], len(attrs["strides"])
    v, b, sizes, (cin,) = _parts(x, lead, n, "conv", "(B, *spatial, channels)")
    wv, kernel, kin, cout = _kernel_parts(w, lead, n, "conv")
    _same_lead("conv", v, wv)
    if cin != kin:
        raise ShapeError(f"conv: the input has {cin} channels, the kernel {w.shape} expects "
                         f"{kin}")
    return v + b + geometry(sizes, attrs, kernel, "conv") + (cout,), result_dtype(inputs)


def _infer_transpose(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    g, w = inputs
    lead, n, size = attrs["lead"], len(attrs["strides"]), tuple(attrs["size"])
    v, b, out, (cout,) = _parts(g, lead, n, "conv_transpose", "(B, *positions, channels)")
    wv, kernel, cin, kout = _kernel_parts(w, lead, n, "conv_transpose")
    _same_lead("conv_transpose", v, wv)
    if cout != kout or geometry(size, attrs, kernel, "conv_transpose") != out:
        raise ShapeError(f"conv_transpose: a cotangent of shape {g.shape} does not come from "
                         f"spatial size {size} and a kernel {w.shape}")
    return v + b + size + (cin,), result_dtype(inputs)


def _infer_filter(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x, g = inputs
    lead, n, kernel = attrs["lead"], len(attrs["strides"]), tuple(attrs["kernel"])
    v, b, sizes, (cin,) = _parts(x, lead, n, "conv_filter", "(B, *spatial, channels)")
    gv, gb, out, (cout,) = _parts(g, lead, n, "conv_filter", "(B, *positions, channels)")
    _same_lead("conv_filter", v, gv)
    if b != gb or geometry(sizes, attrs, kernel, "conv_filter") != out:
        raise ShapeError(f"conv_filter: a cotangent of shape {g.shape} does not come from an "
                         f"input of shape {x.shape} and a kernel {kernel}")
    return v + kernel + (cin, cout), result_dtype(inputs)


# ---- forward (numpy; the sympy rules run the same code on object arrays) -------------

def _windows(x: np.ndarray, lead: int, kernel: Shape, attrs: dict[str, Any]
             ) -> tuple[np.ndarray, Shape]:
    """The windows of xp as a strided view (prod V, B, *O, *K, Cin), and O."""
    n = len(kernel)
    x = x.reshape((math.prod(x.shape[:lead]),) + x.shape[lead:])
    axes = tuple(range(2, 2 + n))
    out = out_sizes(x.shape[2:2 + n], kernel, attrs["strides"], attrs["dilation"],
                    attrs["padding"])
    xp = pad_axes(x, axes, attrs["padding"], 0)
    view = window_view(xp, axes, kernel, attrs["strides"], attrs["dilation"], out)
    return np.moveaxis(view, 2 + n, -1), out  # taps before channels, as in the kernel


def _chunks(batch: int, per_sample: int) -> list[slice]:
    """Slices of the batch axis whose im2col matrix stays under COLUMNS
    elements: the copied windows are prod(K) times the input's size, and a
    large batch should not need that much memory at once."""
    step = max(1, COLUMNS // max(per_sample, 1))
    return [slice(b, min(b + step, batch)) for b in range(0, batch, step)] or [slice(0, 0)]


def _cast(value: np.ndarray, *operands: np.ndarray) -> np.ndarray:
    dtype = np.result_type(*operands)
    return value if value.dtype == dtype or dtype.kind == "O" else value.astype(dtype)


def forward_conv(x: np.ndarray, w: np.ndarray, *, strides: tuple[int, ...],
                 dilation: tuple[int, ...], padding: Pads, lead: int) -> np.ndarray:
    attrs = {"strides": strides, "dilation": dilation, "padding": padding}
    kernel, cout = w.shape[lead:lead + len(strides)], w.shape[-1]
    view, out = _windows(x, lead, kernel, attrs)
    vn, b = view.shape[:2]
    wm = w.reshape(vn, -1, cout)
    y = np.empty((vn, b) + out + (cout,), dtype=np.result_type(x, w))
    for v in range(vn):
        for part in _chunks(b, math.prod(view.shape[2:])):
            cols = view[v, part].reshape(-1, wm.shape[1])  # im2col: the one copy
            y[v, part] = (cols @ wm[v]).reshape(y[v, part].shape)
    return _cast(y.reshape(x.shape[:lead + 1] + out + (cout,)), x, w)


def forward_conv_transpose(g: np.ndarray, w: np.ndarray, *, strides: tuple[int, ...],
                           dilation: tuple[int, ...], padding: Pads, lead: int,
                           size: Shape) -> np.ndarray:
    n = len(strides)
    kernel, (cin, cout) = w.shape[lead:lead + n], w.shape[-2:]
    vn, b, out = math.prod(g.shape[:lead]), g.shape[lead], g.shape[lead + 1:lead + 1 + n]
    gm = g.reshape((vn, b, math.prod(out), cout))
    wt = np.swapaxes(w.reshape(vn, math.prod(kernel) * cin, cout), -1, -2)
    axes = tuple(range(1, 1 + n))
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    buffer = np.zeros((vn, b) + padded + (cin,), dtype=np.result_type(g, w))
    for v in range(vn):
        for part in _chunks(b, math.prod(out) * wt.shape[-1]):
            cols = (gm[v, part] @ wt[v]).reshape((-1,) + out + tuple(kernel) + (cin,))
            add_windows(buffer[v, part], np.moveaxis(cols, -1, 1 + n), axes, kernel, strides,
                        dilation, out)  # col2im, one strided add per window tap
    gx = crop(buffer, tuple(a + 1 for a in axes), padding, size)
    return gx.reshape(g.shape[:lead + 1] + tuple(size) + (cin,))


def forward_conv_filter(x: np.ndarray, g: np.ndarray, *, strides: tuple[int, ...],
                        dilation: tuple[int, ...], padding: Pads, lead: int,
                        kernel: Shape) -> np.ndarray:
    attrs = {"strides": strides, "dilation": dilation, "padding": padding}
    view, out = _windows(x, lead, tuple(kernel), attrs)
    vn, b = view.shape[:2]
    cin, cout = x.shape[-1], g.shape[-1]
    gm = g.reshape((vn, b, math.prod(out), cout))
    gw = np.zeros((vn, math.prod(kernel) * cin, cout), dtype=np.result_type(x, g))
    for v in range(vn):
        for part in _chunks(b, math.prod(view.shape[2:])):
            cols = view[v, part].reshape(-1, gw.shape[1])
            gw[v] += cols.T @ gm[v, part].reshape(-1, cout)
    return _cast(gw.reshape(x.shape[:lead] + tuple(kernel) + (cin, cout)), x, g)


# ---- derivatives: each partial is another row of the three ---------------------------

def _spatial(x: Node, attrs: Attrs) -> Shape:
    lead = attrs["lead"]
    return x.shape[lead + 1:lead + 1 + len(attrs["strides"])]


def _kernel(w: Node, attrs: Attrs) -> Shape:
    lead = attrs["lead"]
    return w.shape[lead:lead + len(attrs["strides"])]


def _vjp_conv(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x, w = out.inputs
    return (conv_transpose(g, w, out.attrs, _spatial(x, out.attrs)) if needs[0] else None,
            conv_filter(x, g, out.attrs, _kernel(w, out.attrs)) if needs[1] else None)


def _vjp_transpose(u: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    g, w = out.inputs
    return (conv(u, w, out.attrs) if needs[0] else None,
            conv_filter(u, g, out.attrs, _kernel(w, out.attrs)) if needs[1] else None)


def _vjp_filter(v: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    x, g = out.inputs
    return (conv_transpose(g, v, out.attrs, _spatial(x, out.attrs)) if needs[0] else None,
            conv(x, v, out.attrs) if needs[1] else None)


def _jvp(t: tuple[Node | None, ...], out: Node) -> Node | None:
    """Bilinear: d(a . b) = da . b + a . db, each term the same row."""
    a, b = out.inputs
    terms = []
    if t[0] is not None:
        terms.append(apply(out.op, (t[0], b), out.attrs))
    if t[1] is not None:
        terms.append(apply(out.op, (a, t[1]), out.attrs))
    return add_all(terms)


# ---- batching --------------------------------------------------------------------

def _batch(op: str):
    def rule(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
        a, b = inputs
        size = a.shape[0] if batched[0] else b.shape[0]
        if attrs["lead"] == 0 and batched == (True, False) and op != "conv_filter":
            # only the data is batched: fold the new axis into B, one bigger call
            y = apply(op, (N.reshape(a, (size * a.shape[1],) + a.shape[2:]), b), attrs)
            return N.reshape(y, (size, a.shape[1]) + y.shape[1:])
        a, b = (x if f else N.broadcast_to(N.reshape(x, (1,) + x.shape), (size,) + x.shape)
                for x, f in zip(inputs, batched))
        return apply(op, (a, b), {**attrs, "lead": attrs["lead"] + 1})

    return rule


# ---- sympy -----------------------------------------------------------------------

def _sym(forward):
    def rule(a: np.ndarray, b: np.ndarray, **attrs: Any) -> np.ndarray:
        import sympy

        out = forward(np.asarray(a, dtype=object), np.asarray(b, dtype=object), **attrs)
        return np.vectorize(sympy.sympify, otypes=[object])(out) if out.size else out

    return rule


ROWS = [
    Primitive("conv", _infer_conv, forward_conv, _vjp_conv, _jvp, _batch("conv"),
              _sym(forward_conv),
              "convolution, channels last: x (B, *spatial, Cin), kernel (*K, Cin, Cout) -> "
              "(B, *positions, Cout) with strides, dilation and explicit (lo, hi) zero "
              "padding (Keras's Conv1D/Conv2D; 'same' is resolved by the layer)"),
    Primitive("conv_transpose", _infer_transpose, forward_conv_transpose, _vjp_transpose, _jvp,
              _batch("conv_transpose"), _sym(forward_conv_transpose),
              "transposed convolution: the vjp of conv with respect to its input (every "
              "cotangent value times the kernel, added back where its window came from)"),
    Primitive("conv_filter", _infer_filter, forward_conv_filter, _vjp_filter, _jvp,
              _batch("conv_filter"), _sym(forward_conv_filter),
              "correlation of an input with a cotangent: the vjp of conv with respect to "
              "its kernel"),
]
