"""State kept per stream by nodes downstream of a multi-camera detect node.

A zone's count, a line's crossing memory or a tracker's ids belong to one camera; a node that
several streams reach keeps one instance per ``stream_id``, made on that stream's first frame.
Every node keeps its per-stream state here, so there is one place to look: it holds at most one
instance per source of the pipeline (the stream ids are the source nodes' ids), and goes with
the runner when a new pipeline replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class PerStream(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: dict[str, T] = {}

    def get(self, stream_id: str) -> T:
        item = self._items.get(stream_id)
        if item is None:
            item = self._items[stream_id] = self._factory()
        return item

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def clear(self) -> None:
        self._items.clear()
