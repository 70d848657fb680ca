"""The layer registry: kind name -> LayerKind, in the order the docs list
them.  A new kind is a LayerKind in a family module (or a new module and
one line here); nothing else in gradcli names layer kinds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from gradcli.language.layers import conv, core, embedding, norm, pooling
from gradcli.language.layers.base import LayerKind


def _table(*families: Iterable[LayerKind]) -> Mapping[str, LayerKind]:
    kinds: dict[str, LayerKind] = {}
    for family in families:
        for kind in family:
            if kind.name in kinds:
                raise AssertionError(f"layer kind {kind.name} defined twice")
            kinds[kind.name] = kind
    return MappingProxyType(kinds)


REGISTRY: Mapping[str, LayerKind] = _table(core.KINDS, conv.KINDS, pooling.KINDS, norm.KINDS,
                                           embedding.KINDS)
