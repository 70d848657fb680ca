"""What an imported model's own wiring provides (`ModelGraph`), and what its
lowering gets to work with (`GraphCall`).

A YAML model is a chain of layers; an imported one may be any graph: an
ONNX graph of operators, a Keras functional model whose layers branch and
merge.  Such a model is a `ModelSpec` with a `graph`: the graph lists the
parameters (names and shapes, from the file) and builds the nodes of one
call; the network builder creates the parameter leaves and lowers the
registry layers it names, exactly as for a YAML model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gradcli.engine.graph import Node
    from gradcli.language.functions.context import Context
    from gradcli.language.layers import Layer, ParamSpec


@dataclass(frozen=True)
class Port:
    """An input or output of an imported model, as the file declares it:
    `name` as written there, `ident` the identifier a spec-less call gives
    it (`input.1` -> `input_1`), `dims` with None or a name ("batch") for
    sizes the file leaves open (None: the rank is unknown too)."""

    name: str
    ident: str
    dims: tuple[int | str | None, ...] | None
    dtype: str = "float32"

    def shape_text(self) -> str:
        if self.dims is None:
            return "(any shape)"
        parts = ["?" if d is None else str(d) for d in self.dims]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def fits(self, shape: tuple[int, ...]) -> bool:
        if self.dims is None:
            return True
        return len(shape) == len(self.dims) and all(
            not isinstance(d, int) or d == s for d, s in zip(self.dims, shape))


@dataclass(frozen=True)
class GraphCall:
    """One call of an imported model: the problem's Context, the model's name,
    `param(name)` (the leaf of a parameter, by its full name, created at its
    first use), `layer(layer, x)` (a registry layer lowered as in a YAML
    model), the engine's node builders and the function catalogue."""

    ctx: Context
    model: str
    param: Callable[[str], Node]
    layer: Callable[[Layer, Node], Node]
    nodes: Any                          # gradcli.engine.ops.nodes
    apply: Callable[..., Node]          # gradcli.engine.ops.apply(op, inputs, attrs)
    function: Callable[..., Node]       # function("matmul", a, b)


class ModelGraph(Protocol):
    """An imported model's wiring (see the module docstring)."""

    format: str                         # "onnx", "keras"
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    def parameters(self, model: str) -> list[tuple[str, ParamSpec]]:
        """(full name, spec) of every parameter, in the file's order."""
        ...

    def lower(self, call: GraphCall, xs: Sequence[Node]) -> Node | list[Node]:
        """The output node (a list of them for several outputs) of one call."""
        ...


def identifier(name: str, taken: set[str]) -> str:
    """`name` as an identifier, unique in `taken` (which it joins):
    other characters become _, a leading digit gets an x in front."""
    text = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)
    text = text.strip("_") or "x"
    if text[0].isdigit():
        text = "x" + text
    unique, count = text, 1
    while unique in taken:
        count += 1
        unique = f"{text}_{count}"
    taken.add(unique)
    return unique
