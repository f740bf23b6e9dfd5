"""``rule``: turns zone, line or detection state into events (see :mod:`analytics.rules`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from aios.agent.analytics.classes import resolve_class_ids
from aios.agent.analytics.rules import Rule, RuleEvent, RuleInput, build_rule
from aios.agent.analytics.zones import PolygonZone
from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, first_names
from aios.agent.pipeline.nodes.line import LineRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import Node, RuleNode


class RuleRuntime:
    kind: ClassVar[str] = "rule"

    def __init__(
        self,
        spec: RuleNode,
        rule: Rule,
        names: Sequence[str],
        zones: Sequence[PolygonZone] = (),
    ) -> None:
        self._spec = spec
        self.rule = rule
        self.names = names
        self.zones = tuple(zones)
        """The zones upstream of the rule, drawn on its snapshots."""
        self.closing_events: list[RuleEvent] = []

    @property
    def snapshot(self) -> bool:
        """Whether this rule's events carry a JPEG snapshot."""
        return self._spec.params.snapshot

    @classmethod
    def build(cls, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> RuleRuntime:
        if not isinstance(spec, RuleNode):
            raise ConfigError(f"node {spec.id!r} is not a rule node")
        names = first_names(upstream)
        ids = resolve_class_ids(
            spec.params.classes,
            {name: i for i, name in enumerate(names)},
            where=f"rule {spec.id!r}: params.classes",
        )
        zone_id = next((n.node_id for n in upstream if isinstance(n, ZoneRuntime)), None)
        line_id = next((n.node_id for n in upstream if isinstance(n, LineRuntime)), None)
        rule = build_rule(spec.id, spec.params, ids, zone_id=zone_id, line_id=line_id)
        zones = [n.zone for n in upstream if isinstance(n, ZoneRuntime)]
        return cls(spec, rule, names, zones)

    @property
    def node_id(self) -> str:
        return self._spec.id

    async def start(self) -> None:
        return None

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        # A line input carries the crossings; otherwise the first input is the scope.
        packet = next((p for p in inputs if p.crossed_in is not None), inputs[0])
        events = self.rule.evaluate(
            RuleInput(
                ts=packet.frame.ts,
                detections=packet.detections,
                crossed_in=packet.crossed_in,
                crossed_out=packet.crossed_out,
            )
        )
        return replace(packet, events=tuple(events))

    async def stop(self) -> None:
        self.closing_events = self.rule.close(time.time())
