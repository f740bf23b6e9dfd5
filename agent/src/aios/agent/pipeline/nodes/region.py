"""What the ``zone`` and ``line`` nodes share: one region per stream, built from the node's
params and the class ids it keeps.

Each stream reaching the node has its own region (its own counts and, for a line, the side each
track was last seen on: track ids are per stream), created on the stream's first frame. A bad
region (polygon, line) fails the build.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Generic, Self, TypeVar

from aios.agent.pipeline.node import (
    BuildContext,
    Lifecycle,
    RuntimeNode,
    class_ids_of,
    first_names,
    upstream_lost_buffer_s,
)
from aios.agent.pipeline.per_stream import PerStream
from aios.shared.pipeline import LineNode, ZoneNode

SpecT = TypeVar("SpecT", LineNode, ZoneNode)
RegionT = TypeVar("RegionT")


class RegionRuntime(Lifecycle, Generic[SpecT, RegionT]):
    def __init__(
        self,
        spec: SpecT,
        class_ids: frozenset[int] | None,
        names: Sequence[str],
        lost_buffer_s: float | None = None,
    ) -> None:
        self._spec: SpecT = spec
        self._class_ids = class_ids
        self._regions = PerStream(lambda: self.make_region(spec, class_ids))
        self.names = names
        self.lost_buffer_s = lost_buffer_s
        """How long the upstream tracker keeps a lost track (``None``: untracked input)."""

    @staticmethod
    @abstractmethod
    def make_region(spec: SpecT, class_ids: frozenset[int] | None) -> RegionT:
        """A fresh region of ``spec`` keeping ``class_ids``; raises on bad params."""

    @classmethod
    def build(cls, spec: SpecT, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> Self:
        names = first_names(upstream)
        ids = class_ids_of(spec, spec.params.classes, names)
        cls.make_region(spec, ids)  # bad params fail at build
        return cls(spec, ids, names, upstream_lost_buffer_s(upstream))

    @property
    def node_id(self) -> str:
        return self._spec.id

    def region(self, stream_id: str) -> RegionT:
        """The region of one stream (created on its first frame)."""
        return self._regions.get(stream_id)

    async def start(self) -> None:
        self._regions.clear()
