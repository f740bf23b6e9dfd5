"""``zone``: keeps the detections standing inside (or outside) a polygon.

The polygon is the same for every stream that reaches the node, but each stream has its own
:class:`PolygonZone` (so its own current count): a zone downstream of a multi-source detect
node counts each camera separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.zones import PolygonZone
from aios.agent.pipeline.node import (
    BuildContext,
    Lifecycle,
    RuntimeNode,
    class_ids_of,
    first_names,
    upstream_lost_buffer_s,
)
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.per_stream import PerStream
from aios.shared.pipeline import ZoneNode


class ZoneRuntime(Lifecycle):
    kind: ClassVar[str] = "zone"

    def __init__(
        self,
        spec: ZoneNode,
        class_ids: frozenset[int] | None,
        names: Sequence[str],
        lost_buffer_s: float | None = None,
    ) -> None:
        self._spec = spec
        self._zones = PerStream(lambda: PolygonZone.from_params(spec.params, class_ids))
        self._shape = PolygonZone.from_params(spec.params, class_ids)  # stateless membership
        self.names = names
        self.lost_buffer_s = lost_buffer_s
        """How long the upstream tracker keeps a lost track (``None``: untracked input)."""

    @classmethod
    def build(
        cls, spec: ZoneNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> ZoneRuntime:
        names = first_names(upstream)
        ids = class_ids_of(spec, spec.params.classes, names)
        PolygonZone.from_params(spec.params, ids)  # a bad polygon fails at build
        lost = upstream_lost_buffer_s(upstream)
        return cls(spec, ids, names, lost)

    @property
    def node_id(self) -> str:
        return self._spec.id

    def zone(self, stream_id: str) -> PolygonZone:
        """The zone of one stream (created on its first frame)."""
        return self._zones.get(stream_id)

    @property
    def counts(self) -> dict[str, int]:
        """Detections in the zone on each stream's last frame."""
        return {stream_id: zone.current_count for stream_id, zone in self._zones.items()}

    def selects(self, packet: Packet) -> npt.NDArray[np.bool_]:
        """Which of ``packet``'s detections this zone selects (no count updated): how a
        detections sink beside the zone tags each detection with its zones."""
        return self._shape.selects(packet.detections, (packet.frame.width, packet.frame.height))

    async def start(self) -> None:
        self._zones.clear()

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        frame_wh = (packet.frame.width, packet.frame.height)
        mask = self.zone(packet.stream_id).trigger(packet.detections, frame_wh)
        return replace(packet.with_detections(packet.detections.filter(mask)), zone_id=self.node_id)
