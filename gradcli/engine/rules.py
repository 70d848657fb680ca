"""The table of rewrite rules: every algebraic identity gradcli applies, in
one place, each a theorem with its reason and its IEEE caveat.

A rule looks at one node (its root op is in `ops`, "*" for any) and returns
an equal node or None.  It never sees through a `named` node (no rule has
`named` among its ops but `drop-name`), so a node the user named stays the
node the adjoint is taken at.  `tests/test_rules.py` checks every rule on
random operands: values and first and second derivatives equal before and
after.  The engine that applies rules is `rewrite.py`.

Passes (see rewrite.py): `build` (nodes a derivative rule just built),
`print` (programs shown to the user), `evaluate` (programs about to run).
A rule whose caveat changes non-finite results (0 * inf) stays out of
`evaluate`; rounding-level caveats are allowed there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.graph import FOLD_LIMIT, NEVER_FOLDED, Node, constant_node
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N

if TYPE_CHECKING:
    from gradcli.engine.rewrite import Rewriter

PASSES = ("build", "print", "evaluate")
ALL = frozenset(PASSES)
NOT_EVALUATE = frozenset({"build", "print"})
SHOWN_AND_RUN = frozenset({"print", "evaluate"})


@dataclass(frozen=True)
class Rule:
    name: str
    ops: tuple[str, ...]                               # root ops it looks at; "*" = any
    rewrite: Callable[[Node, Rewriter], Node | None]   # an equal node, or None
    reason: str                                        # why it is a theorem, one line
    caveat: str = ""                                   # where IEEE results differ; "" = none
    passes: frozenset[str] = ALL


@dataclass(frozen=True)
class RuleTable:
    rules: tuple[Rule, ...]
    merge: bool = True   # merge equal nodes (same op, attrs and input nodes) when whole-graph

    def for_pass(self, pass_name: str) -> Mapping[str, tuple[Rule, ...]]:
        if pass_name not in PASSES:
            raise ValueError(f"unknown rewrite pass {pass_name!r}")
        by_op: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if pass_name in rule.passes:
                for op in rule.ops:
                    by_op.setdefault(op, []).append(rule)
        return MappingProxyType({op: tuple(rules) for op, rules in by_op.items()})

    def with_rule(self, rule: Rule) -> RuleTable:
        return replace(self, rules=self.rules + (rule,))

    def without(self, *names: str) -> RuleTable:
        return replace(self, rules=tuple(r for r in self.rules if r.name not in names))

    def named(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)


# ---- helpers ------------------------------------------------------------------------------

def uniform(node: Node) -> float | None:
    """The single value of a fill, or of a float constant whose elements are all equal."""
    if node.op == "fill":
        return float(node.attrs["value"])
    if node.op == "const":
        value = node.attrs["value"]
        if value.size and value.dtype.kind == "f" and np.all(value == value.flat[0]):
            return float(value.flat[0])
    return None


def _same(x: Node, node: Node) -> bool:
    return x.shape == node.shape and x.dtype == node.dtype


def _constant(node: Node) -> np.ndarray | None:
    if node.op == "const":
        return node.attrs["value"]
    if node.op == "fill":
        return np.full(node.shape, node.attrs["value"], dtype=node.dtype)
    return None


def _is_eye(node: Node) -> bool:
    value = node.attrs.get("value") if node.op == "const" else None
    return (value is not None and value.ndim == 2 and value.shape[0] == value.shape[1]
            and bool(np.array_equal(value, np.eye(value.shape[0]))))


# ---- the rules -------------------------------------------------------------------------------

def fold(node: Node, rw: Rewriter) -> Node | None:
    if not node.inputs or node.op in NEVER_FOLDED or node.size > FOLD_LIMIT:
        return None
    values = [_constant(i) for i in node.inputs]
    if any(v is None or v.size > FOLD_LIMIT for v in values):
        return None
    with np.errstate(all="ignore"):
        value = np.asarray(TABLE[node.op].forward(*values, **node.attrs), dtype=node.dtype)
    return constant_node(value)


def drop_name(node: Node, rw: Rewriter) -> Node | None:
    return node.inputs[0]


def unit(value: float) -> Callable[[Node, Rewriter], Node | None]:
    def rule(node: Node, rw: Rewriter) -> Node | None:
        a, b = node.inputs
        if uniform(b) == value and _same(a, node):
            return a
        if uniform(a) == value and _same(b, node):
            return b
        return None

    return rule


def times_zero(node: Node, rw: Rewriter) -> Node | None:
    if 0.0 in (uniform(node.inputs[0]), uniform(node.inputs[1])):
        return N.fill(0.0, node.shape, node.dtype)
    return None


def pow_one(node: Node, rw: Rewriter) -> Node | None:
    return node.inputs[0] if uniform(node.inputs[1]) == 1.0 and _same(node.inputs[0], node) \
        else None


def neg_neg(node: Node, rw: Rewriter) -> Node | None:
    x = node.inputs[0]
    return x.inputs[0] if x.op == "neg" else None


def where_zeros(node: Node, rw: Rewriter) -> Node | None:
    _, a, b = node.inputs
    if uniform(a) == 0.0 and uniform(b) == 0.0:
        return N.fill(0.0, node.shape, node.dtype)
    return None


def same_shape(node: Node, rw: Rewriter) -> Node | None:
    x = node.inputs[0]
    return x if _same(x, node) else None


def shape_of_shape(node: Node, rw: Rewriter) -> Node | None:
    x = node.inputs[0]
    if x.op == node.op:
        return rw.at(apply(node.op, x.inputs, node.attrs))
    return None


def shape_of_fill(node: Node, rw: Rewriter) -> Node | None:
    x = node.inputs[0]
    return N.fill(x.attrs["value"], node.shape, node.dtype) if x.op == "fill" else None


def transpose_identity(node: Node, rw: Rewriter) -> Node | None:
    perm = tuple(node.attrs["perm"])
    return node.inputs[0] if perm == tuple(range(len(perm))) else None


def transpose_transpose(node: Node, rw: Rewriter) -> Node | None:
    x, perm = node.inputs[0], tuple(node.attrs["perm"])
    if x.op != "transpose":
        return None
    inner = x.attrs["perm"]
    return N.transpose(x.inputs[0], tuple(inner[p] for p in perm))


def sum_of_fill(node: Node, rw: Rewriter) -> Node | None:
    x, axes = node.inputs[0], tuple(node.attrs["axes"])
    if x.op != "fill":
        return None
    count = int(np.prod([x.shape[a] for a in axes]))
    return N.fill(x.attrs["value"] * count, node.shape, node.dtype)


def sum_of_broadcast(node: Node, rw: Rewriter) -> Node | None:
    """sum over the broadcast axes of broadcast_to(x): x times their size."""
    x, axes = node.inputs[0], tuple(node.attrs["axes"])
    if x.op != "broadcast_to":
        return None
    inner = x.inputs[0]
    padded = (1,) * (x.ndim - inner.ndim) + inner.shape
    if any(padded[a] != 1 for a in axes):
        return None  # a summed axis is a real one: no shortcut
    if any(padded[a] != x.shape[a] for a in range(x.ndim) if a not in axes):
        return None  # the result is itself still a broadcast: leave it
    count = int(np.prod([x.shape[a] for a in axes]))
    base = rw.at(N.reshape(inner, node.shape))
    return base if count == 1 else N.mul(base, N.scalar(float(count), base))


def matmul_eye(node: Node, rw: Rewriter) -> Node | None:
    a, b = node.inputs
    if _is_eye(a) and _same(b, node):
        return b
    if _is_eye(b) and _same(a, node):
        return a
    return None


def full_slice(node: Node, rw: Rewriter) -> Node | None:
    x, index = node.inputs[0], node.attrs["index"]
    if _same(x, node) and all(i == slice(None) for i in index):
        return x
    return None


def _smaller(x: Node, big: Node) -> bool:
    """Fewer axes (a per-sample factor against a stack, whatever the stack's
    size, so chunked and unchunked runs round alike) or fewer elements."""
    return x.ndim < big.ndim or (x.ndim == big.ndim and x.size < big.size)


def small_first(node: Node, rw: Rewriter) -> Node | None:
    """(big * a) * b -> big * (a * b) when a and b are both smaller than big
    and nothing else reads big * a: one pass over the big array, not two."""
    for inner, b in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        if inner.op != "mul" or rw.reader_count(inner) != 1 or inner.dtype != b.dtype:
            continue
        for big, a in ((inner.inputs[0], inner.inputs[1]), (inner.inputs[1], inner.inputs[0])):
            if big.shape == node.shape and _smaller(a, big) and _smaller(b, big):
                return Node("mul", (big, rw.at(apply("mul", (a, b)))), node.attrs, node.shape,
                            node.dtype, node.origin)
    return None


def _rule(name: str, ops: tuple[str, ...], rewrite: Callable[..., Any], reason: str,
          caveat: str = "", passes: frozenset[str] = ALL) -> Rule:
    return Rule(name, ops, rewrite, reason, caveat, passes)


ROUNDING = "rounding: the two sides may differ in the last bit"
ZERO_TIMES = ("0 * inf and 0 * nan are nan in IEEE; a zero cotangent or tangent contributes "
              "nothing (JAX's symbolic zeros), so only derivative and printed programs use it")

STANDARD = RuleTable((
    _rule("fold-constants", ("*",), fold,
          "an op on small constants is its value, computed by the op's own forward"),
    _rule("drop-name", ("named",), drop_name,
          "a named node is the identity; dropped only once every derivative is built",
          passes=SHOWN_AND_RUN),
    _rule("add-zero", ("add",), unit(0.0), "x + 0 = x",
          "-0 + 0 is +0 in IEEE; the rule keeps -0 (equal values)"),
    _rule("mul-one", ("mul",), unit(1.0), "x * 1 = x"),
    _rule("mul-zero", ("mul",), times_zero, "x * 0 = 0", ZERO_TIMES, NOT_EVALUATE),
    _rule("pow-one", ("pow",), pow_one, "x ** 1 = x"),
    _rule("neg-neg", ("neg",), neg_neg, "-(-x) = x"),
    _rule("where-zeros", ("where",), where_zeros, "where(c, 0, 0) = 0"),
    _rule("reshape-noop", ("reshape", "broadcast_to"), same_shape,
          "a reshape or broadcast to the shape x has is x"),
    _rule("reshape-reshape", ("reshape", "broadcast_to"), shape_of_shape,
          "reshape(reshape(x)) = reshape(x); broadcast_to(broadcast_to(x)) = broadcast_to(x)"),
    _rule("reshape-fill", ("reshape", "broadcast_to"), shape_of_fill,
          "an array of one value keeps that value in any shape"),
    _rule("transpose-identity", ("transpose",), transpose_identity,
          "the identity permutation moves nothing"),
    _rule("transpose-transpose", ("transpose",), transpose_transpose,
          "two permutations compose into one"),
    _rule("sum-fill", ("sum",), sum_of_fill, "n equal values sum to n times the value",
          ROUNDING),
    _rule("sum-broadcast", ("sum",), sum_of_broadcast,
          "summing the copies a broadcast made is multiplying by their count", ROUNDING),
    _rule("matmul-eye", ("matmul",), matmul_eye, "I @ x = x",
          "I @ x is nan where x holds inf (0 * inf); derivative and printed programs only",
          NOT_EVALUATE),
    _rule("matmul-zero", ("matmul",), times_zero, "0 @ x = 0", ZERO_TIMES, NOT_EVALUATE),
    _rule("getitem-full", ("getitem",), full_slice, "x[:, :] = x"),
    _rule("cast-same", ("cast",), same_shape, "a cast to x's own dtype is x"),
    _rule("reassociate-small-first", ("mul",), small_first,
          "(big * a) * b = big * (a * b): products are associative", ROUNDING,
          frozenset({"evaluate"})),
))

# No rewriting at all: programs run exactly as built (verification's references).
NO_RULES = RuleTable((), merge=False)
