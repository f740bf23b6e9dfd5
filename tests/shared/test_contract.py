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
from aios.shared.enrollment import Enrollment, EnrollRequest, HardwareFacts, MqttCredentials
from aios.shared.live import (
    LIVE_SCHEMA_VERSION,
    DeviceHeartbeat,
    DeviceStatusUpdate,
    EventAcknowledged,
    EventSummary,
    LiveMessage,
    PipelineStatusUpdate,
    new_event,
)
from aios.shared.pipeline import decode_pipeline
from aios.shared.topics import Channel, device_client_id

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
                        class_id=5,
                        label="bus",
                        confidence=0.5,
                        xyxy=(0, 0, 1, 1),
                        track_id=17,
                        zones=["door", "lane-2"],
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
        last_seq=42,
        last_event_seq=7,
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
        seq=7,
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
    m.IngestAck(
        device_id="dev-1",
        ts=1_700_000_005.0,
        detections=m.SeqAck(first=0, contiguous=40, upto=42, missing=[(41, 41)]),
        events=m.SeqAck(first=0, contiguous=7, upto=7),
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
        (b'{"type": "status", "device_id": "d\\n", "state": "online"}', RejectReason.WRONG_SCHEMA),
        (b'{"type": "status", "device_id": "d", "state": "asleep"}', RejectReason.WRONG_SCHEMA),
        (b" " * (codec.DEFAULT_MAX_BYTES + 1), RejectReason.TOO_LARGE),
        (b'{"type": "event", "a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", RejectReason.TOO_DEEP),
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


def test_zones_are_optional_for_agents_that_do_not_tag_them() -> None:
    doc = json.loads(encode(SAMPLES[0]))
    untagged = doc["frames"][0]["detections"][0]
    assert "zones" not in untagged  # omitted when empty: an older control plane sees nothing new
    doc["frames"][0]["detections"][1].pop("zones")  # what an older agent sends
    result = decode_message(json.dumps(doc).encode())
    assert isinstance(result, m.DetectionBatch)
    assert [d.zones for d in result.frames[0].detections] == [[], []]


@pytest.mark.parametrize(
    "zones",
    [["bad zone"], [""], [f"z{i}" for i in range(m.MAX_ZONES + 1)]],
    ids=["space", "empty", "too-many"],
)
def test_zone_ids_are_bounded_identifiers(zones: list[str]) -> None:
    doc = json.loads(encode(SAMPLES[0]))
    doc["frames"][0]["detections"][0]["zones"] = zones
    result = decode_message(json.dumps(doc).encode())
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.WRONG_SCHEMA
    assert "zones" in result.detail


def test_schema_is_pinned() -> None:
    current = json.loads(msgspec.json.encode(codec.contract_schema()))
    pinned = json.loads(PINNED.read_text())
    assert current == pinned, (
        "the wire contract changed: if intended, run `uv run python -m tests.shared.pin_schema`, "
        "review the diff and bump SCHEMA_VERSION for breaking changes"
    )


# -- HTTP bodies (enrollment) and live WebSocket messages ------------------------------------

ENROLL_REQUEST = EnrollRequest(
    token="aios_enr_secret-token",
    name="jetson-01",
    hardware=HardwareFacts(
        hostname="jetson-01",
        arch="aarch64",
        os="Linux 5.15",
        cpu_count=6,
        memory_mb=7620,
        accelerator="Orin",
        agent_version="0.1.0",
    ),
)
ENROLLMENT = Enrollment(
    device_id="3f2a9c",
    org_id="org-1",
    mqtt=MqttCredentials(
        url="mqtts://broker.example:8883",
        username="3f2a9c@org-1",
        password="aios_dev_very-secret",
        topic_prefix="aios",
    ),
)
HTTP_BODIES: list[EnrollRequest | Enrollment] = [ENROLL_REQUEST, ENROLLMENT]
EVENT = EventSummary(
    id="e-1", event_type="intrusion", severity="critical", device_id="dev-1", stream_id="cam",
    phase="start", timestamp=1_700_000_001.0, snapshot_url="/api/v1/dashboard/events/e-1/snapshot",
)  # fmt: skip
LIVE_SAMPLES: list[LiveMessage] = [
    DeviceStatusUpdate(
        org_id="org-1",
        device_id="dev-1",
        status="OFF",
        timestamp=1_700_000_000.0,
        presence="offline",
        previous="online",
        reason="missed heartbeats",
        changed_at=1_700_000_000.0,
    ),
    new_event("org-1", EVENT),
    PipelineStatusUpdate(
        org_id="org-1",
        device_id="dev-1",
        pipeline_id="p-1",
        deployment_id=None,
        version=4,
        status="error",
        deployment_status="rolled_back",
        error="camera 'cam' did not open",
    ),
    EventAcknowledged(
        org_id="org-1",
        device_id="dev-1",
        event_id="e-1",
        user_id="u-1",
        user_name="Olivia Owner",
        acknowledged_at=1_700_000_002.0,
    ),
    DeviceHeartbeat(
        org_id="org-1",
        device_id="dev-1",
        received_at=1_700_000_001.5,
        heartbeat=next(s for s in SAMPLES if isinstance(s, m.Heartbeat)),
    ),
]


@pytest.mark.parametrize("body", HTTP_BODIES, ids=lambda b: type(b).__name__)
def test_http_bodies_round_trip_and_ignore_unknown_fields(
    body: EnrollRequest | Enrollment,
) -> None:
    data = msgspec.json.encode(body)
    assert json.loads(data)["v"] == m.SCHEMA_VERSION
    assert msgspec.json.decode(data, type=type(body)) == body
    doc = json.loads(data)
    doc["added_in_a_later_release"] = {"nested": [1]}
    doc["hardware" if isinstance(body, EnrollRequest) else "mqtt"]["later"] = True
    assert msgspec.json.decode(json.dumps(doc).encode(), type=type(body)) == body


def test_enrollment_secrets_stay_out_of_reprs() -> None:
    assert ENROLL_REQUEST.token not in repr(ENROLL_REQUEST)
    assert ENROLLMENT.mqtt.password not in repr(ENROLLMENT)
    assert ENROLLMENT.mqtt.username in repr(ENROLLMENT)


@pytest.mark.parametrize(
    ("path", "value"),
    [(("token",), ""), (("hardware", "hostname"), ""), (("hardware", "cpu_count"), -1)],
    ids=["empty-token", "empty-hostname", "negative-cpus"],
)
def test_enroll_request_is_validated(path: tuple[str, ...], value: object) -> None:
    doc = json.loads(msgspec.json.encode(ENROLL_REQUEST))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(msgspec.ValidationError, match=path[-1]):
        msgspec.json.decode(json.dumps(doc).encode(), type=EnrollRequest)


@pytest.mark.parametrize("msg", LIVE_SAMPLES, ids=lambda s: type(s).__name__)
def test_live_messages_round_trip(msg: LiveMessage) -> None:
    data = msgspec.json.encode(msg)
    doc = json.loads(data)
    assert doc["v"] == LIVE_SCHEMA_VERSION == 2
    assert doc["type"] == type(msg).__struct_config__.tag
    assert doc["org_id"] == "org-1"
    assert msgspec.json.decode(data, type=LiveMessage) == msg
    doc["added_in_a_later_release"] = 1
    assert msgspec.json.decode(json.dumps(doc).encode(), type=LiveMessage) == msg


def test_contract_schema_covers_http_bodies_and_live_messages() -> None:
    schema = codec.contract_schema()
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    for name in ("EnrollRequest", "Enrollment", "MqttCredentials", "HardwareFacts"):
        assert name in defs
    for name in (
        "DeviceStatusUpdate",
        "NewEvent",
        "PipelineStatusUpdate",
        "EventAcknowledged",
        "DeviceHeartbeat",
    ):
        assert name in defs


def test_device_client_ids_are_unambiguous() -> None:
    assert device_client_id("a-b", "c") != device_client_id("a", "b-c")
    assert device_client_id("org-1", "dev-1") == "aios:org-1:dev-1"
