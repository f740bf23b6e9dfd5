"""Builders of real wire messages for the control-plane tests."""

from __future__ import annotations

import time

from aios.controlplane.mqtt.subscriber import Inbound
from aios.shared.codec import encode
from aios.shared.messages import Detection, DetectionBatch, FrameDetections, Heartbeat
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
    device_id: str, seq: int, *, objects: int = 2, stream_id: str = "cam1", ts: float | None = None
) -> bytes:
    ts = time.time() if ts is None else ts
    dets = [
        Detection(
            class_id=0 if i % 2 == 0 else 2,
            label="person" if i % 2 == 0 else "car",
            confidence=0.9 - i * 0.01,
            xyxy=(0.1, 0.2, 0.3 + i * 0.01, 0.4),
            track_id=i,
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
