"""A program printed as expressions in gradcli's own language: the matrix
form of a derivative (`d(sum of y)/d(a) = (ones((2, 1)) @ b.T) * cos(a)`).

Written in the spec language on purpose: the printed gradient can be pasted
into a spec's `outputs:` and evaluated (the tests do exactly that).  A node
used by several others is printed once as a temporary (`t0 = ...`) instead
of being repeated, so the text stays as short as the simplified program.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.graph import Node, format_index, toposort
from gradcli.render.graphs import literal_text

# Python precedences: higher binds tighter.
ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5
INFIX = {"add": ("+", ADD), "mul": ("*", MUL), "matmul": ("@", MUL), "pow": ("**", POW)}
COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
STRUCTURAL = ("reshape", "broadcast_to")
CHEAP = ("input", "const", "fill")  # repeated rather than named: their text is short
# Primitives that are one result of a catalogue function with several, printed
# as that function so the text evaluates back to the same value.
RESULT_OF = {"eigh_w": "eigvalsh({})", "eigh_v": "eigh({})[1]", "svd_s": "svdvals({})",
             "svd_u": "svd({}, full_matrices=False)[0]",
             "svd_vh": "svd({}, full_matrices=False)[2]", "qr_q": "qr({})[0]",
             "qr_r": "qr({})[1]", "logabsdet": "slogdet({})[1]", "slogdet_sign": "slogdet({})[0]"}


def _shape(shape: Sequence[int]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({', '.join(str(d) for d in shape)})"


def _axis(axes: Sequence[int]) -> str:
    return str(axes[0]) if len(axes) == 1 else _shape(axes)


def temp_prefix(taken: Iterable[str]) -> str:
    """A prefix p that is no user name and such that no user name is p
    followed by digits: the temporaries p0, p1, ... never shadow an input or
    `let` name, nor read like components of one (t0 next to t[0,0])."""
    taken = set(taken)
    for prefix in ("t", "tmp", "_t", "_tmp"):
        if prefix not in taken and not any(
                n.startswith(prefix) and n[len(prefix):].isdigit() for n in taken):
            return prefix
    return "_gradcli_t"


class _Printer:
    def __init__(self, roots: Sequence[Node], names: Mapping[int, str], prefix: str) -> None:
        self.names = names
        order = toposort(roots)
        uses: dict[int, int] = {}
        for node in order:
            for i in node.inputs:
                uses[id(i)] = uses.get(id(i), 0) + 1
        for root in roots:
            uses[id(root)] = uses.get(id(root), 0) + 1
        self.temps: dict[int, str] = {}
        self.lets: list[tuple[str, str]] = []
        self.text: dict[int, tuple[str, int]] = {}
        for node in order:
            text = self._node(node)
            shared = (uses.get(id(node), 0) > 1 and node.op not in CHEAP
                      and id(node) not in names)
            if shared and not any(node is r for r in roots):
                name = f"{prefix}{len(self.lets)}"
                self.lets.append((name, text[0]))
                text = (name, ATOM)
            self.text[id(node)] = text

    def arg(self, node: Node, need: int = 0) -> str:
        text, prec = self.text[id(node)]
        return f"({text})" if prec < need else text

    def _node(self, node: Node) -> tuple[str, int]:
        if id(node) in self.names:
            return self.names[id(node)], ATOM
        op, ins, at = node.op, node.inputs, node.attrs
        if op == "input":
            return at["name"], ATOM
        if op in ("const", "fill"):
            return _constant(node)
        if op in INFIX:
            return self._infix(op, ins)
        if op == "neg":
            return f"-{self.arg(ins[0], UNARY)}", UNARY
        if op in COMPARE:
            return f"{self.arg(ins[0], ADD)} {COMPARE[op]} {self.arg(ins[1], ADD)}", 0
        if op == "transpose":
            if tuple(at["perm"]) == tuple(reversed(range(node.ndim))) and node.ndim == 2:
                return f"{self.arg(ins[0], ATOM)}.T", ATOM
            return f"transpose({self.arg(ins[0])}, {_shape(at['perm'])})", ATOM
        if op in STRUCTURAL:
            return f"{op}({self.arg(ins[0])}, {_shape(at['shape'])})", ATOM
        if op in ("sum", "max"):
            axes = tuple(at["axes"])
            whole = axes == tuple(range(ins[0].ndim))
            return (f"{op}({self.arg(ins[0])}" + ("" if whole else f", axis={_axis(axes)}")
                    + ")"), ATOM
        if op == "getitem":
            return f"{self.arg(ins[0], ATOM)}{_index(at['index'])}", ATOM
        if op in ("setitem", "addat"):
            verb = "set" if op == "setitem" else "add"
            return (f"{self.arg(ins[0], ATOM)}.at{_index(at['index'])}.{verb}"
                    f"({self.arg(ins[1])})"), ATOM
        if op == "cast":
            return self.text[id(ins[0])]
        if op == "degenerate_check":  # the identity on its value (it only refuses)
            return self.text[id(ins[1])]
        if op in RESULT_OF:
            return RESULT_OF[op].format(self.arg(ins[0])), ATOM
        if op == "concat":
            return f"concat([{', '.join(self.arg(i) for i in ins)}], axis={at['axis']})", ATOM
        if op == "pad":
            widths = "(" + ", ".join(f"({lo}, {hi})" for lo, hi in at["widths"]) + ")"
            return (f"pad({self.arg(ins[0])}, {widths}, constant_values="
                    f"{literal_text(at['value'])})"), ATOM
        if op == "gather":  # integer arrays over the leading axes: numpy's x[i, j]
            return f"{self.arg(ins[0], ATOM)}[{self._indices(ins[1:])}]", ATOM
        if op in ("scatter_add", "scatter_set"):
            verb = "add" if op == "scatter_add" else "set"
            return (f"{self.arg(ins[0], ATOM)}.at[{self._indices(ins[1:-1])}].{verb}"
                    f"({self.arg(ins[-1])})"), ATOM
        if op == "cumsum" and at["reverse"]:
            axis = at["axis"]
            return f"flip(cumsum(flip({self.arg(ins[0])}, {axis}), {axis}), {axis})", ATOM
        if op in ("cumsum", "cumprod", "sort", "argsort"):
            return f"{op}({self.arg(ins[0])}, axis={at['axis']})", ATOM
        if op == "einsum":
            args = ", ".join(self.arg(i) for i in ins)
            return f'einsum("{at["subscripts"]}", {args})', ATOM
        extra = [f"{k}={v!r}" for k, v in at.items()]
        return f"{op}({', '.join([self.arg(i) for i in ins] + extra)})", ATOM

    def _indices(self, ins: Sequence[Node]) -> str:
        """Index arrays as the language reads them: a constant as a list of ints."""
        return ", ".join(str(i.attrs["value"].tolist()) if i.op == "const" else self.arg(i)
                         for i in ins)

    def _infix(self, op: str, ins: Sequence[Node]) -> tuple[str, int]:
        symbol, prec = INFIX[op]
        a, b = ins
        if op == "add" and b.op == "neg" and id(b) not in self.names:
            return f"{self.arg(a, ADD)} - {self.arg(b.inputs[0], MUL)}", ADD
        if op == "pow":
            # ** binds right: the base needs an atom, the exponent may be unary
            return f"{self.arg(a, ATOM)}**{self.arg(b, UNARY)}", POW
        return f"{self.arg(a, prec)} {symbol} {self.arg(b, prec + 1)}", prec


def _index(index: Any) -> str:
    return format_index(index)


def _constant(node: Node) -> tuple[str, int]:
    value = node.attrs.get("value")
    if node.op == "fill" or (value is not None and value.size and np.all(value == value.flat[0])):
        number = node.attrs["value"] if node.op == "fill" else value.flat[0]
        text = literal_text(number)
        if node.ndim == 0:
            return text, (UNARY if text.startswith("-") else ATOM)
        if float(number) in (0.0, 1.0):
            return f"{'ones' if float(number) else 'zeros'}({_shape(node.shape)})", ATOM
        return f"full({_shape(node.shape)}, {text})", ATOM
    return np.array2string(np.asarray(value), separator=", ").replace("\n", ""), ATOM


def expressions(roots: Sequence[Node], names: Mapping[int, str], prefix: str = "t") -> tuple[
        list[tuple[str, str]], list[str]]:
    """(temporaries as (name, text), one text per root) for the program of `roots`.
    `names` maps id(node) to a user name printed instead of the node's expression;
    temporaries are named `prefix` + a number (see `temp_prefix`)."""
    printer = _Printer(roots, names, prefix)
    return printer.lets, [printer.text[id(r)][0] for r in roots]
