"""``zone``: keeps the detections standing inside (or outside) a polygon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from aios.agent.analytics.classes import resolve_class_ids
from aios.agent.analytics.zones import PolygonZone
from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, first_names
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import Node, ZoneNode


class ZoneRuntime:
    kind: ClassVar[str] = "zone"

    def __init__(self, spec: ZoneNode, zone: PolygonZone, names: Sequence[str]) -> None:
        self._spec = spec
        self.zone = zone
        self.names = names

    @classmethod
    def build(cls, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> ZoneRuntime:
        if not isinstance(spec, ZoneNode):
            raise ConfigError(f"node {spec.id!r} is not a zone node")
        names = first_names(upstream)
        ids = resolve_class_ids(
            spec.params.classes,
            {name: i for i, name in enumerate(names)},
            where=f"zone {spec.id!r}: params.classes",
        )
        return cls(spec, PolygonZone.from_params(spec.params, ids), names)

    @property
    def node_id(self) -> str:
        return self._spec.id

    async def start(self) -> None:
        return None

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        frame_wh = (packet.frame.width, packet.frame.height)
        mask = self.zone.trigger(packet.detections, frame_wh)
        return replace(packet.with_detections(packet.detections.filter(mask)), zone_id=self.node_id)

    async def stop(self) -> None:
        return None
