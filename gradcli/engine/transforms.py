"""The transformations bound to one rule table, as one value.

Code that builds derivative graphs without choosing how (derivative calls
inside expressions, in the language stage) is handed a `Transforms` instead
of importing autodiff, batching and the evaluator: the language stays a
builder of nodes, the API decides which rules every derivative program is
simplified by, and a test can inject transformations of its own.

The compositions every caller needs (the gradient of a sum, nested orders,
whole Jacobian and Hessian nodes) are methods, written only in terms of the
bound `vjp`, `jvp` and `vmap`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from gradcli.engine import autodiff, evaluate
from gradcli.engine.autodiff import sum_all
from gradcli.engine.basis import Basis, restrict, source_inner
from gradcli.engine.graph import Node, const, depends_on, leaf, toposort
from gradcli.engine.ops import nodes as N
from gradcli.engine.rules import STANDARD, RuleTable
from gradcli.engine.sources import Source
from gradcli.errors import SpecError

# Nested gradients (`--order`, `expect: orders`, `plot --order`) go at most
# this high: a documented maximum (docs/limits.md), far above what finite
# differences can confirm (8) or the seeds ask for (3).
MAX_ORDER = 32
# Each order can multiply the program (Faa di Bruno: the program of
# tanh(x) * exp(x) / (1 + x**2) grows about 3x per order), so a derivative
# program with more derivative nodes than this is not differentiated again;
# the next step would build a few times as many.  Forward nodes are not
# counted: a large spec's first gradient is never refused.
MAX_NESTED_NODES = 20_000

Vjp = Callable[[Sequence[Node], Sequence[Node | None], Sequence[Node]], list[Node | None]]
Jvp = Callable[[Sequence[Node], Mapping[int, Node]], list[Node | None]]
Vmap = Callable[[Sequence[Node | None], Mapping[int, Node]], list[Node | None]]
Plan = Callable[[Sequence[Node]], evaluate.Program]


@dataclass(frozen=True)
class Transforms:
    """vjp, jvp, vmap and plan, with the rule table the first two and plan apply."""

    rules: RuleTable
    vjp: Vjp
    jvp: Jvp
    vmap: Vmap
    plan: Plan

    def gradient(self, outputs: Sequence[Node], sources: Sequence[Source],
                 per_sample: bool = False) -> list[Node | None]:
        """Components of d(sum of outputs)/d(source): what a Hessian differentiates."""
        total = sum_all(outputs[0])
        for extra in outputs[1:]:
            total = N.add(total, sum_all(extra))
        grads = self.vjp([total], [N.fill(1.0, (), total.dtype)], [s.node for s in sources])
        return [restrict(g, s, int(per_sample)) for g, s in zip(grads, sources)]

    def nested(self, outputs: Sequence[Node], seeds: Sequence[Node], sources: Sequence[Source],
               order: int) -> list[Node | None]:
        """Order 1 for all sources in one reverse pass; each further order is the
        gradient of the sum of the previous result (seed 002's nested tapes).  A
        higher order that no longer depends on the source is zero, not None: the
        first derivative was connected, it is just constant."""
        check_order(order)
        first = self.vjp(list(outputs), list(seeds), [s.node for s in sources])
        results = [restrict(g, s, 0) for g, s in zip(first, sources)]
        for done in range(1, order):
            check_growth(results, f"the order-{done} gradient", f"order {done + 1}",
                         "ask for a lower order", "--order")
            nxt: list[Node | None] = []
            for g, source in zip(results, sources):
                if g is None:
                    nxt.append(None)
                    continue
                deeper = None
                if id(source.node) in depends_on([g], [source.node]):
                    (deeper,) = self.vjp([sum_all(g)], [N.fill(1.0, (), g.dtype)],
                                         [source.node])
                deeper = restrict(deeper, source, 0)
                if deeper is None:
                    deeper = N.fill(0.0, g.shape, g.dtype)
                nxt.append(deeper)
            results = nxt
        return results

    def grad_node(self, y: Node, source: Source) -> Node | None:
        """d(sum of y)/d source as one node, shaped like the source's component."""
        check_growth([y], "the expression", "its gradient")
        (g,) = self.vjp([y], [N.ones_like(y)], [source.node])
        return restrict(g, source, 0)

    def jacobian_node(self, y: Node, source: Source) -> Node | None:
        """The whole Jacobian d y / d source as one node of shape y.shape + source
        shape (for `jacobian(expr, wrt)` inside expressions): a batched VJP over
        a constant identity basis, so it is a graph and differentiable again."""
        check_growth([y], "the expression", "its Jacobian")
        inner = source_inner(source, False)
        if y.size == 0:
            return N.fill(0.0, y.shape + inner, y.dtype)
        eye = np.eye(y.size, dtype=y.dtype).reshape((y.size,) + y.shape)
        cot = leaf("cotangent", y.shape, y.dtype)
        (g,) = self.vjp([y], [cot], [source.node])
        g = restrict(g, source, 0)
        if g is None:
            return None
        (rows,) = self.vmap([g], {id(cot): const(eye)})
        return N.reshape(rows, y.shape + inner)

    def hessian_node(self, y: Node, source: Source) -> Node | None:
        """d²(sum of y)/d source² as one node (source shape twice)."""
        check_growth([y], "the expression", "its Hessian")
        (g,) = self.gradient([y], [source], False)
        if g is None:
            return None
        inner = source_inner(source, False)
        count = int(np.prod(inner, dtype=np.int64))
        basis = Basis(source.node.shape, source.index).chunk(0, count, count, y.dtype)
        tangent = leaf("tangent", source.node.shape, source.node.dtype)
        (tg,) = self.jvp([g], {id(source.node): tangent})
        if tg is None:
            return N.fill(0.0, inner + inner, y.dtype)
        (cols,) = self.vmap([tg], {id(tangent): const(basis)})
        # cols[k] = d g / d src_k: move the basis axis last -> inner + inner
        stacked = N.reshape(cols, inner + inner)
        k = len(inner)
        return N.transpose(stacked, tuple(range(k, 2 * k)) + tuple(range(k)))


def check_order(order: int, where: Any = "--order") -> None:
    if order > MAX_ORDER:
        raise SpecError(f"order {order} is above the maximum of {MAX_ORDER} for nested "
                        "gradients", where)


def check_growth(results: Sequence[Node | None], what: str, next_what: str,
                 hint: str = "nest fewer derivative calls", where: str | None = None) -> None:
    """Refuse to differentiate a derivative program past MAX_NESTED_NODES
    derivative nodes (a walk of the program: linear in its size)."""
    made = sum(1 for node in toposort([r for r in results if r is not None])
               if node.origin.derivative)
    if made > MAX_NESTED_NODES:
        raise SpecError(f"{what} has {made} derivative nodes, more than the "
                        f"{MAX_NESTED_NODES} a derivative program may have to be differentiated "
                        f"again; {next_what} would be several times larger ({hint})", where)


def _vmap(outputs: Sequence[Node | None], stacked: Mapping[int, Node]) -> list[Node | None]:
    # lazy-for-speed: only Jacobians, Hessians and sweeps batch; `grad` never loads it
    from gradcli.engine.batching import vmap

    return vmap(outputs, stacked)


def standard(rules: RuleTable = STANDARD) -> Transforms:
    """The engine's own transformations, simplifying with `rules`."""
    return Transforms(rules, partial(autodiff.vjp, rules=rules),
                      partial(autodiff.jvp, rules=rules), _vmap,
                      partial(evaluate.plan, rules=rules))


def gradient_nodes(outputs: Sequence[Node], sources: Sequence[Source], per_sample: bool,
                   rules: RuleTable = STANDARD) -> list[Node | None]:
    """`Transforms.gradient` with the engine's transformations."""
    return standard(rules).gradient(outputs, sources, per_sample)


def nested_grads(outputs: Sequence[Node], seeds: Sequence[Node], sources: Sequence[Source],
                 order: int, rules: RuleTable = STANDARD) -> list[Node | None]:
    """`Transforms.nested` with the engine's transformations."""
    return standard(rules).nested(outputs, seeds, sources, order)
