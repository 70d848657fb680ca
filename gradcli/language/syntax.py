"""An expression's syntax, read by `ast` before any name means anything:
its bounds (length, nesting, the size of integer literals), the position of
a node in characters, and the name of each construct that is refused.

Positions count characters, as editors do: `ast`'s `col_offset` counts
UTF-8 bytes, so after `é` it is one column too far (`column`).
"""

from __future__ import annotations

import ast
import re
import sys

from gradcli.errors import Location, SpecError
from gradcli.language.numpy_names import assignment_hint

MAX_LENGTH = 10_000
MAX_DEPTH = 64
# Numbers in expressions are float64 (whose range ends near 2**1024) or small
# integers (axes, indices, sizes); a longer literal, like a hex literal of
# thousands of digits, holds nothing gradcli can use, and even printing it
# fails beyond Python's 4300 decimal digits.
MAX_INT_BITS = 1024
_PY_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)()


def column(text: str, node: ast.AST) -> int:
    """The 0-based character column of `node` in its line of `text`."""
    offset = getattr(node, "col_offset", 0) or 0
    lines = text.split("\n")
    line = lines[min(max(getattr(node, "lineno", 1), 1), len(lines)) - 1]
    return len(line.encode("utf-8")[:offset].decode("utf-8", "replace"))


def check_int_literal(value: int, where: Location) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise SpecError(f"an integer of {value.bit_length()} bits is too large: numbers in "
                        f"expressions have at most {MAX_INT_BITS} bits (float64 reaches about "
                        "1.8e308)", where)


def parse(text: str, where: Location) -> ast.expr:
    if len(text) > MAX_LENGTH:
        raise SpecError(f"expression longer than {MAX_LENGTH} characters", where)
    if "\0" in text:  # where it is, rather than Python's "source code string cannot ..."
        raise SpecError("invalid expression: null bytes are not allowed",
                        where.shifted(text.strip().find("\0")))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        hint = assignment_hint(text)
        if hint:
            raise SpecError(f"invalid expression: {hint}", where) from None
        # Python's own message suggests sys.set_int_max_str_digits
        digits = re.search(rf"\d{{{_PY_DIGITS + 1},}}", text.strip())
        if digits is not None and "digits" in str(exc.msg):
            raise SpecError(f"a number of {len(digits.group())} digits is too long (at most "
                            f"{_PY_DIGITS})", where.shifted(digits.start())) from None
        raise SpecError(f"invalid expression: {exc.msg}",
                        where.shifted(max((exc.offset or 1) - 1, 0))) from None
    except (RecursionError, MemoryError):
        # CPython's parser gives up on deep nesting (`-----...1`, `1+1+...`)
        # with these rather than a SyntaxError, long before MAX_LENGTH.
        raise SpecError(f"expression nested too deeply to parse (the limit is {MAX_DEPTH} "
                        "levels)", where) from None
    except ValueError as exc:
        raise SpecError(f"invalid expression: {exc}", where) from None
    return tree.body


def describe(node: ast.AST) -> str:
    labels = {"Lambda": "lambda", "ListComp": "a list comprehension", "GeneratorExp":
              "a generator", "DictComp": "a dict comprehension", "SetComp":
              "a set comprehension", "JoinedStr": "an f-string", "NamedExpr": "':='",
              "IfExp": "'a if c else b' (use where(c, a, b))", "Dict": "a dict", "Set": "a set",
              "BoolOp": "and/or (use where)", "Starred": "*args", "Await": "await",
              "Not": "'not'", "Invert": "'~'", "FloorDiv": "'//'", "Mod": "'%'",
              "LShift": "'<<'", "RShift": "'>>'", "BitOr": "'|'", "BitAnd": "'&'",
              "BitXor": "'^'", "Is": "'is'", "IsNot": "'is not'", "In": "'in'",
              "NotIn": "'not in'", "Yield": "yield"}
    name = type(node).__name__
    return labels.get(name, name)
