"""Engine results turned into a `render.Result`, with titles that say what
was computed (`d(sum of y)/d(a)`), so nobody mistakes a summed gradient for
a Jacobian.  No math here: only selection, labels and the unconnected policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click
import numpy as np

from gradcli.errors import UnconnectedError
from gradcli.render.model import Entry, Result


def _sum_of(names: Sequence[str], sizes: Sequence[int]) -> str:
    joined = " + ".join(names)
    if len(names) == 1 and sizes[0] == 1:
        return joined
    return f"sum of {joined}"


def grad_title(target: str, source: str, order: int, cotangent: bool) -> str:
    if cotangent:
        base = f"cotangent · d({target})/d({source})"
        return base if order == 1 else f"order {order} nested: {base}"
    if order == 1:
        return f"d({target})/d({source})"
    return f"d{_superscript(order)}({target})/d({source}){_superscript(order)} (nested)"


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def eval_result(problem: Any, outputs: list[str]) -> Result:
    values = problem.evaluate(outputs=outputs or None)
    entries = tuple(Entry(("outputs", name), name, value) for name, value in values.items())
    return Result("eval", entries, {"dtype": problem.spec.dtype},
                  (f"eval: values of {', '.join(values)} ({problem.spec.dtype})",))


def grad_result(problem: Any, wrt: list[str] | None, order: int,
                cotangent: Mapping[str, np.ndarray], outputs: list[str],
                unconnected: str) -> Result:
    chosen = problem.select_outputs(outputs or None)
    grads = problem.grad(wrt=wrt, order=order, cotangent=cotangent,
                         outputs=[name for name, _ in chosen])
    target = _sum_of([name for name, _ in chosen], [node.size for _, node in chosen])
    entries = []
    for key, value in grads.items():
        note = ""
        if value is None:
            reason = problem.explain(key, [name for name, _ in chosen])
            if unconnected == "error":
                raise UnconnectedError(f"unconnected source {key}: {reason}", "--wrt")
            note = f"unconnected: {reason}"
            click.echo(f"gradcli: note: {key} is unconnected: {reason}", err=True)
            if unconnected == "zero":
                (source,) = problem.sources([key])
                shape = source.node.shape
                if source.index is not None:
                    from gradcli.ops.structure import selected_shape

                    shape = selected_shape(shape, source.index)
                value = np.zeros(shape, dtype=problem.spec.dtype)
        title = grad_title(target, key, order, bool(cotangent))
        entries.append(Entry(("grad", key), title, value, note))
    rule = ("vjp with the given cotangents (other outputs weighted by ones)" if cotangent
            else "the gradient of the SUM of all elements of the selected outputs "
                 "(use `gradcli jacobian` for every partial)")
    summary = (f"grad: {rule}; order {order}; {problem.spec.dtype}",)
    return Result("grad", tuple(entries), {"order": order, "dtype": problem.spec.dtype},
                  summary)


def _layout(samples: bool) -> str:
    return "(N,) + " if samples else ""


def jacobian_result(problem: Any, blocks: Mapping[str, Mapping[str, np.ndarray | None]],
                    batch_axis: int | None, mode: str) -> Result:
    entries = []
    for out, row in blocks.items():
        for src, value in row.items():
            lead = 1 if batch_axis is not None else 0
            rows = None if value is None else lead + problem.named[out].ndim - lead
            note = "" if value is None else (
                f"layout: {_layout(lead == 1)}{out} shape + {src} shape; never summed")
            entries.append(Entry(("jacobian", out, src), f"d {out} / d {src}", value, note,
                                 row_axes=None if rows is None or lead else rows))
    summary = (f"jacobian: every partial d(output)/d(source), mode {mode}"
               + (", per sample along axis 0" if batch_axis is not None else "")
               + f"; {problem.spec.dtype}",)
    meta = {"mode": mode, "batch_axis": batch_axis, "dtype": problem.spec.dtype}
    return Result("jacobian", tuple(entries), meta, summary)


def hessian_result(problem: Any, blocks: Mapping[str, Mapping[str, np.ndarray | None]],
                   outputs: Sequence[str], batch_axis: int | None) -> Result:
    chosen = problem.select_outputs(list(outputs) or None)
    target = _sum_of([n for n, _ in chosen], [node.size for _, node in chosen])
    entries = []
    for src_i, row in blocks.items():
        (source,) = problem.sources([src_i])
        inner = source.node.shape if source.index is None else None
        for src_j, value in row.items():
            rows = None
            if value is not None and batch_axis is None:
                rows = len(inner) if inner is not None else value.ndim // 2
            entries.append(Entry(("hessian", src_i, src_j),
                                 f"d²({target}) / d {src_i} d {src_j}", value,
                                 "" if value is not None else "unconnected",
                                 row_axes=rows))
    summary = (f"hessian: second derivatives of the SUM of {', '.join(n for n, _ in chosen)}, "
               "blocks src_i + src_j" + (", per sample along axis 0" if batch_axis is not None
                                         else "") + f"; {problem.spec.dtype}",)
    return Result("hessian", tuple(entries), {"batch_axis": batch_axis,
                                              "dtype": problem.spec.dtype}, summary)


def jvp_result(problem: Any, values: Mapping[str, np.ndarray],
               tangents: Mapping[str, np.ndarray], names: Sequence[str]) -> Result:
    entries = [Entry(("outputs", n), n, v) for n, v in values.items()]
    direction = ", ".join(names) or "nothing (all tangents zero)"
    entries += [Entry(("jvp", n), f"d {n} along the tangent of {direction}", v)
                for n, v in tangents.items()]
    summary = (f"jvp: forward-mode directional derivatives along the tangent of {direction} "
               f"(other inputs: zero tangent); {problem.spec.dtype}",)
    return Result("jvp", tuple(entries), {"dtype": problem.spec.dtype}, summary)
