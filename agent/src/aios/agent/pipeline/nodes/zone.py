"""``zone``: keeps the detections standing inside (or outside) a polygon.

The polygon is the same for every stream that reaches the node, but each stream has its own
:class:`PolygonZone` (so its own current count): a zone downstream of a multi-source detect
node counts each camera separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.zones import PolygonZone
from aios.agent.pipeline.nodes.region import RegionRuntime
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import ZoneNode


class ZoneRuntime(RegionRuntime[ZoneNode, PolygonZone]):
    kind: ClassVar[str] = "zone"

    @staticmethod
    def make_region(spec: ZoneNode, class_ids: frozenset[int] | None) -> PolygonZone:
        return PolygonZone.from_params(spec.params, class_ids)

    @property
    def counts(self) -> dict[str, int]:
        """Detections in the zone on each stream's last frame."""
        return {stream_id: zone.current_count for stream_id, zone in self._regions.items()}

    @cached_property
    def _shape(self) -> PolygonZone:
        """The zone without state: membership only, for :meth:`selects`."""
        return self.make_region(self._spec, self._class_ids)

    def selects(self, packet: Packet) -> npt.NDArray[np.bool_]:
        """Which of ``packet``'s detections this zone selects (no count updated): how a
        detections sink beside the zone tags each detection with its zones."""
        return self._shape.selects(packet.detections, (packet.frame.width, packet.frame.height))

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        frame_wh = (packet.frame.width, packet.frame.height)
        mask = self.region(packet.stream_id).trigger(packet.detections, frame_wh)
        return replace(packet.with_detections(packet.detections.filter(mask)), zone_id=self.node_id)
