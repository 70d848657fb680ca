"""Engine results turned into a `render.Result`, with titles that say what
was computed (`d(sum of y)/d(a)`), so nobody mistakes a summed gradient for
a Jacobian.  No math here: only selection, labels and the unconnected policy.

These functions compute nothing and print nothing: the command passes in
what the API computed, and the notes for stderr (why a source is
unconnected) travel in `Result.notes` for the CLI to print."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.sources import grad_title, target_text
from gradcli.errors import UnconnectedError
from gradcli.render.model import Entry, Result


def eval_result(problem: Any, values: Mapping[str, np.ndarray]) -> Result:
    entries = tuple(Entry(("outputs", name), name, value) for name, value in values.items())
    return Result("eval", entries, {"dtype": problem.spec.dtype},
                  (f"eval: values of {', '.join(values)} ({problem.spec.dtype})",), ("outputs",))


def grad_result(problem: Any, grads: Mapping[str, np.ndarray | None],
                chosen: Sequence[tuple[str, Any]], order: int, cotangent: bool,
                unconnected: str) -> Result:
    target = target_text(chosen)
    entries = []
    notes: list[str] = []
    for key, value in grads.items():
        note = ""
        if value is None:
            value, note = unconnected_value(problem, key, [n for n, _ in chosen], unconnected,
                                            component_shape(problem, key), notes)
        title = grad_title(target, key, order, bool(cotangent))
        entries.append(Entry(("grad", key), title, value, note))
    rule = ("vjp with the given cotangents (other outputs weighted by ones)" if cotangent
            else "the gradient of the SUM of all elements of the selected outputs "
                 "(use `gradcli jacobian` for every partial)")
    summary = (f"grad: {rule}; order {order}; {problem.spec.dtype}",)
    return Result("grad", tuple(entries), {"order": order, "dtype": problem.spec.dtype},
                  summary, sections=("grad",), notes=tuple(notes))


def component_shape(problem: Any, key: str, per_sample: bool = False) -> tuple[int, ...]:
    """Shape of a source as results show it: the component, one sample's part."""
    from gradcli.engine.ops.structure import selected_shape

    (source,) = problem.sources([key])
    shape = source.node.shape[1:] if per_sample else source.node.shape
    return selected_shape(shape, source.index) if source.index is not None else shape


def unconnected_value(problem: Any, key: str, outputs: Sequence[str], policy: str,
                      shape: tuple[int, ...], notes: list[str]
                      ) -> tuple[np.ndarray | None, str]:
    """The `--unconnected none|zero|error` policy, with the reason added to
    `notes` for stderr (once per source)."""
    reason = problem.explain(key, list(outputs))
    if policy == "error":
        raise UnconnectedError(f"unconnected source {key}: {reason}", "--wrt")
    note = f"{key} is unconnected: {reason}"
    if note not in notes:
        notes.append(note)
    value = np.zeros(shape, dtype=problem.spec.dtype) if policy == "zero" else None
    return value, f"unconnected: {reason}"


def _layout(samples: bool) -> str:
    return "(N,) + " if samples else ""


def jacobian_result(problem: Any, blocks: Mapping[str, Mapping[str, np.ndarray | None]],
                    batch_axis: int | None, mode: str, unconnected: str = "none") -> Result:
    entries = []
    notes: list[str] = []
    per = batch_axis is not None
    for out, row in blocks.items():
        out_shape = problem.output_node(out).shape
        for src, value in row.items():
            note = f"layout: {_layout(per)}{out} shape + {src} shape; never summed"
            if value is None:
                shape = ((out_shape[0],) + out_shape[1:] if per else out_shape) + \
                    component_shape(problem, src, per)
                value, note = unconnected_value(problem, src, [out], unconnected, shape, notes)
            entries.append(Entry(("jacobian", out, src), f"d {out} / d {src}", value, note,
                                 row_axes=None if per else len(out_shape)))
    summary = (f"jacobian: every partial d(output)/d(source), mode {mode}"
               + (", per sample along axis 0" if batch_axis is not None else "")
               + f"; {problem.spec.dtype}",)
    meta = {"mode": mode, "batch_axis": batch_axis, "dtype": problem.spec.dtype}
    return Result("jacobian", tuple(entries), meta, summary, sections=("jacobian",),
                  notes=tuple(notes))


def hessian_result(problem: Any, blocks: Mapping[str, Mapping[str, np.ndarray | None]],
                   outputs: Sequence[str], batch_axis: int | None,
                   unconnected: str = "none") -> Result:
    chosen = problem.select_outputs(list(outputs) or None)
    names = [n for n, _ in chosen]
    target = target_text(chosen)
    per = batch_axis is not None
    samples = (chosen[0][1].shape[0],) if per else ()
    entries = []
    notes: list[str] = []
    # An unconnected source has no Hessian row (and a null column in every
    # connected row); a connected one has at least its diagonal block.
    unlinked = {src for src, row in blocks.items() if all(v is None for v in row.values())}
    for src_i, row in blocks.items():
        inner_i = component_shape(problem, src_i, per)
        for src_j, value in row.items():
            note = ""
            if value is None:
                shape = samples + inner_i + component_shape(problem, src_j, per)
                key = src_i if src_i in unlinked else src_j
                value, note = unconnected_value(problem, key, names, unconnected, shape, notes)
            entries.append(Entry(("hessian", src_i, src_j),
                                 f"d²({target}) / d {src_i} d {src_j}", value, note,
                                 row_axes=None if per else len(inner_i)))
    summary = (f"hessian: second derivatives of the SUM of {', '.join(n for n, _ in chosen)}, "
               "blocks src_i + src_j" + (", per sample along axis 0" if batch_axis is not None
                                         else "") + f"; {problem.spec.dtype}",)
    return Result("hessian", tuple(entries), {"batch_axis": batch_axis,
                                              "dtype": problem.spec.dtype}, summary,
                  sections=("hessian",), notes=tuple(notes))


def jvp_result(problem: Any, values: Mapping[str, np.ndarray],
               tangents: Mapping[str, np.ndarray], names: Sequence[str]) -> Result:
    entries = [Entry(("outputs", n), n, v) for n, v in values.items()]
    direction = ", ".join(names) or "nothing (all tangents zero)"
    entries += [Entry(("jvp", n), f"d {n} along the tangent of {direction}", v)
                for n, v in tangents.items()]
    summary = (f"jvp: forward-mode directional derivatives along the tangent of {direction} "
               f"(other inputs: zero tangent); {problem.spec.dtype}",)
    return Result("jvp", tuple(entries), {"dtype": problem.spec.dtype}, summary,
                  ("outputs", "jvp"))
