"""The programs `gradcli graph` and `gradcli symbolic` print: the forward
program of the selected outputs, the gradient program (reverse mode, built
exactly as `gradcli grad` builds it) and the Hessian program
(forward-over-reverse: the Hessian times a tangent, which the engine batches
over basis vectors).  Each is simplified unless asked not to, and carries
the names users gave (inputs, `let`, outputs) over to the simplified nodes.

A `Listing` is plain data for the printers (`render/graphs.py`); what it is
built from is anything shaped like a Problem (`Selection`), so the engine
never imports the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from gradcli.engine.graph import Node, leaf, rule_origin
from gradcli.engine.ops import nodes as N
from gradcli.engine.rewrite import Stats, rewrite
from gradcli.engine.rules import STANDARD
from gradcli.engine.sources import Source, grad_title, target_text

if TYPE_CHECKING:
    from gradcli.engine.transforms import Transforms

class Selection(Protocol):
    """What the listings need of a problem (gradcli.api.Problem is one)."""

    named: Mapping[str, Node]
    transforms: Transforms

    def select_outputs(self, names: Sequence[str] | None) -> list[tuple[str, Node]]: ...

    def sources(self, wrt: Sequence[str] | None) -> tuple[Source, ...]: ...


@dataclass(frozen=True)
class Listing:
    """What a printer needs: result nodes with titles, and user names."""

    kind: str                                   # forward | grad | hessian
    results: tuple[tuple[tuple[str, ...], str, Node | None], ...]   # (path, title, node)
    names: dict[int, str]                       # id(node) -> user name
    stats: Stats | None = None
    summary: tuple[str, ...] = field(default=())

    @property
    def nodes(self) -> list[Node]:
        return [node for _, _, node in self.results if node is not None]


def _user_names(problem: Selection, chosen: Sequence[tuple[str, Node]]) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, node in list(chosen) + list(problem.named.items()):
        names.setdefault(id(node), name)
    return names


def _finish(kind: str, results: list[tuple[tuple[str, ...], str, Node | None]],
            names: dict[int, str], simplified: bool, summary: tuple[str, ...]) -> Listing:
    if not simplified:
        return Listing(kind, tuple(results), names, None, summary)
    done = rewrite([node for _, _, node in results], STANDARD, "print")
    carried: dict[int, str] = {}
    for old_id, name in names.items():
        new = done.mapping.get(old_id)
        if new is not None:
            carried.setdefault(id(new), name)
    fresh = [(path, title, node) for (path, title, _), node in zip(results, done.outputs)]
    return Listing(kind, tuple(fresh), carried, done.stats, summary)


def forward_program(problem: Selection, outputs: Sequence[str] | None,
                    simplified: bool = True) -> Listing:
    chosen = problem.select_outputs(outputs)
    results = [(("outputs", name), name, node) for name, node in chosen]
    return _finish("forward", results, _user_names(problem, chosen), simplified,
                   (f"forward program of {', '.join(n for n, _ in chosen)}",))


def grad_program(problem: Selection, wrt: Sequence[str] | None, outputs: Sequence[str] | None,
                 order: int = 1, simplified: bool = True) -> Listing:
    """The program `gradcli grad` runs (same construction), with the seed
    ones named `grad/seed` like TensorFlow's `gradients/grad_ys_0`."""
    chosen = problem.select_outputs(outputs)
    sources = problem.sources(wrt)
    seeds = [replace(N.ones_like(node), origin=rule_origin("grad/seed")) for _, node in chosen]
    grads = problem.transforms.nested([node for _, node in chosen], seeds, sources, order)
    target = target_text(chosen)
    results = [(("grad", s.key), grad_title(target, s.key, order, False), g)
               for s, g in zip(sources, grads)]
    summary = (f"gradient program of d({target})/d(source), order {order} (reverse mode; "
               "grad sums the outputs)",)
    return _finish("grad", results, _user_names(problem, chosen), simplified, summary)


def hessian_program(problem: Selection, wrt: Sequence[str] | None, outputs: Sequence[str] | None,
                    simplified: bool = True) -> Listing:
    """Forward-over-reverse: d/dε of the gradient at (sources + ε·tangent),
    i.e. the Hessian times the tangents `tangent:NAME`."""
    chosen = problem.select_outputs(outputs)
    sources = problem.sources(wrt)
    grads = problem.transforms.gradient([node for _, node in chosen], sources, False)
    tangents: dict[int, Node] = {}
    for s in sources:
        tangents.setdefault(id(s.node), leaf(f"tangent:{s.name}", s.node.shape, s.node.dtype))
    present = [g for g in grads if g is not None]
    products = iter(problem.transforms.jvp(present, tangents))
    target = target_text(chosen)
    results = []
    for s, g in zip(sources, grads):
        hv = next(products) if g is not None else None
        if g is not None and hv is None:
            hv = N.zeros_like(g)
        results.append((("hessian", s.key),
                        f"sum over j of d²({target})/d({s.key})d(s_j) · tangent:s_j", hv))
    names = ", ".join(dict.fromkeys(f"tangent:{s.name}" for s in sources))
    summary = (f"Hessian program of {target}: forward-over-reverse, the Hessian times the "
               f"tangents {names} (the engine batches them over basis vectors)",)
    return _finish("hessian", results, _user_names(problem, chosen), simplified, summary)
