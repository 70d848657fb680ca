"""Every rewrite rule is a theorem: on random operands, the program before
and after the rule has the same value, the same gradient and the same
Hessian-vector product (all computed with no rewriting at all).  A rule
added to the table without examples here fails `test_every_rule_has_examples`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import numpy as np
import pytest

from gradcli.engine.autodiff import vjp
from gradcli.engine.evaluate import plan
from gradcli.engine.graph import Node, const, leaf, named, toposort
from gradcli.engine.ops import TABLE
from gradcli.engine.ops import nodes as N
from gradcli.engine.rewrite import rewrite, settle
from gradcli.engine.rules import NO_RULES, STANDARD, RuleTable

SEEDS = range(6)
F = "float64"


def raw(op: str, *inputs: Node, **attrs: object) -> Node:
    """A node exactly as asked, without apply()'s constant folding."""
    frozen = MappingProxyType(dict(attrs))
    shape, dtype = TABLE[op].infer(inputs, frozen)
    return Node(op, inputs, frozen, tuple(shape), dtype)


def fill(value: float, shape: tuple[int, ...]) -> Node:
    return raw("fill", value=value, shape=shape, dtype=F)


Example = Callable[[np.random.Generator], tuple[Node, dict[str, np.ndarray]]]


def unary(build: Callable[[Node, np.random.Generator], Node],
          shape: tuple[int, ...] = (2, 3)) -> Example:
    def example(rng: np.random.Generator) -> tuple[Node, dict[str, np.ndarray]]:
        x = leaf("x", shape, F)
        return build(x, rng), {"x": rng.normal(size=shape)}

    return example


def _perm(rng: np.random.Generator, n: int) -> tuple[int, ...]:
    return tuple(int(p) for p in rng.permutation(n))


EXAMPLES: dict[str, list[Example]] = {
    "fold-constants": [
        unary(lambda x, r: raw("add", x, raw("mul", const(r.normal(size=(2, 3))),
                                               const(r.normal(size=(3,)))))),
        unary(lambda x, r: raw("mul", x, raw("exp", fill(0.5, (2, 3))))),
    ],
    "drop-name": [unary(lambda x, r: raw("mul", named(raw("sin", x), "h"), x))],
    "add-zero": [unary(lambda x, r: raw("add", raw("sin", x), fill(0.0, (2, 3)))),
                 unary(lambda x, r: raw("add", const(np.zeros(())), raw("exp", x)))],
    "mul-one": [unary(lambda x, r: raw("mul", raw("sin", x), fill(1.0, (3,)))),
                unary(lambda x, r: raw("mul", const(np.ones((2, 3))), raw("tanh", x)))],
    "mul-zero": [unary(lambda x, r: raw("add", x, raw("mul", raw("sin", x),
                                                      fill(0.0, (2, 3)))))],
    "pow-one": [unary(lambda x, r: raw("pow", raw("exp", x), const(np.ones(()))))],
    "neg-neg": [unary(lambda x, r: raw("mul", raw("neg", raw("neg", raw("sin", x))), x))],
    "where-zeros": [unary(lambda x, r: raw("add", x, raw(
        "where", raw("gt", x, const(np.zeros(()))), fill(0.0, (2, 3)), fill(0.0, (2, 3)))))],
    "reshape-noop": [unary(lambda x, r: raw("sin", raw("reshape", x, shape=(2, 3)))),
                     unary(lambda x, r: raw("sin", raw("broadcast_to", x, shape=(2, 3))))],
    "reshape-reshape": [
        unary(lambda x, r: raw("sin", raw("reshape", raw("reshape", x, shape=(6,)),
                                          shape=(3, 2)))),
        unary(lambda x, r: raw("sin", raw("broadcast_to", raw("broadcast_to", x,
                                                              shape=(4, 2, 3)),
                                          shape=(5, 4, 2, 3)))),
    ],
    "reshape-fill": [unary(lambda x, r: raw("add", raw("sin", x),
                                            raw("reshape", fill(r.normal(), (3, 2)),
                                                shape=(2, 3)))),
                     unary(lambda x, r: raw("mul", x, raw("broadcast_to", fill(2.0, (3,)),
                                                          shape=(2, 3))))],
    "transpose-identity": [unary(lambda x, r: raw("sin", raw("transpose", x, perm=(0, 1, 2))),
                                 (2, 3, 4))],
    "transpose-transpose": [unary(lambda x, r: raw("sin", raw(
        "transpose", raw("transpose", x, perm=_perm(r, 3)), perm=_perm(r, 3))), (2, 3, 4))],
    "sum-fill": [unary(lambda x, r: raw("mul", x, raw("sum", fill(r.normal(), (3, 5)),
                                                      axes=(1,))), (2, 3))],
    "sum-broadcast": [
        unary(lambda x, r: raw("sin", raw("sum", raw("broadcast_to", x, shape=(4, 2, 3)),
                                          axes=(0,)))),
        unary(lambda x, r: raw("sin", raw("sum", raw("broadcast_to", x, shape=(2, 5, 3)),
                                          axes=(1,))), (2, 1, 3)),
    ],
    "matmul-eye": [unary(lambda x, r: raw("sin", raw("matmul", const(np.eye(2)), x))),
                   unary(lambda x, r: raw("sin", raw("matmul", x, const(np.eye(3)))))],
    "matmul-zero": [unary(lambda x, r: raw("add", raw("sin", x), raw(
        "matmul", fill(0.0, (2, 2)), raw("exp", x))))],
    "getitem-full": [unary(lambda x, r: raw("sin", raw(
        "getitem", x, index=(slice(None), slice(None)))))],
    "cast-same": [unary(lambda x, r: raw("sin", raw("cast", x, dtype=F)))],
    "reassociate-small-first": [unary(lambda x, r: raw("sin", raw(
        "mul", raw("mul", raw("exp", x), const(r.normal(size=(3, 4)))),
        const(r.normal(size=(4,))))), (5, 3, 4))],
}


def test_every_rule_has_examples() -> None:
    assert {rule.name for rule in STANDARD.rules} == set(EXAMPLES)


def _derivatives(node: Node, values: dict[str, np.ndarray], rng: np.random.Generator
                 ) -> list[np.ndarray]:
    """Value, gradient of sum(w * node) and a Hessian-vector product, with
    no rewriting anywhere (so only the rule under test differs)."""
    leaves = [n for n in toposort([node]) if n.op == "input"]
    w = const(rng.normal(size=node.shape))
    total = raw("sum", raw("mul", node, w), axes=tuple(range(node.ndim)))
    grads = _or_zeros(vjp([total], [N.ones_like(total)], leaves, NO_RULES), leaves)
    dot = None
    for g in grads:
        v = const(rng.normal(size=g.shape))
        term = raw("sum", raw("mul", g, v), axes=tuple(range(g.ndim)))
        dot = term if dot is None else raw("add", dot, term)
    outs = [node] + grads
    if dot is not None:
        outs += _or_zeros(vjp([dot], [N.ones_like(dot)], leaves, NO_RULES), leaves)
    return [np.asarray(a, dtype=np.float64) for a in plan(outs, NO_RULES).run(values)]


def _or_zeros(grads: list[Node | None], leaves: list[Node]) -> list[Node]:
    """An unconnected derivative (None) is a zero of the leaf's shape."""
    return [g if g is not None else fill(0.0, x.shape) for g, x in zip(grads, leaves)]


def _close(before: np.ndarray, after: np.ndarray) -> None:
    scale = max(1.0, float(np.max(np.abs(before), initial=0.0)))
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-13 * scale)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@pytest.mark.parametrize("seed", SEEDS)
def test_rule_keeps_values_and_first_and_second_derivatives(name: str, seed: int) -> None:
    rule = STANDARD.named(name)
    only = RuleTable((rule,), merge=False)
    for k, example in enumerate(EXAMPLES[name]):
        node, values = example(np.random.default_rng(1000 * seed + k))
        pass_name = "evaluate" if "evaluate" in rule.passes else sorted(rule.passes)[0]
        done = rewrite([node], only, pass_name)
        assert done.stats.fired.get(name, 0) >= 1, f"{name} did not fire on example {k}"
        (after,) = done.outputs
        before_values = _derivatives(node, values, np.random.default_rng(seed))
        after_values = _derivatives(after, values, np.random.default_rng(seed))
        assert len(before_values) == len(after_values)
        for b, a in zip(before_values, after_values):
            _close(b, a)


def test_merging_equal_nodes_keeps_values() -> None:
    x = leaf("x", (3,), F)
    left, right = raw("sin", x), raw("sin", x)
    out = raw("mul", raw("add", left, right), raw("cos", x))
    merged = rewrite([out], RuleTable((), merge=True), "evaluate")
    assert merged.stats.merged == 1
    value = {"x": np.array([0.3, -1.2, 2.0])}
    np.testing.assert_array_equal(plan(merged.outputs, NO_RULES).run(value)[0],
                                  plan([out], NO_RULES).run(value)[0])


# ---- named nodes are fixed points -----------------------------------------------------------

@pytest.mark.parametrize("pass_name", ["build", "print", "evaluate"])
def test_no_rule_sees_through_a_named_node(pass_name: str) -> None:
    x = leaf("x", (2, 3), F)
    cases = [raw("neg", named(raw("neg", x), "h")),
             raw("reshape", named(raw("reshape", x, shape=(6,)), "h"), shape=(3, 2)),
             raw("transpose", named(raw("transpose", x, perm=(1, 0)), "h"), perm=(1, 0))]
    for node in cases:
        (after,) = rewrite([node], STANDARD.without("drop-name"), pass_name).outputs
        assert (after.op, after.inputs[0].op) == (node.op, "named"), node


def test_settle_never_rewrites_forward_nodes() -> None:
    x = leaf("x", (3,), F)
    forward = raw("neg", raw("neg", x))
    known = {id(n): n for n in toposort([forward])}
    fresh = raw("mul", forward, fill(1.0, (3,)))
    (done,) = settle([fresh], known, STANDARD, forward.origin)
    assert done is forward  # the fresh product went, the forward -(-x) stayed
    assert done.inputs[0].op == "neg"


def test_gradient_at_a_name_counts_only_paths_through_it() -> None:
    """h2 = -h1; h3 = h2 - h2: the gradient at h2 is 0 (the reproduction of
    a merge across a named node)."""
    h1 = leaf("h1", (2,), F)
    h2 = named(N.neg(h1), "h2")
    h3 = named(N.add(h2, N.neg(h2)), "h3")
    y = N.reduce_sum(N.mul(h3, N.scalar(3.0, h3)), (0,))
    (g,) = vjp([y], [N.ones_like(y)], [h2])
    np.testing.assert_array_equal(plan([g]).run({"h1": np.array([0.3, -0.8])})[0], [0.0, 0.0])
