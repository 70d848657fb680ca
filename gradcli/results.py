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
