"""The WebSocket messages round-trip and carry their tag and version."""

from __future__ import annotations

import msgspec
import pytest

from aios.shared.live import (
    LIVE_SCHEMA_VERSION,
    DeviceStatusUpdate,
    EventSummary,
    LiveMessage,
    NewEvent,
    PipelineStatusUpdate,
)

MESSAGES: list[LiveMessage] = [
    DeviceStatusUpdate(
        org_id="o",
        device_id="d",
        status="OFF",
        timestamp=1.0,
        presence="offline",
        previous="online",
        reason="lwt",
        changed_at=1.0,
    ),
    NewEvent(
        org_id="o",
        event=EventSummary(
            id="e",
            event_type="intrusion",
            severity="critical",
            device_id="d",
            stream_id="s",
            phase="start",
            timestamp=2.0,
        ),
        device_id="d",
        event_id="e",
        stream_id="s",
        event_type="intrusion",
        severity="critical",
        phase="start",
        ts=2.0,
    ),
    PipelineStatusUpdate(
        org_id="o",
        device_id="d",
        pipeline_id="p",
        deployment_id="x",
        version=3,
        status="active",
        deployment_status="applied",
    ),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_round_trip(message: LiveMessage) -> None:
    data = msgspec.json.encode(message)
    raw = msgspec.json.decode(data)
    assert raw["v"] == LIVE_SCHEMA_VERSION
    assert raw["type"] in {"device_status_update", "new_event", "pipeline_status_update"}
    assert msgspec.json.decode(data, type=LiveMessage) == message


def test_unknown_fields_are_ignored() -> None:
    data = b'{"type":"new_event","org_id":"o","device_id":"d","event_id":"e","stream_id":"s",'
    data += b'"event":{"id":"e","event_type":"x","severity":"info","device_id":"d",'
    data += b'"stream_id":"s","phase":"instant","timestamp":1,"later":1},'
    data += b'"event_type":"x","severity":"info","phase":"instant","ts":1,"future":true}'
    assert isinstance(msgspec.json.decode(data, type=LiveMessage), NewEvent)
