"""Sliding windows: `patches` (im2col) and its adjoint `unpatch` (col2im),
the structural pair pooling is built on, and the window geometry the
convolutions share (conv.py).

    patches(x)  out[..., o_1, ..., o_n, ..., k_1, ..., k_n] = xp[..., o_i*s_i + k_i*d_i, ...]

over the spatial `axes` of x: xp is x padded with `value` by padding[i] =
(lo, hi) cells on axis i, the window has `window[i]` taps spaced by
`dilation[i]`, and the window moves by `strides[i]`.  Each spatial axis
keeps its place with O_i = (n_i + lo + hi - span_i) // s_i + 1 positions,
span_i = (window_i - 1) * d_i + 1, and the n window axes are appended at
the end, so a reduction over the last n axes pools.  `unpatch` adds every
window value back at the cell it came from (padding dropped): it is the
vjp of `patches`, and `patches` with value 0 is its vjp, so derivatives of
any order stay in this pair.  A padded cell never has a derivative: its
value is a constant (-inf pads a max pool, 0 an average).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError

Pads = tuple[tuple[int, int], ...]


def span(window: int, dilation: int) -> int:
    """Cells one window covers, from its first tap to its last."""
    return (window - 1) * dilation + 1


def out_sizes(sizes: Sequence[int], window: Sequence[int], strides: Sequence[int],
              dilation: Sequence[int], padding: Pads) -> Shape:
    """Window positions along each spatial axis (may be < 1: checked by `geometry`)."""
    return tuple((n + lo + hi - span(k, d)) // s + 1
                 for n, k, s, d, (lo, hi) in zip(sizes, window, strides, dilation, padding))


def same_padding(size: int, window: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'SAME': ceil(size / stride) positions, the padding split
    with the odd cell at the end (bottom/right), as Keras pads."""
    total = max((-(-size // stride) - 1) * stride + span(window, dilation) - size, 0)
    return total // 2, total - total // 2


def geometry(sizes: Sequence[int], attrs: Attrs, window: Sequence[int], what: str) -> Shape:
    """Check the window attrs against the spatial sizes; the output positions."""
    strides, dilation, padding = attrs["strides"], attrs["dilation"], attrs["padding"]
    n = len(sizes)
    if not (len(window) == len(strides) == len(dilation) == len(padding) == n):
        raise ShapeError(f"{what}: window {tuple(window)}, strides {strides}, dilation "
                         f"{dilation} and padding {padding} must each have {n} entries")
    if min((*window, *strides, *dilation), default=1) < 1 or \
            any(lo < 0 or hi < 0 for lo, hi in padding):
        raise ShapeError(f"{what}: window, strides and dilation must be >= 1 and padding >= 0")
    out = out_sizes(sizes, window, strides, dilation, padding)
    if min(out, default=1) < 1:
        spans = tuple(span(k, d) for k, d in zip(window, dilation))
        raise ShapeError(f"{what}: a window spanning {spans} does not fit spatial size "
                         f"{tuple(sizes)} padded by {padding}")
    return out


def pad_axes(x: np.ndarray, axes: Sequence[int], padding: Pads, value: Any) -> np.ndarray:
    """x padded on `axes`; x itself when there is nothing to pad."""
    if not any(lo or hi for lo, hi in padding):
        return x
    widths = [(0, 0)] * x.ndim
    for axis, pads in zip(axes, padding):
        widths[axis] = pads
    return np.pad(x, widths, mode="constant", constant_values=value)


def window_view(xp: np.ndarray, axes: Sequence[int], window: Sequence[int],
                strides: Sequence[int], dilation: Sequence[int], out: Sequence[int]
                ) -> np.ndarray:
    """A read-only strided view of the padded xp: the spatial axes become
    the O window positions, the n window taps are appended at the end."""
    spans = tuple(span(k, d) for k, d in zip(window, dilation))
    view = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(axes))
    index = [slice(None)] * view.ndim
    for axis, o, s in zip(axes, out, strides):
        index[axis] = slice(0, (o - 1) * s + 1, s)
    for j, d in enumerate(dilation):
        index[xp.ndim + j] = slice(None, None, d)
    return view[tuple(index)]


def add_windows(buffer: np.ndarray, cols: np.ndarray, axes: Sequence[int],
                window: Sequence[int], strides: Sequence[int], dilation: Sequence[int],
                out: Sequence[int]) -> np.ndarray:
    """col2im: add cols (buffer's shape with O on `axes`, window taps last)
    into the padded buffer, one strided slice per window tap."""
    n = len(window)
    for tap in np.ndindex(*window):
        index = [slice(None)] * buffer.ndim
        for axis, k, d, o, s in zip(axes, tap, dilation, out, strides):
            index[axis] = slice(k * d, k * d + (o - 1) * s + 1, s)
        buffer[tuple(index)] += cols[(Ellipsis,) + tap] if n else cols
    return buffer


def crop(xp: np.ndarray, axes: Sequence[int], padding: Pads, sizes: Sequence[int]
         ) -> np.ndarray:
    index = [slice(None)] * xp.ndim
    for axis, (lo, _), n in zip(axes, padding, sizes):
        index[axis] = slice(lo, lo + n)
    return xp[tuple(index)]


# ---- patches / unpatch ----------------------------------------------------------

def _check_axes(shape: Shape, dtype: str, axes: tuple[int, ...]) -> None:
    if not axes or list(axes) != sorted(set(axes)) or not 0 <= axes[0] <= axes[-1] < len(shape):
        raise ShapeError(f"window axes {axes} must be increasing axes of shape {shape}")
    if not dtype.startswith("float"):
        raise ShapeError(f"sliding windows take float arrays, not {dtype}")


def _patched_shape(shape: Shape, attrs: Attrs, what: str) -> Shape:
    axes = attrs["axes"]
    out = geometry([shape[a] for a in axes], attrs, attrs["window"], what)
    spatial = dict(zip(axes, out))
    return tuple(spatial.get(i, d) for i, d in enumerate(shape)) + tuple(attrs["window"])


def _infer_patches(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    x = inputs[0]
    _check_axes(x.shape, x.dtype, attrs["axes"])
    return _patched_shape(x.shape, attrs, "patches"), x.dtype


def _infer_unpatch(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    p, shape = inputs[0], tuple(attrs["shape"])
    _check_axes(shape, p.dtype, attrs["axes"])
    want = _patched_shape(shape, attrs, "unpatch")
    if p.shape != want:
        raise ShapeError(f"unpatch: windows of shape {p.shape} do not come from shape {shape} "
                         f"(expected {want})")
    return shape, p.dtype


def forward_patches(x: np.ndarray, *, axes: tuple[int, ...], window: tuple[int, ...],
                    strides: tuple[int, ...], dilation: tuple[int, ...], padding: Pads,
                    value: float) -> np.ndarray:
    out = out_sizes([x.shape[a] for a in axes], window, strides, dilation, padding)
    xp = pad_axes(x, axes, padding, np.asarray(value, dtype=x.dtype) if x.dtype != object
                  else value)
    return window_view(xp, axes, window, strides, dilation, out)


def forward_unpatch(p: np.ndarray, *, shape: Shape, axes: tuple[int, ...],
                    window: tuple[int, ...], strides: tuple[int, ...],
                    dilation: tuple[int, ...], padding: Pads) -> np.ndarray:
    sizes = [shape[a] for a in axes]
    padded = list(shape)
    for axis, (lo, hi) in zip(axes, padding):
        padded[axis] += lo + hi
    buffer = np.zeros(padded, dtype=p.dtype)
    out = out_sizes(sizes, window, strides, dilation, padding)
    add_windows(buffer, p, axes, window, strides, dilation, out)
    return crop(buffer, axes, padding, sizes)


def _geometry_attrs(attrs: Attrs) -> dict[str, Any]:
    return {k: attrs[k] for k in ("axes", "window", "strides", "dilation", "padding")}


def patches(x: Node, axes: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...],
            dilation: tuple[int, ...], padding: Pads, value: float = 0.0) -> Node:
    return apply("patches", (x,), {"axes": tuple(axes), "window": tuple(window),
                                   "strides": tuple(strides), "dilation": tuple(dilation),
                                   "padding": tuple(tuple(p) for p in padding),
                                   "value": float(value)})


def _vjp_patches(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    return (apply("unpatch", (g,), {**_geometry_attrs(out.attrs),
                                    "shape": out.inputs[0].shape}),)


def _jvp_patches(t: tuple[Node | None, ...], out: Node) -> Node | None:
    # padded cells are constants: their tangent is 0 whatever they hold
    return None if t[0] is None else apply("patches", t, {**out.attrs, "value": 0.0})


def _vjp_unpatch(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    return (apply("patches", (g,), {**_geometry_attrs(out.attrs), "value": 0.0}),)


def _shifted(attrs: Attrs) -> dict[str, Any]:
    return {**attrs, "axes": tuple(a + 1 for a in attrs["axes"])}


def _batch_unpatch(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    return apply("unpatch", inputs, {**_shifted(attrs),
                                     "shape": inputs[0].shape[:1] + tuple(attrs["shape"])})


def _sym_patches(x: np.ndarray, **attrs: Any) -> np.ndarray:
    import sympy

    return forward_patches(np.asarray(x, dtype=object),
                           **{**attrs, "value": sympy.sympify(attrs["value"])})


def _sym_unpatch(p: np.ndarray, **attrs: Any) -> np.ndarray:
    import sympy

    out = forward_unpatch(np.asarray(p, dtype=object), **attrs)
    return np.vectorize(sympy.sympify, otypes=[object])(out) if out.size else out


ROWS = [
    Primitive("patches", _infer_patches, forward_patches, _vjp_patches, _jvp_patches,
              lambda ins, b, at: apply("patches", ins, _shifted(at)), _sym_patches,
              "sliding windows of x over spatial axes (im2col): positions in place of the "
              "axes, window taps appended; pooling reduces over the taps",
              "padded cells hold a constant `value` and carry no derivative"),
    Primitive("unpatch", _infer_unpatch, forward_unpatch, _vjp_unpatch,
              lambda t, out: None if t[0] is None else apply("unpatch", t, out.attrs),
              _batch_unpatch, _sym_unpatch,
              "col2im: every window value added back at the cell it came from (padding "
              "dropped); the vjp of patches"),
]
