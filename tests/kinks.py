"""Is a program's point exactly on a kink?  At an exact tie of max/min, an
abs or sqrt at 0, or a comparison with equal sides, the gradient is not
differentiable: the engine follows the documented conventions (ties split
evenly), which a difference quotient along one direction cannot see."""

from __future__ import annotations

import numpy as np

from gradcli.engine.evaluate import plan
from gradcli.engine.graph import Node, toposort
from gradcli.engine.rules import NO_RULES
from gradcli.verify.stencil import SIGN_KINKS, _whole_power

COMPARISONS = ("gt", "ge", "lt", "le", "eq", "ne")


def _candidates(outputs: list[Node]) -> list[Node]:
    found = []
    for node in toposort(outputs):
        if node.op in ("max", "maximum") or node.op in COMPARISONS and node.inputs[0].is_float:
            found.append(node)
        elif node.op in SIGN_KINKS and node.inputs[0].is_float and not _whole_power(node):
            found.append(node)
    return found


def at_a_kink(problem) -> bool:  # noqa: ANN001 - a gradcli Problem
    nodes = _candidates(list(problem.outputs.values()))
    if not nodes:
        return False
    operands = [x for node in nodes for x in node.inputs]
    values = iter(plan(operands, NO_RULES).run(problem.values))
    for node in nodes:
        args = [np.asarray(next(values)) for _ in node.inputs]
        if node.op == "max":
            x, axes = args[0], tuple(node.attrs["axes"])
            top = np.max(x, axis=axes, keepdims=True)
            if np.any(np.sum(x == top, axis=axes) > 1):
                return True
        elif node.op in SIGN_KINKS:
            if np.any(args[0] == 0):
                return True
        elif np.any(np.equal(*np.broadcast_arrays(args[0], args[1]))):
            return True
    return False
