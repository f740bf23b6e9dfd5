"""The wire contract: every message round-trips, the decoder never raises, and the JSON schema
is pinned so that a breaking change fails here on purpose.

To accept an intended contract change: ``uv run python -m tests.shared.pin_schema`` rewrites
the pinned file; review the diff like any other API change (and bump SCHEMA_VERSION if old
peers cannot read the new messages).
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from aios.shared import codec
from aios.shared import messages as m
from aios.shared.codec import Rejection, RejectReason, decode_message, encode
from aios.shared.pipeline import decode_pipeline
from aios.shared.topics import Channel

PINNED = Path(__file__).parent / "data" / "contract_schema.json"

SPEC = decode_pipeline(
    {
        "name": "p",
        "nodes": [
            {"id": "cam", "type": "source", "params": {"kind": "rtsp", "uri": "rtsp://cam/1"}},
            {"id": "det", "type": "detect"},
            {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
        ],
        "edges": [{"source": "cam", "target": "det"}, {"source": "det", "target": "out"}],
    }
)

SAMPLES: list[m.Message] = [
    m.DetectionBatch(
        device_id="dev-1",
        stream_id="cam",
        pipeline_version=3,
        seq=42,
        model="yolov8n",
        frames=[
            m.FrameDetections(
                ts=1_700_000_000.25,
                frame_index=7,
                width=1920,
                height=1080,
                detections=[
                    m.Detection(
                        class_id=0, label="person", confidence=0.91, xyxy=(0.1, 0.2, 0.3, 0.9)
                    ),
                    m.Detection(
                        class_id=5, label="bus", confidence=0.5, xyxy=(0, 0, 1, 1), track_id=17
                    ),
                ],
            ),
            m.FrameDetections(
                ts=1_700_000_000.5, frame_index=8, width=1920, height=1080, detections=[]
            ),
        ],
    ),
    m.Heartbeat(
        device_id="dev-1",
        ts=1_700_000_001.0,
        uptime_s=12.5,
        agent_version="0.1.0",
        pipeline_id="p1",
        pipeline_version=3,
        provider="CPUExecutionProvider",
        cpu_percent=55.0,
        mem_rss_mb=210.0,
        temperature_c=51.5,
        inference_ms_p50=38.0,
        inference_ms_p95=45.0,
        spool_depth=3,
        streams=[m.StreamHealth(stream_id="cam", state="streaming", fps=24.9, frames_dropped=2)],
    ),
    m.Event(
        id="0b7e6c1d2f",
        event_type="intrusion_detected",
        severity="critical",
        device_id="dev-1",
        stream_id="cam",
        ts=1_700_000_002.0,
        phase="start",
        rule_id="r1",
        zone_id="door",
        track_ids=[17],
        attributes={"count": 2, "label": "person", "dwell_s": 31.5, "armed": True},
        snapshot="snapshots/0b7e6c1d2f.jpg",
    ),
    m.DeviceStatus(device_id="dev-1", state="offline", reason="last_will"),
    m.PipelineConfig(pipeline_id="p1", version=4, spec=SPEC, issued_at=1_700_000_003.0),
    m.PipelineReport(
        device_id="dev-1",
        pipeline_id="p1",
        version=4,
        status="rolled_back",
        ts=1_700_000_004.0,
        error="camera 'cam' did not open",
        active_version=3,
    ),
]


def test_samples_cover_every_message_type() -> None:
    assert {m.message_type(s) for s in SAMPLES} == set(m.MESSAGE_TYPES)


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda s: m.message_type(s))
def test_round_trip(msg: m.Message) -> None:
    data = encode(msg)
    assert json.loads(data)["v"] == m.SCHEMA_VERSION
    assert json.loads(data)["type"] == m.message_type(msg)
    channel = codec.channel_for(msg)
    assert decode_message(data, channel=channel) == msg


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda s: m.message_type(s))
def test_unknown_fields_from_a_newer_peer_are_ignored(msg: m.Message) -> None:
    doc = json.loads(encode(msg))
    doc["added_in_a_later_release"] = {"nested": [1, 2, 3]}
    assert decode_message(json.dumps(doc).encode()) == msg


def test_detection_batch_on_the_heartbeat_channel_is_rejected() -> None:
    result = decode_message(encode(SAMPLES[0]), channel=Channel.HEARTBEAT)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.WRONG_CHANNEL


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", RejectReason.NOT_JSON),
        (b"\xff\xfe binary", RejectReason.NOT_JSON),
        (b"[1, 2]", RejectReason.WRONG_SCHEMA),
        (b'{"no_type": 1}', RejectReason.WRONG_SCHEMA),
        (b'{"type": "telemetry_v9"}', RejectReason.UNKNOWN_TYPE),
        (b'{"type": "heartbeat", "v": 2, "whatever": true}', RejectReason.FUTURE_VERSION),
        (b'{"type": "heartbeat", "device_id": "d"}', RejectReason.WRONG_SCHEMA),
        (b'{"type": "status", "device_id": "a/b", "state": "online"}', RejectReason.WRONG_SCHEMA),
        (b'{"type": "status", "device_id": "d", "state": "asleep"}', RejectReason.WRONG_SCHEMA),
        (b" " * (codec.DEFAULT_MAX_BYTES + 1), RejectReason.TOO_LARGE),
    ],
)
def test_bad_bytes_are_rejected_with_a_reason(data: bytes, reason: RejectReason) -> None:
    result = decode_message(data)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert result.detail


@pytest.mark.parametrize(
    "xyxy", [(0.1, 0.2, 1.2, 0.9), (-0.1, 0.2, 0.3, 0.9)], ids=["above-one", "negative"]
)
def test_boxes_must_be_normalized(xyxy: tuple[float, ...]) -> None:
    doc = json.loads(encode(SAMPLES[0]))
    doc["frames"][0]["detections"][0]["xyxy"] = list(xyxy)
    result = decode_message(json.dumps(doc).encode())
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.WRONG_SCHEMA
    assert "xyxy" in result.detail


def test_schema_is_pinned() -> None:
    current = json.loads(msgspec.json.encode(codec.contract_schema()))
    pinned = json.loads(PINNED.read_text())
    assert current == pinned, (
        "the wire contract changed: if intended, run `uv run python -m tests.shared.pin_schema`, "
        "review the diff and bump SCHEMA_VERSION for breaking changes"
    )
