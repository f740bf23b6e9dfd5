"""``line``: marks tracked detections crossing a directed line, and counts them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from aios.agent.analytics.classes import resolve_class_ids
from aios.agent.analytics.lines import LineZone
from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, first_names
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import LineNode, Node


class LineRuntime:
    kind: ClassVar[str] = "line"

    def __init__(self, spec: LineNode, line: LineZone, names: Sequence[str]) -> None:
        self._spec = spec
        self.line = line
        self.names = names

    @classmethod
    def build(cls, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> LineRuntime:
        if not isinstance(spec, LineNode):
            raise ConfigError(f"node {spec.id!r} is not a line node")
        names = first_names(upstream)
        ids = resolve_class_ids(
            spec.params.classes,
            {name: i for i, name in enumerate(names)},
            where=f"line {spec.id!r}: params.classes",
        )
        return cls(spec, LineZone.from_params(spec.params, ids), names)

    @property
    def node_id(self) -> str:
        return self._spec.id

    async def start(self) -> None:
        self.line.reset()

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        crossed_in, crossed_out = self.line.trigger(
            packet.detections, (packet.frame.width, packet.frame.height)
        )
        return replace(packet, crossed_in=crossed_in, crossed_out=crossed_out, line_id=self.node_id)

    async def stop(self) -> None:
        return None
