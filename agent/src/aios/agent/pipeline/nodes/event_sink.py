"""``sink`` with ``kind: mqtt_events``: the events of the rules upstream, over the transport.

An episode's snapshot is taken when it starts (or when an instant event fires) and referenced
again by its updates and its end; the keys of the episodes still open are remembered (at most
:data:`MAX_OPEN_SNAPSHOTS`, the oldest forgotten first). When the pipeline stops, the ends of the
episodes the rules still had open reach this node through ``stop`` and are sent too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from aios.agent.analytics.rules import RuleEvent
from aios.agent.pipeline.node import BuildContext, Lifecycle, RuntimeNode, StreamEvent, first_names
from aios.agent.pipeline.nodes.rule import RuleRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.recent import RecentMap
from aios.shared.messages import Event
from aios.shared.pipeline import SinkNode

MAX_OPEN_SNAPSHOTS = 4096
"""Snapshot keys kept for episodes not yet ended (an end that never comes cannot pin memory)."""


class EventSinkRuntime(Lifecycle):
    kind: ClassVar[str] = "sink"

    def __init__(
        self,
        spec: SinkNode,
        ctx: BuildContext,
        names: Sequence[str],
        rules: Sequence[RuleRuntime] = (),
    ) -> None:
        self._spec = spec
        self._ctx = ctx
        self.names = names
        self._snapshot_rules = {r.node_id: r for r in rules if r.snapshot}
        self._snapshot_keys: RecentMap[str, str] = RecentMap(MAX_OPEN_SNAPSHOTS)

    @classmethod
    def build(
        cls, spec: SinkNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> EventSinkRuntime:
        rules = [n for n in upstream if isinstance(n, RuleRuntime)]
        return cls(spec, ctx, first_names(upstream), rules)

    @property
    def node_id(self) -> str:
        return self._spec.id

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        for packet in inputs:
            for event in packet.events:
                self._send(packet.stream_id, event, self._snapshot(packet, event))
        return None

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        for said in ending:
            self._send(said.stream_id, said.event, self._snapshot_keys.pop(said.event.event_id))
        return ()

    def _snapshot(self, packet: Packet, event: RuleEvent) -> str | None:
        """The snapshot key of ``event``: taken when an episode starts (or an instant event
        fires), referenced again by its updates and its end."""
        if event.phase == "update":
            return self._snapshot_keys.get(event.event_id)
        if event.phase == "end":
            return self._snapshot_keys.pop(event.event_id)
        uploader = self._ctx.snapshots
        rule = self._snapshot_rules.get(event.rule_id)
        if uploader is None or rule is None:
            return None
        key = uploader.submit(
            event.event_id,
            packet.frame.image,
            packet.detections,
            zones=rule.zones(packet.stream_id),
            labels=packet.names or self.names,
        )
        if key is not None and event.phase == "start":
            self._snapshot_keys[event.event_id] = key
        return key

    def _send(self, stream_id: str, event: RuleEvent, snapshot: str | None) -> None:
        self._ctx.transport.send(
            Event(
                id=event.event_id,
                event_type=event.event_type,
                severity=event.severity,
                device_id=self._ctx.device_id,
                stream_id=stream_id,
                ts=event.ts,
                phase=event.phase,
                rule_id=event.rule_id,
                zone_id=event.zone_id,
                line_id=event.line_id,
                track_ids=list(event.track_ids),
                attributes=dict(event.attributes),
                pipeline_version=self._ctx.pipeline_version,
                snapshot=snapshot,
            )
        )
