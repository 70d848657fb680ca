"""vmap of a whole graph and of its gradient graph against slice-by-slice
evaluation: the batching rules of every node a builder makes (primitive or
composite), first order included."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradcli.engine.autodiff import grad
from gradcli.engine.batching import vmap
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import nodes as N


def check_vmap(build: Callable[..., Node], stacks: Sequence[np.ndarray],
               batched: Sequence[bool], rtol: float = 1e-12) -> None:
    """`stacks[i]` has a leading batch axis where `batched[i]`; the graph of
    build (and of the gradient of its sum by every float operand) is vmapped
    over those and compared with evaluating each slice on its own."""
    size = next(s.shape[0] for s, b in zip(stacks, batched) if b)
    slices = [s[0] if b else s for s, b in zip(stacks, batched)]
    xs = [leaf(f"x{i}", np.shape(s), str(np.asarray(s).dtype)) for i, s in enumerate(slices)]
    out = build(*xs)
    floats = [x for x in xs if x.is_float]
    grads = [g if g is not None else N.zeros_like(x)
             for g, x in zip(grad([out], floats), floats)]
    stacked = {id(x): leaf(f"x{i}", s.shape, str(s.dtype))
               for i, (x, s, b) in enumerate(zip(xs, stacks, batched)) if b}
    nodes = [out, *grads]
    batched_nodes = vmap(nodes, stacked)
    values = {f"x{i}": s for i, s in enumerate(stacks)}
    got = evaluate(batched_nodes, values)
    for k in range(size):
        one = {f"x{i}": s[k] if b else s for i, (s, b) in enumerate(zip(stacks, batched))}
        for g, expected in zip(got, evaluate(nodes, one)):
            np.testing.assert_allclose(g[k], expected, rtol=rtol, atol=0, equal_nan=True)
