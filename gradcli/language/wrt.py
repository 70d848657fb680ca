"""`--wrt` and `wrt:` texts read into Sources: an input, a `let` name, a
model (all its parameters), a model parameter (`net.1.kernel`) or a
component of any of them (`inp[0,0]`, `X[:,1]`).  The text is parsed with
`ast` and its index read from the tree, never evaluated."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from gradcli.engine.graph import Node
from gradcli.engine.ops.structure import selected_shape
from gradcli.engine.sources import Source
from gradcli.errors import Location, SpecError, shortlist, suggest
from gradcli.language.indexing import static_index

W = TypeVar("W")
PARAMETER = "parameter_"  # stands in for a dotted parameter name while parsing


def expand_models(items: Sequence[tuple[str, W]], groups: Mapping[str, Sequence[str]]
                  ) -> list[tuple[str, W]]:
    """A model's name as a source stands for all its parameters, in layer order."""
    out: list[tuple[str, W]] = []
    for text, where in items:
        name = text.strip()
        if name not in groups:
            out.append((text, where))
        elif not groups[name]:
            raise SpecError(f"model '{name}' is never called in an expression, so it has no "
                            "parameters to differentiate", where)
        else:
            out.extend((param, where) for param in groups[name])
    return out


def _split_dotted(text: str) -> tuple[str, str] | None:
    """'net.1.kernel[0, :]' -> ('net.1.kernel', '[0, :]'): a model parameter's
    name has dots, which Python would read as attribute access."""
    head, bracket, rest = text.partition("[")
    head = head.strip()
    return (head, bracket + rest) if "." in head else None


def parse_source(text: str, named: Mapping[str, Node], where: Location | str,
                 models: Sequence[str] = ()) -> Source:
    text = text.strip()
    dotted = _split_dotted(text)
    try:  # a parameter's name stands aside; only its index is parsed
        tree = ast.parse(PARAMETER + dotted[1] if dotted else text, mode="eval").body
    except SyntaxError:
        raise SpecError(f"'{text}' is not a name or a component like x[0, 1]", where) from None
    index = None
    if isinstance(tree, ast.Subscript):
        try:
            index = static_index(tree.slice)
        except SpecError as exc:
            raise SpecError(f"'{text}': {exc.message}", where) from None
        tree = tree.value
    if not isinstance(tree, ast.Name):
        raise SpecError(f"'{text}' is not a name or a component like x[0, 1]", where)
    name = dotted[0] if dotted else tree.id
    if name not in named:
        raise SpecError(f"unknown source '{name}'{suggest(name, [*models, *named])}; sources "
                        "are inputs, let names, models and model parameters: "
                        f"{', '.join([*named, *models])}", where)
    node = named[name]
    if not node.is_float:
        raise SpecError(f"'{name}' is an integer input ({node.dtype}): integer inputs are "
                        "never differentiated; give it a float dtype to make it a source", where)
    if index is not None:
        try:
            selected_shape(node.shape, index)
        except SpecError as exc:
            raise SpecError(f"'{text}': {exc.message}", where) from None
    return Source(text, name, node, index)


def no_sources(problem: Any) -> SpecError:
    """The error of grad/jacobian/hessian when no source was asked for and the
    defaults are empty: every input is an integer or bool input, or there is
    none (an empty `wrt:` says so itself).  Says what would make a source."""
    where = problem.spec.file
    if problem.spec.wrt is not None:
        return SpecError("nothing to differentiate: the spec's wrt: is empty; name a source "
                         "there or pass --wrt", where)
    params = problem.models.parameters
    inputs = [(n, node.dtype) for n, node in problem.leaves.items() if n not in params]
    if not inputs:
        head = "nothing to differentiate: the spec has no inputs"
        hints = ["define one with --set NAME=VALUE" if where == "--expr" else "add a float input"]
    else:
        kinds = [k for k in ("integer", "bool")
                 if any((dtype == "bool") == (k == "bool") for _, dtype in inputs)]
        kind = " or ".join(kinds)
        listed = shortlist(f"{n} {dtype}" for n, dtype in inputs)
        head = (f"no float sources: every input is {'an' if kinds[0] == 'integer' else 'a'} "
                f"{kind} input ({listed}), and {kind} inputs are never differentiated")
        hints = ["give one a float dtype"]
    lets = [e.name for e in problem.spec.lets if problem.named[e.name].is_float]
    models = list(problem.spec.models)
    others = ([f"a float let name ({', '.join(lets)})"] if lets else []) + \
        ([f"a model, for its parameters ({', '.join(models)})"] if models else [])
    if others:
        hints.append(f"pass --wrt with {' or '.join(others)}")
    return SpecError(f"{head}; {', or '.join(hints)}", where)
