"""``track``: ByteTrack ids on the detections of one stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from aios.agent.analytics.tracker import ByteTracker
from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, first_names
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import Node, TrackNode


class TrackRuntime:
    kind: ClassVar[str] = "track"

    def __init__(self, spec: TrackNode, names: Sequence[str]) -> None:
        self._spec = spec
        self.names = names
        self._tracker = ByteTracker(spec.params)

    @classmethod
    def build(cls, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> TrackRuntime:
        if not isinstance(spec, TrackNode):
            raise ConfigError(f"node {spec.id!r} is not a track node")
        return cls(spec, first_names(upstream))

    @property
    def node_id(self) -> str:
        return self._spec.id

    async def start(self) -> None:
        self._tracker.reset()

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        return packet.with_detections(self._tracker.update(packet.detections))

    async def stop(self) -> None:
        return None
