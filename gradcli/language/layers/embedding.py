"""embedding: integer indices to rows of a learned table, by the `gather`
primitive (its vjp is a scatter-add, so repeated indices add up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gradcli.errors import ShapeError
from gradcli.language.layers.base import Call, LayerKind, ParamSpec
from gradcli.language.layers.options import Count, Option, Options

if TYPE_CHECKING:
    from gradcli.engine.graph import Node


def _embedding(c: Call, x: Node) -> Node:
    if not x.dtype.startswith(("int", "uint")):
        raise ShapeError(f"{c.what} takes integer indices (an input with dtype: int64), got "
                         f"{x.dtype}; an embedding must be the first layer")
    return c.apply("gather", (c.param("embeddings"), x))


EMBEDDING = LayerKind(
    "embedding", "integer indices (B, ...) -> rows of a table: (B, ..., output_dim)",
    _embedding,
    Options((Option("input_dim", Count(), doc="number of rows: indices are 0 .. input_dim - 1"),
             Option("output_dim", Count(), doc="width of each row"))),
    lambda o, f: (ParamSpec("embeddings", (o["input_dim"], o["output_dim"]), "uniform"),),
    lambda o, f: o["output_dim"], example="{embedding: {input_dim: 100, output_dim: 8}}",
    keras="Embedding", integer_input=True,
    details="The model's input must be an integer input (`dtype: int64`); an index out of "
            "range is an error when the program runs. Rows are initialised uniform in "
            "[-0.05, 0.05] (Keras's default); integer indices are never sources.")

KINDS = (EMBEDDING,)
