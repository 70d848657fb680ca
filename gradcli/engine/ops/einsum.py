"""The einsum primitive: Einstein summation with explicit, normalized
subscripts.  Its cotangent for an operand is another einsum of the cotangent
with the other operands, so derivatives of any order stay einsums; letters
summed inside one operand alone come back by a broadcast."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import add_all, like_infer, result_dtype
from gradcli.engine.ops.row import Attrs, Primitive
from gradcli.engine.ops.table import apply
from gradcli.errors import ShapeError

LETTERS = string.ascii_letters  # the subscripts numpy's einsum accepts


def parse_einsum(subscripts: Any, shapes: Sequence[Shape]) -> tuple[list[str], str]:
    """Check a normalized einsum string against the operand shapes and return
    (operand terms, output term).  Normalized means explicit `->`, letters
    only, no letter twice in one term, the same size wherever a letter occurs."""
    if not isinstance(subscripts, str) or subscripts.count("->") != 1:
        raise ShapeError(f"einsum subscripts {subscripts!r} must have exactly one '->'")
    if "." in subscripts:
        raise ShapeError(f"einsum subscripts {subscripts!r}: '...' must be expanded "
                         "before the primitive")
    lhs, target = subscripts.split("->")
    terms = lhs.split(",")
    if not shapes or len(terms) != len(shapes):
        raise ShapeError(f"einsum subscripts {subscripts!r} name {len(terms)} operand(s) "
                         f"but {len(shapes)} were given")
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        _check_term(subscripts, term, f"operand {k}")
        if len(term) != len(shape):
            raise ShapeError(f"einsum {subscripts!r}: operand {k} has shape {shape} but "
                             f"subscripts '{term}' name {len(term)} axes")
        for letter, size in zip(term, shape, strict=True):
            if sizes.setdefault(letter, size) != size:
                raise ShapeError(f"einsum {subscripts!r}: letter '{letter}' has size "
                                 f"{sizes[letter]} and {size} (operand {k}, shape {shape})")
    _check_term(subscripts, target, "the output")
    missing = [c for c in target if c not in sizes]
    if missing:
        raise ShapeError(f"einsum {subscripts!r}: output letter(s) {''.join(missing)} "
                         "appear in no operand")
    return terms, target


def _check_term(subscripts: str, term: str, what: str) -> None:
    bad = [c for c in term if c not in LETTERS]
    if bad:
        raise ShapeError(f"einsum {subscripts!r}: {what} uses {''.join(bad)!r}; "
                         "only letters a-z, A-Z are subscripts")
    if len(set(term)) != len(term):
        raise ShapeError(f"einsum {subscripts!r}: {what} repeats a letter in '{term}' "
                         "(diagonals must be taken before the primitive)")


def _einsum_shape(subscripts: str, inputs: Sequence[Node]) -> Shape:
    terms, target = parse_einsum(subscripts, [x.shape for x in inputs])
    sizes = {c: d for term, x in zip(terms, inputs, strict=True)
             for c, d in zip(term, x.shape, strict=True)}
    return tuple(sizes[c] for c in target)


def _infer_einsum(inputs: tuple[Node, ...], attrs: Attrs) -> tuple[Shape, str]:
    return _einsum_shape(attrs.get("subscripts"), inputs), result_dtype(inputs)


def _forward_einsum(*arrays: np.ndarray, subscripts: str) -> np.ndarray:
    # Contraction-order search only pays off from three operands on.
    return like_infer(np.einsum(subscripts, *arrays, optimize=len(arrays) > 2), arrays)


def einsum(subscripts: str, *operands: Node) -> Node:
    """Build an einsum node; a single operand becomes a sum and/or transpose,
    the ops whose derivatives need no einsum at all."""
    if len(operands) != 1:
        return apply("einsum", operands, {"subscripts": subscripts})
    (x,) = operands
    (term,), target = parse_einsum(subscripts, [x.shape])
    summed = tuple(i for i, c in enumerate(term) if c not in target)
    rest = [c for c in term if c in target]
    return N.transpose(N.reduce_sum(x, summed), [rest.index(c) for c in target])


def _vjp_einsum(g: Node, out: Node, needs: tuple[bool, ...]) -> tuple[Node | None, ...]:
    terms, target = parse_einsum(out.attrs["subscripts"], [x.shape for x in out.inputs])
    grads: list[Node | None] = []
    for k, (x, need) in enumerate(zip(out.inputs, needs, strict=True)):
        if not need:
            grads.append(None)
            continue
        others = [t for j, t in enumerate(terms) if j != k]
        seen = set(target).union(*others)
        # Letters of operand k found nowhere else were summed in operand k
        # alone: the derivative does not depend on them, so it is broadcast.
        kept = "".join(c for c in terms[k] if c in seen)
        part = einsum(",".join([target] + others) + "->" + kept, g,
                      *(y for j, y in enumerate(out.inputs) if j != k))
        kept_shape = tuple(d if c in seen else 1 for c, d in zip(terms[k], x.shape, strict=True))
        grads.append(N.broadcast_to(N.reshape(part, kept_shape), x.shape))
    return tuple(grads)


def _jvp_einsum(t: tuple[Node | None, ...], out: Node) -> Node | None:
    terms = []
    for k, tk in enumerate(t):
        if tk is not None:
            ops = list(out.inputs)
            ops[k] = tk
            terms.append(einsum(out.attrs["subscripts"], *ops))
    return add_all(terms)


def _batch_einsum(inputs: tuple[Node, ...], batched: tuple[bool, ...], attrs: Attrs) -> Node:
    subscripts = attrs["subscripts"]
    fresh = next((c for c in LETTERS if c not in subscripts), None)
    if fresh is None:
        raise ShapeError(f"einsum {subscripts!r} uses all 52 letters: no letter is left "
                         "for a batch axis")
    lhs, target = subscripts.split("->")
    terms = [fresh + t if b else t for t, b in zip(lhs.split(","), batched, strict=True)]
    return einsum(",".join(terms) + "->" + fresh + target, *inputs)


def _sym_einsum(*arrays: np.ndarray, subscripts: str) -> np.ndarray:
    import sympy

    # numpy's einsum multiplies and adds object arrays (sympy expressions);
    # an empty sum gives the int 0, which is made a sympy number here.
    value = np.einsum(subscripts, *(np.asarray(a, dtype=object) for a in arrays),
                      optimize=len(arrays) > 2)
    out = np.asarray(value, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sympy.sympify(out[index])
    return out


ROWS = [
    Primitive("einsum", _infer_einsum, _forward_einsum, _vjp_einsum, _jvp_einsum,
              _batch_einsum, _sym_einsum,
              "Einstein summation with explicit, normalized subscripts ('ij,jk->ik')"),
]
