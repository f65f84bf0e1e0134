"""A small least-recently-used cache: the models an apply worker keeps loaded between shards."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRUCache:
    """Values by key, at most ``maxsize`` of them (at least 1), least recently used dropped first.

    ``maxsize`` is given at each lookup, so a changed setting applies at the next one. A miss drops
    the oldest values *before* loading the new one: a model may hold GPU memory, and the old one is
    released (unless a caller still holds it) before the new one takes its place. Not locked: an
    apply worker runs one task at a time (``-P solo``).
    """

    def __init__(self) -> None:
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self.loads = 0  # misses, i.e. calls of ``load`` (tests count them)

    def get_or_load(self, key: Hashable, load: Callable[[], Any], *, maxsize: int) -> Any:
        """The value of ``key``, marked most recently used; on a miss, ``load()``'s, kept."""
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        while len(self._values) >= max(1, maxsize):
            self._values.popitem(last=False)
        value = load()
        self.loads += 1
        self._values[key] = value
        return value

    def peek(self, key: Hashable) -> Any:
        """The value of ``key`` or None, without marking it used."""
        return self._values.get(key)

    def keys(self) -> list[Hashable]:
        """The keys, least recently used first."""
        return list(self._values)

    def clear(self) -> None:
        self._values.clear()
        self.loads = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)
