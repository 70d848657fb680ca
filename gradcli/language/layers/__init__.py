"""Layer kinds of `models:` (docs/networks.md), one registry entry each.

    from gradcli.language.layers import REGISTRY, make_layer
    layer = make_layer("conv2d", 0, filters=8, kernel_size=3, padding="same")
    REGISTRY["conv2d"].params(layer.options, 3)   # kernel (3, 3, 3, 8), bias (8,)

Importing this package loads neither numpy nor the engine (shell
completion reads it on every Tab press); lowering a layer does.
"""

from __future__ import annotations

from gradcli.language.layers.activations import ACTIVATIONS
from gradcli.language.layers.base import Call, Layer, LayerKind, ParamSpec
from gradcli.language.layers.parse import kind_schema, make_layer, parse_layer, read_options
from gradcli.language.layers.registry import REGISTRY

__all__ = ["ACTIVATIONS", "REGISTRY", "Call", "Layer", "LayerKind", "ParamSpec", "kind_schema",
           "make_layer", "parse_layer", "read_options"]
