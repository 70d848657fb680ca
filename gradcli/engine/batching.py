"""vmap over graphs: given some nodes replaced by stacks (a new leading
axis), rebuild the graph so every dependent node carries that axis too.
Each primitive's batching rule in the op table does the work; nodes that
do not depend on a stacked node are shared unchanged, so constant work is
done once per batch, not once per basis vector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from gradcli.engine.graph import Node, toposort
from gradcli.engine.ops import TABLE
from gradcli.engine.ops import nodes as N


def vmap(outputs: Sequence[Node | None], stacked: Mapping[int, Node]) -> list[Node | None]:
    """Outputs with a leading batch axis, for the nodes (by id) in `stacked`
    replaced by their stacked versions.  Outputs independent of every stacked
    node come back broadcast along the batch axis (the batch size is taken
    from the stacked nodes)."""
    present = [o for o in outputs if o is not None]
    size = next(iter(stacked.values())).shape[0] if stacked else 1
    new: dict[int, Node] = dict(stacked)
    for node in toposort(present):
        if id(node) in new or not node.inputs:
            continue
        flags = tuple(id(i) in new for i in node.inputs)
        if not any(flags):
            continue
        inputs = tuple(new.get(id(i), i) for i in node.inputs)
        result = TABLE[node.op].batch(inputs, flags, node.attrs)
        assert result.shape[1:] == node.shape, (node.op, result.shape, node.shape)
        if node.origin and not result.origin and result.op != "input":
            # keep where it came from (a spec location or a derivative rule),
            # so --check-finite can name it inside a batched pass too
            result = replace(result, origin=node.origin)
        new[id(node)] = result
    out: list[Node | None] = []
    for o in outputs:
        if o is None:
            out.append(None)
        elif id(o) in new:
            out.append(new[id(o)])
        else:
            out.append(N.broadcast_to(N.reshape(o, (1,) + o.shape), (size,) + o.shape))
    return out
