"""A bounded, least-recently-used map: the memory of planned requests.

A Problem remembers the programs it planned so that repeated calls only
evaluate; a long-lived process asking for ever new requests (other --wrt,
other outputs, other chunk sizes) must not keep all of them forever."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator, MutableMapping
from typing import Any


class LRU(MutableMapping[Hashable, Any]):
    """At most `size` entries; reading or writing one makes it the most
    recent, and the least recent goes first when a new one does not fit."""

    def __init__(self, size: int = 64) -> None:
        if size < 1:
            raise ValueError("an LRU holds at least one entry")
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def __getitem__(self, key: Hashable) -> Any:
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __delitem__(self, key: Hashable) -> None:
        del self._items[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._items))  # a snapshot: reading reorders

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items  # membership is not a use
