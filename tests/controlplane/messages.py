"""Builders of real wire messages for the control-plane tests."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.codec import encode
from aios.shared.messages import Detection, DetectionBatch, Event, FrameDetections, Heartbeat
from aios.shared.topics import Channel, build_topic


def inbound(org: str, device: str, channel: Channel, payload: bytes, mid: int = 1) -> Inbound:
    """``payload`` as the ingest receives it from ``device`` of ``org`` on ``channel``."""
    return Inbound(
        topic=build_topic(org, device, channel),
        payload=payload,
        qos=1,
        mid=mid,
        received_at=time.time(),
    )


def detection_batch(
    device_id: str,
    seq: int,
    *,
    objects: int = 2,
    stream_id: str = "cam1",
    ts: float | None = None,
    zones: Sequence[str] = (),
) -> bytes:
    ts = time.time() if ts is None else ts
    dets = [
        Detection(
            class_id=0 if i % 2 == 0 else 2,
            label="person" if i % 2 == 0 else "car",
            confidence=0.9 - i * 0.01,
            xyxy=(0.1, 0.2, 0.3 + i * 0.01, 0.4),
            track_id=i,
            zones=list(zones),
        )
        for i in range(objects)
    ]
    frame = FrameDetections(ts=ts, frame_index=seq * 10, width=640, height=480, detections=dets)
    return encode(
        DetectionBatch(
            device_id=device_id, stream_id=stream_id, pipeline_version=1, seq=seq, frames=[frame]
        )
    )


def heartbeat(device_id: str) -> bytes:
    return encode(
        Heartbeat(
            device_id=device_id,
            ts=time.time(),
            uptime_s=12.5,
            agent_version="0.1.0",
            cpu_percent=7.5,
        )
    )


async def store(
    engine: AsyncEngine,
    org_id: str,
    messages: Sequence[DetectionBatch | Heartbeat | Event],
    *,
    auto_register: bool = True,
) -> None:
    """One ingest flush of ``messages``, as received on their devices' topics under
    ``org_id``, through the real classification and store."""
    channels = {
        DetectionBatch: Channel.DETECTIONS,
        Heartbeat: Channel.HEARTBEAT,
        Event: Channel.EVENTS,
    }
    accepted = [
        classify(
            inbound(org_id, msg.device_id, channels[type(msg)], encode(msg), mid),
            prefix="aios",
            max_bytes=1 << 20,
        )
        for mid, msg in enumerate(messages)
    ]
    ok = [a for a in accepted if isinstance(a, Accepted)]
    assert ok == accepted, accepted
    await TelemetryStore(engine, auto_register=auto_register).write(ok, [])
