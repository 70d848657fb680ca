"""numpy.einsum rewritten into the primitive's normalized form: an explicit
`->`, letters only, no letter twice in one operand, equal sizes per letter.

- implicit output: the letters used once, in ASCII order, after any `...`;
- `...` becomes fresh letters, right-aligned per operand as in broadcasting;
- a size-1 axis facing a larger one of the same letter is broadcast;
- a letter repeated inside one operand (a diagonal, `ii->i`) keeps its
  first place, the other occurrences get fresh letters, and an identity
  matrix operand ties each fresh letter to the original.
"""

from __future__ import annotations

import string
from typing import Any

from gradcli.engine.graph import Node
from gradcli.engine.ops import linalg as L
from gradcli.engine.ops import nodes as N
from gradcli.errors import ShapeError, SpecError
from gradcli.language.functions.context import Context, promote
from gradcli.language.functions.linalg import place_diagonal
from gradcli.language.functions.registry import define

LETTERS = string.ascii_letters
SUBLIST_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # numpy's label order
ELLIPSIS = "."  # '...' is shortened to this marker while parsing


class _Fresh:
    """Letters not used by the user's subscripts, handed out in order."""

    def __init__(self, used: str) -> None:
        self.free = [c for c in LETTERS if c not in used]

    def take(self) -> str:
        if not self.free:
            raise SpecError("einsum needs more than the 52 letters a-z, A-Z for this "
                            "expression")
        return self.free.pop(0)


def _split_term(term: str, where: str) -> str:
    if term.count("...") > 1 or term.replace("...", "").count("."):
        raise SpecError(f"{where} '{term}': '...' may appear once, and '.' only as '...'")
    term = term.replace("...", ELLIPSIS)
    bad = [c for c in term if c not in LETTERS and c != ELLIPSIS]
    if bad:
        raise SpecError(f"{where} '{term}' uses {''.join(bad)!r}; subscripts are letters "
                        "a-z, A-Z and '...'")
    return term


def parse(subscripts: Any, count: int) -> tuple[list[str], str | None]:
    if not isinstance(subscripts, str):
        raise SpecError("the first argument must be the subscripts string, like "
                        "\"ij,jk->ik\"")
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise SpecError(f"subscripts {subscripts!r} have more than one '->'")
    lhs, _, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != count:
        raise SpecError(f"subscripts {subscripts!r} name {len(terms)} operand(s) but "
                        f"{count} were given")
    terms = [_split_term(t, f"operand {k}") for k, t in enumerate(terms)]
    output = _split_term(rhs, "the output") if "->" in text else None
    return terms, output


def _expand_ellipses(terms: list[str], output: str | None, shapes: list[tuple[int, ...]],
                     fresh: _Fresh) -> tuple[list[str], str]:
    ranks = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace(ELLIPSIS, ""))
        rank = len(shape) - named
        if rank < 0 or (rank > 0 and ELLIPSIS not in term):
            raise ShapeError(f"operand {k} has shape {shape} but subscripts '{term}' name "
                             f"{named} axes")
        ranks.append(rank if ELLIPSIS in term else 0)
    extra = "".join(fresh.take() for _ in range(max(ranks, default=0)))
    terms = [t.replace(ELLIPSIS, extra[len(extra) - r:] if r else "")
             for t, r in zip(terms, ranks)]
    if output is None:
        letters = "".join(terms)
        output = extra + "".join(sorted(c for c in set(letters)
                                        if letters.count(c) == 1 and c not in extra))
    elif ELLIPSIS in output:
        output = output.replace(ELLIPSIS, extra)
    elif extra:
        raise ShapeError("operands have '...' axes, so the output must name them with '...'")
    return terms, output


def _letter_sizes(terms: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        for c, d in zip(term, shape):
            seen = sizes.get(c, d)
            if seen != d and 1 not in (seen, d):
                raise ShapeError(f"letter '{c}' has size {seen} and {d} (operand {k}, shape "
                                 f"{shape})")
            sizes[c] = max(seen, d)
    return sizes


def _untie_diagonals(terms: list[str], ops: list[Node], sizes: dict[str, int],
                     fresh: _Fresh) -> tuple[list[str], list[Node]]:
    eyes: list[tuple[str, Node]] = []
    out_terms = []
    for k, term in enumerate(terms):
        letters = []
        for c in term:
            if c in letters:
                if ops[k].shape[term.index(c)] != ops[k].shape[len(letters)]:
                    raise ShapeError(f"operand {k} repeats letter '{c}' on axes of different "
                                     f"sizes (shape {ops[k].shape})")
                tied = fresh.take()
                n = ops[k].shape[len(letters)]
                eye = place_diagonal(N.fill(1.0, (n,), ops[k].dtype),
                                     N.fill(0.0, (n, n), ops[k].dtype), 0)
                eyes.append((c + tied, eye))
                sizes[tied] = n
                c = tied
            letters.append(c)
        out_terms.append("".join(letters))
    return out_terms + [t for t, _ in eyes], ops + [e for _, e in eyes]


def _sublist_letters(sublist: Any, k: str) -> str:
    """numpy's sublist form: axis labels 0-51 (printed as A-Z, a-z, so the
    implicit output keeps numpy's order) and `...`."""
    if not isinstance(sublist, (list, tuple)):
        raise SpecError(f"{k} must be a list of axis labels like [0, 1], got {sublist!r}")
    out = []
    for label in sublist:
        if label is Ellipsis:
            out.append("...")
        elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < 52:
            out.append(SUBLIST_LETTERS[label])
        else:
            raise SpecError(f"{k}: axis labels are integers 0 to 51 or ..., got {label!r}")
    return "".join(out)


def from_sublists(args: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) as ("AB,BC->AC", [a, b])."""
    pairs = len(args) // 2
    operands = [args[2 * k] for k in range(pairs)]
    terms = [_sublist_letters(args[2 * k + 1], f"sublist {k}") for k in range(pairs)]
    text = ",".join(terms)
    if len(args) % 2:
        text += "->" + _sublist_letters(args[-1], "the output sublist")
    return text, operands


def einsum(ctx: Context, subscripts: Any, *operands: Any) -> Node:
    if not isinstance(subscripts, str) and operands:
        subscripts, operands = from_sublists((subscripts,) + operands)
    if not operands:
        raise SpecError("einsum needs at least one operand after the subscripts")
    ops = promote(ctx, *operands)
    terms, output = parse(subscripts, len(ops))
    fresh = _Fresh(subscripts)
    shapes = [o.shape for o in ops]
    terms, output = _expand_ellipses(terms, output, shapes, fresh)
    if len(set(output)) != len(output):
        raise SpecError(f"the output '{output}' names a letter twice")
    sizes = _letter_sizes(terms, shapes)
    missing = [c for c in output if c not in sizes]
    if missing:
        raise SpecError(f"output letter(s) {''.join(missing)} appear in no operand")
    # Size-1 axes facing a longer one of the same letter broadcast (as numpy).
    ops = [N.broadcast_to(o, tuple(sizes[c] if o.shape[i] == 1 else o.shape[i]
                                   for i, c in enumerate(t)))
           for o, t in zip(ops, terms)]
    terms, ops = _untie_diagonals(terms, ops, sizes, fresh)
    return L.einsum(",".join(terms) + "->" + output, *ops)


FUNCTIONS = [
    define("einsum", einsum, "Einstein summation, numpy.einsum: explicit ('ij,jk->ik') or "
           "implicit ('ij,jk') output, '...', repeated letters for diagonals; also the "
           "sublist form einsum(a, [0, 1], b, [1, 2], [0, 2])"),
]
