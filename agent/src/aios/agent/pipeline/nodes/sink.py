"""``sink``: detection batches (sampled, batched by frame count and time) or events, over the
transport. Boxes leave normalized to ``[0, 1]`` as the wire contract requires."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.rules import RuleEvent
from aios.agent.detections import NO_TRACK, Detections
from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, first_names
from aios.agent.pipeline.nodes.rule import RuleRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.agent.pipeline.packet import Packet
from aios.shared.messages import MAX_ZONES, Detection, DetectionBatch, Event, FrameDetections
from aios.shared.pipeline import Node, SinkNode


def wire_detections(
    detections: Detections,
    names: Sequence[str],
    width: int,
    height: int,
    zones: Sequence[tuple[str, npt.NDArray[np.bool_]]] = (),
) -> list[Detection]:
    """Detections with boxes normalized to ``[0, 1]`` of a ``width x height`` frame; each
    tagged with the ids of the ``zones`` (id, per-detection mask) that select it."""
    scale = np.array([width, height, width, height], np.float32)
    boxes = np.clip(detections.xyxy / scale, 0.0, 1.0)
    ordered = sorted(zones)[:MAX_ZONES]
    out: list[Detection] = []
    for i in range(len(detections)):
        class_id = int(detections.class_id[i])
        track = int(detections.tracker_id[i])
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        out.append(
            Detection(
                class_id=class_id,
                label=names[class_id] if 0 <= class_id < len(names) else str(class_id),
                confidence=min(1.0, max(0.0, float(detections.confidence[i]))),
                xyxy=(x1, y1, max(x1, x2), max(y1, y2)),
                track_id=None if track == NO_TRACK else track,
                zones=[zone_id for zone_id, mask in ordered if mask[i]],
            )
        )
    return out


class SinkRuntime:
    kind: ClassVar[str] = "sink"

    def __init__(
        self, spec: SinkNode, ctx: BuildContext, names: Sequence[str], rules: list[RuleRuntime]
    ) -> None:
        self._spec = spec
        self._ctx = ctx
        self.names = names
        self._rules = rules
        self._pending: dict[str, list[FrameDetections]] = {}
        self._seen: dict[str, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self.model_name: str | None = None
        self._snapshot_rules = {r.node_id: r for r in rules if r.snapshot}
        self._snapshot_keys: dict[str, str] = {}
        self._zones: dict[str, tuple[ZoneRuntime, ...]] = {}

    @classmethod
    def build(cls, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> SinkRuntime:
        if not isinstance(spec, SinkNode):
            raise ConfigError(f"node {spec.id!r} is not a sink node")
        rules = [n for n in upstream if isinstance(n, RuleRuntime)]
        return cls(spec, ctx, first_names(upstream), rules)

    @property
    def node_id(self) -> str:
        return self._spec.id

    def tag_zones(self, zones_by_stream: dict[str, tuple[ZoneRuntime, ...]]) -> None:
        """The zone nodes each stream (source id) passes through: every detection this sink
        sends is tagged with those of its stream's zones that select it (set by the runner
        once the whole graph is built)."""
        self._zones = dict(zones_by_stream)

    async def start(self) -> None:
        if self._spec.params.kind == "mqtt_detections":
            self._flusher = asyncio.create_task(
                self._flush_periodically(), name=f"sink-{self.node_id}"
            )

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        if self._spec.params.kind == "mqtt_events":
            for packet in inputs:
                for event in packet.events:
                    self._send_event(packet.stream_id, event, self._snapshot(packet, event))
            return None
        packet = inputs[0]
        seen = self._seen.get(packet.stream_id, 0)
        self._seen[packet.stream_id] = seen + 1
        if seen % self._spec.params.sample_every:
            return None
        frame = packet.frame
        pending = self._pending.setdefault(packet.stream_id, [])
        pending.append(
            FrameDetections(
                ts=frame.ts,
                frame_index=frame.index,
                width=frame.width,
                height=frame.height,
                detections=wire_detections(
                    packet.detections,
                    packet.names or self.names,
                    frame.width,
                    frame.height,
                    [(z.node_id, z.selects(packet)) for z in self._zones.get(packet.stream_id, ())],
                ),
            )
        )
        if len(pending) >= self._spec.params.max_frames_per_batch:
            self._flush(packet.stream_id)
        return None

    def _flush(self, stream_id: str) -> None:
        frames = self._pending.pop(stream_id, [])
        if not frames:
            return
        self._ctx.transport.send(
            DetectionBatch(
                device_id=self._ctx.device_id,
                stream_id=stream_id,
                pipeline_version=self._ctx.pipeline_version,
                seq=0,  # assigned by the transport, persistently
                frames=frames,
                model=self.model_name,
            )
        )

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._spec.params.flush_interval_s)
            for stream_id in list(self._pending):
                self._flush(stream_id)

    def _snapshot(self, packet: Packet, event: RuleEvent) -> str | None:
        """The snapshot key of ``event``: taken when an episode starts (or an instant event
        fires), referenced again by its updates and its end."""
        if event.phase in ("update", "end"):
            key = self._snapshot_keys.get(event.event_id)
            if event.phase == "end":
                self._snapshot_keys.pop(event.event_id, None)
            return key
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

    def _send_event(self, stream_id: str, event: RuleEvent, snapshot: str | None = None) -> None:
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

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        for stream_id in list(self._pending):
            self._flush(stream_id)
        if self._spec.params.kind == "mqtt_events":
            for rule in self._rules:
                for stream_id, event in rule.closing_events:
                    key = self._snapshot_keys.pop(event.event_id, None)
                    self._send_event(stream_id, event, key)
                rule.closing_events = []
