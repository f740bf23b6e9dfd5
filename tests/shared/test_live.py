"""The seed's keys in the WebSocket messages and the pipeline activity they report (the round
trip of every live message, with its tag and version, is in ``test_contract``)."""

from __future__ import annotations

import msgspec
import pytest

from aios.shared.live import LiveMessage, NewEvent, pipeline_activity
from tests.shared.test_contract import LIVE_SAMPLES


def test_new_event_carries_the_seed_object_and_the_flat_keys() -> None:
    (event,) = [m for m in LIVE_SAMPLES if isinstance(m, NewEvent)]
    raw = msgspec.json.decode(msgspec.json.encode(event))
    assert {k: raw["event"][k] for k in ("id", "event_type", "severity")} == {
        "id": raw["event_id"],
        "event_type": raw["event_type"],
        "severity": raw["severity"],
    }
    assert raw["event"]["timestamp"] == raw["ts"]


ACTIVITY = {
    "active": ("applying", "applied"),
    "error": ("rejected", "failed", "rolled_back"),
    "inactive": ("pending", "waiting", "cancelled", "superseded"),
}


@pytest.mark.parametrize(
    ("deployment_status", "status"),
    [(each, status) for status, statuses in ACTIVITY.items() for each in statuses],
)
def test_pipeline_activity(deployment_status: str, status: str) -> None:
    assert pipeline_activity(deployment_status) == status


def test_unknown_fields_are_ignored() -> None:
    data = b'{"type":"new_event","org_id":"o","device_id":"d","event_id":"e","stream_id":"s",'
    data += b'"event":{"id":"e","event_type":"x","severity":"info","device_id":"d",'
    data += b'"stream_id":"s","phase":"instant","timestamp":1,"later":1},'
    data += b'"event_type":"x","severity":"info","phase":"instant","ts":1,"future":true}'
    assert isinstance(msgspec.json.decode(data, type=LiveMessage), NewEvent)
