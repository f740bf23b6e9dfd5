"""``line``: marks tracked detections crossing a directed line, and counts them.

Each stream reaching the node has its own :class:`LineZone`: track ids are per stream, so the
side each track was last seen on, and the in/out counts, are kept per stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from aios.agent.analytics.lines import LineZone
from aios.agent.pipeline.nodes.region import RegionRuntime
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import LineNode


class LineRuntime(RegionRuntime[LineNode, LineZone]):
    kind: ClassVar[str] = "line"

    @staticmethod
    def make_region(spec: LineNode, class_ids: frozenset[int] | None) -> LineZone:
        return LineZone.from_params(spec.params, class_ids)

    @property
    def counts(self) -> dict[str, tuple[int, int]]:
        """``(in, out)`` crossings so far, per stream."""
        return {sid: (line.in_count, line.out_count) for sid, line in self._regions.items()}

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        crossed_in, crossed_out = self.region(packet.stream_id).trigger(
            packet.detections, (packet.frame.width, packet.frame.height)
        )
        return replace(packet, crossed_in=crossed_in, crossed_out=crossed_out, line_id=self.node_id)
