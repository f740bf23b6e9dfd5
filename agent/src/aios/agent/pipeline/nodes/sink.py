"""``sink``: two nodes behind one pipeline node type, chosen once when the node is built by its
``params.kind``: :class:`DetectionSinkRuntime` (``mqtt_detections``: detection batches, sampled
and batched by frame count and time, per stream) here, and
:class:`~aios.agent.pipeline.nodes.event_sink.EventSinkRuntime` (``mqtt_events``). Boxes leave
normalized to ``[0, 1]`` as the wire contract requires."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from aios.agent.detections import NO_TRACK, Detections
from aios.agent.pipeline.node import BuildContext, RuntimeNode, StreamEvent, first_names
from aios.agent.pipeline.nodes.event_sink import EventSinkRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.per_stream import PerStream
from aios.shared.messages import MAX_ZONES, Detection, DetectionBatch, FrameDetections
from aios.shared.pipeline import SinkNode


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


def build_sink(
    spec: SinkNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
) -> DetectionSinkRuntime | EventSinkRuntime:
    """The sink node ``params.kind`` asks for."""
    if spec.params.kind == "mqtt_events":
        return EventSinkRuntime.build(spec, ctx, upstream)
    return DetectionSinkRuntime(spec, ctx, first_names(upstream))


@dataclass(slots=True)
class _Batch:
    """One stream's frames waiting to leave, and how many frames reached the sink."""

    seen: int = 0
    frames: list[FrameDetections] = field(default_factory=list)


class DetectionSinkRuntime:
    kind: ClassVar[str] = "sink"

    def __init__(self, spec: SinkNode, ctx: BuildContext, names: Sequence[str]) -> None:
        self._spec = spec
        self._ctx = ctx
        self.names = names
        self._batches = PerStream(_Batch)
        self._flusher: asyncio.Task[None] | None = None
        self.model_name: str | None = None
        self._zones: dict[str, tuple[ZoneRuntime, ...]] = {}

    @property
    def node_id(self) -> str:
        return self._spec.id

    def tag_zones(self, zones_by_stream: dict[str, tuple[ZoneRuntime, ...]]) -> None:
        """The zone nodes each stream (source id) passes through: every detection this sink
        sends is tagged with those of its stream's zones that select it (set by the runner
        once the whole graph is built)."""
        self._zones = dict(zones_by_stream)

    async def start(self) -> None:
        self._batches.clear()
        self._flusher = asyncio.create_task(self._flush_periodically(), name=f"sink-{self.node_id}")

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        batch = self._batches.get(packet.stream_id)
        batch.seen += 1
        if (batch.seen - 1) % self._spec.params.sample_every:
            return None
        frame = packet.frame
        batch.frames.append(
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
        if len(batch.frames) >= self._spec.params.max_frames_per_batch:
            self._flush(packet.stream_id, batch)
        return None

    def _flush(self, stream_id: str, batch: _Batch) -> None:
        frames, batch.frames = batch.frames, []
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

    def _flush_all(self) -> None:
        for stream_id, batch in list(self._batches.items()):
            self._flush(stream_id, batch)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._spec.params.flush_interval_s)
            self._flush_all()

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self._flush_all()
        return ()
