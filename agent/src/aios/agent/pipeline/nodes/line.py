"""``line``: marks tracked detections crossing a directed line, and counts them.

Each stream reaching the node has its own :class:`LineZone`: track ids are per stream, so the
side each track was last seen on, and the in/out counts, are kept per stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from aios.agent.analytics.lines import LineZone
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
from aios.shared.pipeline import LineNode


class LineRuntime(Lifecycle):
    kind: ClassVar[str] = "line"

    def __init__(
        self,
        spec: LineNode,
        class_ids: frozenset[int] | None,
        names: Sequence[str],
        lost_buffer_s: float | None = None,
    ) -> None:
        self._spec = spec
        self._lines = PerStream(lambda: LineZone.from_params(spec.params, class_ids))
        self.names = names
        self.lost_buffer_s = lost_buffer_s
        """How long the upstream tracker keeps a lost track."""

    @classmethod
    def build(
        cls, spec: LineNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> LineRuntime:
        names = first_names(upstream)
        ids = class_ids_of(spec, spec.params.classes, names)
        LineZone.from_params(spec.params, ids)  # a bad line fails at build
        lost = upstream_lost_buffer_s(upstream)
        return cls(spec, ids, names, lost)

    @property
    def node_id(self) -> str:
        return self._spec.id

    def line(self, stream_id: str) -> LineZone:
        """The line of one stream (created on its first frame)."""
        return self._lines.get(stream_id)

    @property
    def counts(self) -> dict[str, tuple[int, int]]:
        """``(in, out)`` crossings so far, per stream."""
        return {sid: (line.in_count, line.out_count) for sid, line in self._lines.items()}

    async def start(self) -> None:
        self._lines.clear()

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        crossed_in, crossed_out = self.line(packet.stream_id).trigger(
            packet.detections, (packet.frame.width, packet.frame.height)
        )
        return replace(packet, crossed_in=crossed_in, crossed_out=crossed_out, line_id=self.node_id)
