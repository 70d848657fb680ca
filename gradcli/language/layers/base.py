"""What a layer kind is (`LayerKind`), what one layer of a model is
(`Layer`), the parameters it owns (`ParamSpec`) and what its lowering gets
to work with (`Call`).

A LayerKind holds everything about one kind of layer: its options (parse,
schema and docs, options.py), its parameters with their shapes and
initialisers, how it is lowered to graph nodes, and (through its
parameters) the names shell completion offers.  The loader, the network
builder, `gradcli schema`, `gradcli params`, completion and the generated
layer reference in docs/networks.md all read kinds; none knows a kind by name.

Parameters are named MODEL.INDEX.PART (net.1.kernel): PART is the
ParamSpec's `part`, in the order the kind lists them (Keras's order of
`layer.weights`, so an importer maps them one to one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gradcli.errors import Location
from gradcli.language.layers.options import Options

if TYPE_CHECKING:
    from gradcli.engine.graph import Node
    from gradcli.language.functions.context import Context

Features = int | None  # the size of the last (feature/channel) axis; None: unknown yet
Dims = tuple[int | None, ...]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a layer.  `init` is "kernel" or "bias" (the
    model's `init:` choice for those) or an initializer name of
    initializers.py (Keras's default for this parameter: gamma "ones",
    moving_variance "ones", embeddings "uniform")."""

    part: str
    shape: Dims
    init: str
    trainable: bool = True   # False: moving statistics (Keras's non-trainable weights)


@dataclass(frozen=True, eq=False)
class Layer:
    """One entry of a model's `layers:`, validated: `options` holds every
    option of its kind (defaults filled in)."""

    kind: str
    index: int
    where: Location
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __getitem__(self, option: str) -> Any:
        return self.options[option]


@dataclass
class Call:
    """What a kind's lowering gets: the problem's Context, the layer, and
    `param(part)`, which returns the parameter leaf (created at the first
    call of the model, with the shape its ParamSpec gives for this input).
    The engine's node builders and the function catalogue come in here
    too, so the kind modules import no engine at module level (completion
    imports them on every Tab press)."""

    ctx: Context
    layer: Layer
    model: str
    param: Callable[[str], Node]
    nodes: Any            # gradcli.engine.ops.nodes
    apply: Callable[..., Node]        # gradcli.engine.ops.apply(op, inputs, attrs)
    function: Callable[..., Node]     # a catalogue function: function("matmul", a, b)

    @property
    def what(self) -> str:
        return f"{self.model} layer {self.layer.index} ({self.layer.kind})"

    def __getitem__(self, option: str) -> Any:
        return self.layer.options[option]


Lowering = Callable[[Call, "Node"], "Node"]
ParamRule = Callable[[Mapping[str, Any], Features], tuple[ParamSpec, ...]]
FeatureRule = Callable[[Mapping[str, Any], Features], Features]


def no_params(options: Mapping[str, Any], features: Features) -> tuple[ParamSpec, ...]:
    return ()


def same_features(options: Mapping[str, Any], features: Features) -> Features:
    return features


def unknown_features(options: Mapping[str, Any], features: Features) -> Features:
    return None


@dataclass(frozen=True)
class LayerKind:
    """Everything about one kind of layer (see the module docstring).

    `params(options, features)` lists the parameters for an input whose
    last axis has `features` entries (None: not known until a call, as for
    `dense` after `flatten`); `features(options, features)` is that size
    after the layer, which lets a weights file be checked when the spec is
    loaded.  `lower(call, x)` builds the layer's nodes."""

    name: str
    summary: str                      # one line: docs, schema description
    lower: Lowering
    options: Options = Options()
    params: ParamRule = no_params
    features: FeatureRule = same_features
    example: str = ""                 # a YAML flow example, e.g. {dense: {units: 8}}
    keras: str = ""                   # the Keras layer it matches (docs; importers)
    details: str = ""                 # markdown: semantics a user must know
    first_only: bool = False          # only as the first layer (concat)
    # several inputs, net(x, t): join(model name, inputs, ops.apply) -> one node
    join: Callable[[str, list[Node], Callable[..., Node]], Node] | None = None
    integer_input: bool = False       # takes integer arrays (embedding indices)

    def parameter_parts(self, options: Mapping[str, Any]) -> tuple[str, ...]:
        """The parts of the parameters, whatever the input (completion)."""
        return tuple(p.part for p in self.params(options, None))
