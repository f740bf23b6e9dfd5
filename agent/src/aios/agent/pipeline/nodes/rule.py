"""``rule``: turns zone, line or detection state into events (see :mod:`analytics.rules`).

Rule state (episodes, cooldowns, line counts) is kept per stream: each stream reaching the node
gets its own :class:`Rule`, so one camera's loiterer never ends another camera's episode.

When the pipeline stops, the episodes still open end: the node says so to its consumers (the
events sink) as the :class:`StreamEvent` s its ``stop`` returns.

A ``dwell`` episode ends once its track has been gone for ``clear_after_s``; that is at least
the upstream tracker's lost buffer (with a margin for its frame-rate estimate), so a person
briefly occluded, whose track the tracker finds again, stays one event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ClassVar

from aios.agent.analytics.rules import Rule, RuleInput, build_rule
from aios.agent.analytics.zones import PolygonZone
from aios.agent.pipeline.node import (
    BuildContext,
    RuntimeNode,
    StreamEvent,
    class_ids_of,
    first_names,
    upstream_lost_buffer_s,
)
from aios.agent.pipeline.nodes.line import LineRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.per_stream import PerStream
from aios.shared.pipeline import RuleNode, RuleParams

DEFAULT_CLEAR_AFTER_S = 1.0
LOST_BUFFER_MARGIN = 1.25


def clear_after_s(params: RuleParams, lost_buffer_s: float | None) -> float:
    """How long a subject must be gone before its episode ends."""
    if params.condition != "dwell" or lost_buffer_s is None:
        return DEFAULT_CLEAR_AFTER_S
    return max(DEFAULT_CLEAR_AFTER_S, lost_buffer_s * LOST_BUFFER_MARGIN)


class RuleRuntime:
    kind: ClassVar[str] = "rule"

    def __init__(
        self,
        spec: RuleNode,
        make_rule: Callable[[], Rule],
        names: Sequence[str],
        zones: Sequence[ZoneRuntime] = (),
    ) -> None:
        self._spec = spec
        self._rules = PerStream(make_rule)
        self.names = names
        self._zones = tuple(zones)

    @property
    def snapshot(self) -> bool:
        """Whether this rule's events carry a JPEG snapshot."""
        return self._spec.params.snapshot

    @classmethod
    def build(
        cls, spec: RuleNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> RuleRuntime:
        names = first_names(upstream)
        ids = class_ids_of(spec, spec.params.classes, names)
        zone_id = next((n.node_id for n in upstream if isinstance(n, ZoneRuntime)), None)
        line_id = next((n.node_id for n in upstream if isinstance(n, LineRuntime)), None)
        lost = upstream_lost_buffer_s(upstream)
        clear_after = clear_after_s(spec.params, lost)

        def make_rule() -> Rule:
            return build_rule(
                spec.id,
                spec.params,
                ids,
                zone_id=zone_id,
                line_id=line_id,
                clear_after_s=clear_after,
            )

        make_rule()  # a bad rule fails at build
        zones = [n for n in upstream if isinstance(n, ZoneRuntime)]
        return cls(spec, make_rule, names, zones)

    @property
    def node_id(self) -> str:
        return self._spec.id

    def rule(self, stream_id: str) -> Rule:
        """The rule state of one stream (created on its first frame)."""
        return self._rules.get(stream_id)

    def zones(self, stream_id: str) -> tuple[PolygonZone, ...]:
        """The zones upstream of the rule as one stream sees them, drawn on its snapshots."""
        return tuple(zone.region(stream_id) for zone in self._zones)

    async def start(self) -> None:
        self._rules.clear()

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        # A line input carries the crossings; otherwise the first input is the scope.
        packet = next((p for p in inputs if p.crossed_in is not None), inputs[0])
        events = self.rule(packet.stream_id).evaluate(
            RuleInput(
                ts=packet.frame.ts,
                detections=packet.detections,
                crossed_in=packet.crossed_in,
                crossed_out=packet.crossed_out,
            )
        )
        return replace(packet, events=tuple(events))

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        """End the episodes still open, on every stream."""
        now = time.time()
        return [
            StreamEvent(stream_id, event)
            for stream_id, rule in self._rules.items()
            for event in rule.close(now)
        ]
