"""The op reference: every function of the expression language with its
signature, one line of description and its convention at kinks, read
straight from the catalogue (`gradcli.language.functions.CATALOGUE`) and the
primitive table (`gradcli.engine.ops.TABLE`).

`gradcli ops` prints it for the terminal and `docs/ops.md` is the Markdown
rendering of the same entries, so the docs cannot say something the code
does not do; a test compares the file with `render_markdown()`.  Regenerate
the file with

    python -m gradcli.language.reference > docs/ops.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

# Families of the catalogue, in reading order: (title, modules of gradcli.language.functions).
# A function in none of them (a new family module) still appears, under "Other",
# so the reference can never silently miss an entry.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Elementwise (operands broadcast)", ("elementwise", "numeric")),
    ("Rounding and remainders", ("piecewise",)),
    ("Reductions", ("reduce", "norms")),
    ("Products and linear algebra", ("linalg", "matrices", "einsum")),
    ("Decompositions", ("decompositions",)),
    ("Shape and layout", ("arrays", "padding", "layout")),
    ("Indexing, gathers and scatters", ("indexing",)),
    ("Scans and order", ("scans",)),
    ("Networks", ("nn",)),
    ("Constant arrays", ("create",)),
    ("numpy's other names", ("aliases",)),
)
OTHER = "Other"

# Syntax that is not a catalogue function; each line is (form, meaning).
SYNTAX: tuple[tuple[str, str], ...] = (
    ("a + b, a - b, a * b, a / b, a ** b, -a", "elementwise arithmetic, numpy broadcasting; "
     "/ and ** always give floats"),
    ("a % b, a // b", "mod(a, b) (the sign of b, as numpy and Python) and floor_divide(a, b)"),
    ("a @ b", "matmul(a, b)"),
    ("a < b, a <= b, a > b, a >= b, a == b, a != b",
     "comparisons, for where(); not differentiable"),
    ("x[0, 1], x[:, 1:], x[..., None]", "numpy basic indexing: ints, slices, ..., None"),
    ("x[[0, 2]], x[i], x[3, 2:, [1, 3]], x[mask]",
     "numpy advanced indexing: lists of ints, integer inputs or integer arrays (never "
     "differentiated), constant boolean masks; integer arrays broadcast together and their "
     "axes go where numpy puts them (in place when adjacent, else first)"),
    ("x.T", "transpose(x)"),
    ("eigh(a)[1], eigh(a).eigenvectors",
     "one array of a function that returns several (eigh, svd, qr, slogdet): by position or "
     "by numpy's field name"),
    ("x.at[idx].set(v), x.at[idx].add(v)",
     "functional update: a copy of x, differentiable in x and v; with integer arrays, add "
     "accumulates repeated indices and set keeps the last write of a repeated index (numpy's "
     "x[idx] = v is an assignment, not an expression)"),
    ("parts[0], parts[1:]", "an item or a slice of a list of arrays (split, array_split, ...)"),
    ("a, b: split(x, 2)", "as a let key: several names unpack a list of arrays (or the "
     "first axis of an array), as Python's a, b = ..."),
    ("[a, b], (a, b)", "lists and tuples, as arguments (concat([x, t], axis=1), shapes)"),
    ('"ij,jk->ik"', "string literals, where a function takes one (einsum, pad mode=)"),
    ("net(x), u(x, t)", "call a model of the spec's models: block"),
    ("np.sin(x), numpy.linalg.inv(A), np.pi, x[:, np.newaxis]",
     "numpy's prefixes (np., numpy., np.linalg., numpy.linalg., jnp.) name the catalogue's "
     "functions and constants, so numpy code pastes in unchanged"),
)
DERIVATIVE_CALLS: tuple[tuple[str, str], ...] = (
    ("grad(expr, wrt)", "d(sum of expr)/d wrt, shape of wrt (as the grad command)"),
    ("jacobian(expr, wrt)", "every partial d expr/d wrt, shape expr + wrt (never summed)"),
    ("hessian(expr, wrt)", "d²(sum of expr)/d wrt², shape wrt + wrt"),
)
CONSTANT_DOCS = {"pi": "3.14159…", "e": "2.71828…", "inf": "positive infinity",
                 "nan": "not a number"}


@dataclass(frozen=True)
class Entry:
    """One line of the reference (a catalogue function or a primitive)."""

    name: str
    signature: str
    doc: str
    kink: str
    family: str


def catalogue_entries() -> list[Entry]:
    """Every catalogue function, grouped by family in FAMILIES order, then by name."""
    from gradcli.language import functions
    from gradcli.language.functions import CATALOGUE

    family_of: dict[str, str] = {}
    for title, modules in FAMILIES:
        for module in modules:
            for function in getattr(functions, module).FUNCTIONS:
                family_of.setdefault(function.name, title)
    order = {title: i for i, (title, _) in enumerate(FAMILIES)}
    entries = [Entry(f.name, f.signature, f.doc, f.kink, family_of.get(f.name, OTHER))
               for f in CATALOGUE.values()]
    return sorted(entries, key=lambda e: (order.get(e.family, len(order)), e.name))


def primitive_entries() -> list[Entry]:
    """Every primitive of the op table, in table order (the graph's vocabulary:
    what `gradcli graph` prints and what derivative rules are written in)."""
    from gradcli.engine.ops import TABLE

    return [Entry(row.name, row.name, row.doc, row.kink, "Primitives") for row in TABLE.values()]


def constants() -> list[tuple[str, str]]:
    """The named constants of the expression language, from the parser's own table."""
    from gradcli.language.expr import CONSTANTS

    return [(name, CONSTANT_DOCS.get(name, "a constant")) for name in CONSTANTS]


def select(entries: Sequence[Entry], names: Iterable[str]) -> list[Entry]:
    """The entries named in `names` (all of them if `names` is empty).  An
    unknown name is a SpecError with a suggestion, so `gradcli ops relux`
    fails like any other typo."""
    from gradcli.errors import SpecError, suggest

    wanted = list(names)
    if not wanted:
        return list(entries)
    known = {e.name for e in entries}
    for name in wanted:
        if name not in known:
            raise SpecError(f"no function or primitive named '{name}'{suggest(name, known)}; "
                            "`gradcli ops` lists them all")
    return [e for e in entries if e.name in wanted]


# ---- terminal text ---------------------------------------------------------------

def _wrap(text: str, indent: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False) or [indent.rstrip()]


def render_text(functions: Sequence[Entry], primitives: Sequence[Entry],
                syntax: bool = True, width: int = 88, color: bool = False) -> str:
    """The reference for a terminal: a signature line, then the description
    and the kink convention indented under it (easy to grep and to read).
    `color` makes headings and signatures bold; the caller decides (a
    terminal, no NO_COLOR), so the text is otherwise the same bytes."""
    bold, reset = ("\033[1m", "\033[0m") if color else ("", "")
    lines: list[str] = []

    def heading(title: str) -> None:
        title = f"{bold}{title}{reset}"
        lines.extend(["", title, ""] if lines else [title, ""])

    family = None
    for entry in functions:
        if entry.family != family:
            family = entry.family
            heading(family)
        lines.append(f"  {bold}{entry.signature}{reset}")
        lines += _wrap(entry.doc, "      ", width)
        if entry.kink:
            lines += _wrap(f"at kinks: {entry.kink}", "      ", width)
    if syntax:
        heading("Operators and syntax")
        for form, meaning in SYNTAX:
            lines += [f"  {form}", *_wrap(meaning, "      ", width)]
        heading("Derivatives inside expressions (wrt is a name or a component)")
        for form, meaning in DERIVATIVE_CALLS:
            lines += [f"  {form}", *_wrap(meaning, "      ", width)]
        heading("Constants")
        lines += [f"  {name:<6}{meaning}" for name, meaning in constants()]
    if primitives:
        heading("Primitives (the graph's ops, as `gradcli graph` prints them)")
        width_name = max(len(p.name) for p in primitives) + 2
        for entry in primitives:
            text = entry.doc + (f" [at kinks: {entry.kink}]" if entry.kink else "")
            wrapped = _wrap(text, " " * (width_name + 2), width)
            wrapped[0] = f"  {entry.name:<{width_name}}" + wrapped[0].lstrip()
            lines += wrapped
    return "\n".join(lines) + "\n"


# ---- Markdown (docs/ops.md) ----------------------------------------------------------

def _code(text: str) -> str:
    """A code span in a table cell: only pipes (and newlines) would break the row."""
    return text.replace("|", "\\|").replace("\n", " ")


def _cell(text: str) -> str:
    """Plain text in a table cell: also `*` escaped, so e**x never turns bold."""
    return _code(text).replace("*", "\\*")


def render_markdown() -> str:
    """docs/ops.md: the whole reference as Markdown tables."""
    functions, primitives = catalogue_entries(), primitive_entries()
    out = [
        "<!-- Generated by `python -m gradcli.language.reference > docs/ops.md`; do not edit "
        "by hand.",
        "     tests/test_reference.py fails when this file and the op table disagree. -->",
        "",
        "# Functions and operators",
        "",
        "Everything an expression in a spec (or `-e`) can call. The same list is printed",
        "by `gradcli ops` (`gradcli ops relu softplus` for a few entries,",
        "`--format json` for tools). Array functions follow numpy's argument order",
        "and defaults; the network functions follow TensorFlow. \"At kinks\" is the",
        "value gradcli uses for a derivative where the mathematical one does not exist.",
    ]
    family = None
    for entry in functions:
        if entry.family != family:
            family = entry.family
            out += ["", f"## {family}", "", "| function | description | at kinks |",
                    "|---|---|---|"]
        out.append(f"| `{_code(entry.signature)}` | {_cell(entry.doc)} | {_cell(entry.kink)} |")
    out += ["", "## Operators and syntax", "", "| form | meaning |", "|---|---|"]
    out += [f"| `{_code(form)}` | {_cell(meaning)} |" for form, meaning in SYNTAX]
    out += ["", "## Derivatives inside expressions", "",
            "`wrt` is read as a name, not computed: an input, a `let` name defined above,",
            "a model parameter or a component of one (`x[:, 0]`, `inp[0, 0]`).", "",
            "| call | meaning |", "|---|---|"]
    out += [f"| `{_code(form)}` | {_cell(meaning)} |" for form, meaning in DERIVATIVE_CALLS]
    out += ["", "## Constants", "", "| name | value |", "|---|---|"]
    out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in constants()]
    out += ["", "## Primitives", "",
            "The op table: the nodes of every graph (`gradcli graph` prints them), each with",
            "its forward, derivative, batching and sympy rules in one row. Catalogue",
            "functions are built from these.", "",
            "| primitive | description | at kinks |", "|---|---|---|"]
    out += [f"| `{p.name}` | {_cell(p.doc)} | {_cell(p.kink)} |" for p in primitives]
    return "\n".join(out) + "\n"


def render_json(functions: Sequence[Entry], primitives: Sequence[Entry]) -> str:
    """For editors and scripts: {"functions": [...], "primitives": [...]}."""
    doc = {"functions": [asdict(e) for e in functions],
           "primitives": [{k: v for k, v in asdict(e).items() if k not in ("signature",
                                                                            "family")}
                          for e in primitives]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """`python -m gradcli.language.reference > docs/ops.md` regenerates the docs page."""
    sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main()
