"""A dashboard written against the seed's documented WebSocket contract works unchanged.

The client below knows only the seed's keys and value domains (strict msgspec Structs: a
missing key, a renamed one or a value outside its domain fails to decode; extra keys are
allowed, as the seed allows). It connects to ``/api/v1/ws`` and parses every message it
receives while a device, enrolled through the API and speaking MQTT itself, goes online,
raises an event, gets a deployment (reporting ``applying`` then ``applied``) and goes offline
(its last will), against the real ingest, presence and Mosquitto.
"""

from __future__ import annotations

import asyncio
import queue
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.shared.codec import encode
from aios.shared.messages import DeviceStatus, Event, PipelineReport
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import Publisher
from tests.controlplane.messages import heartbeat
from tests.controlplane.test_new_device_online import enroll_third_party, live_settings

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

# --- the seed's contract, and nothing else -------------------------------------------------


class SeedDeviceStatus(msgspec.Struct, tag="device_status_update", tag_field="type"):
    device_id: str
    status: Literal["ON", "OFF", "WARNING"]
    timestamp: float


class SeedEvent(msgspec.Struct):
    id: str
    event_type: str
    severity: str


class SeedNewEvent(msgspec.Struct, tag="new_event", tag_field="type"):
    event: SeedEvent


class SeedPipelineStatus(msgspec.Struct, tag="pipeline_status_update", tag_field="type"):
    pipeline_id: str
    status: Literal["active", "inactive", "error"]


SeedMessage = SeedDeviceStatus | SeedNewEvent | SeedPipelineStatus
SEED_TYPES = {"device_status_update", "new_event", "pipeline_status_update"}

# --------------------------------------------------------------------------------------------

T = TypeVar("T", bound=SeedMessage)


class SeedClient:
    """Reads the socket; every seed-typed message must decode strictly, or the test fails."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.parsed: list[SeedMessage] = []

    async def wait_for(self, kind: type[T], timeout: float = 20.0, **match: object) -> T:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.to_thread(self.ws.receive_text, timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if msgspec.json.decode(raw)["type"] not in SEED_TYPES:
                continue  # AIOS's own messages (event_acknowledged): not in the seed
            message = msgspec.json.decode(raw, type=SeedMessage, strict=True)
            self.parsed.append(message)
            if isinstance(message, kind) and all(
                getattr(message, k) == v for k, v in match.items()
            ):
                return message
        raise AssertionError(f"no {kind.__name__} {match} within {timeout:g} s: {self.parsed}")


@pytest.fixture
async def client(
    tmp_path: Path, database_url: str, engine: AsyncEngine, mqtt_url: str, topic_prefix: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = live_settings(
        tmp_path, database_url, mqtt_url, topic_prefix, AIOS_PRESENCE_DEBOUNCE_MS="500"
    )
    async with AsyncTestClient(app=create_app(settings, run_ingest=True)) as test_client:
        yield test_client


async def test_a_seed_shaped_client_parses_the_live_feed(
    client: AsyncTestClient[Any], mosquitto_publisher: Publisher, topic_prefix: str
) -> None:
    org, token, device = await enroll_third_party(client)

    def send(channel: Channel, payload: bytes, *, retain: bool = False) -> None:
        topic = build_topic(org, device, channel, prefix=topic_prefix)
        mosquitto_publisher.client.publish(topic, payload, 1, retain=retain).wait_for_publish(10)

    ws = await client.websocket_connect(f"/api/v1/ws?token={token}")
    with ws:
        seed = SeedClient(ws)
        await asyncio.sleep(1.0)  # the hub starts polling from the newest message
        started = time.time()

        # Online.
        send(Channel.STATUS, encode(DeviceStatus(device_id=device, state="online")), retain=True)
        send(Channel.HEARTBEAT, heartbeat(device))
        online = await seed.wait_for(SeedDeviceStatus, device_id=device, status="ON")
        assert started - 1 <= online.timestamp <= time.time() + 1  # Unix seconds

        # An event.
        event_id = uuid.uuid4().hex
        send(
            Channel.EVENTS,
            encode(
                Event(
                    id=event_id,
                    event_type="intrusion",
                    severity="critical",
                    device_id=device,
                    stream_id="cam",
                    ts=time.time(),
                    seq=1,
                )
            ),
        )
        event = await seed.wait_for(SeedNewEvent)
        assert (event.event.id, event.event.event_type, event.event.severity) == (
            event_id,
            "intrusion",
            "critical",
        )

        # A deployment: the device reports applying, then applied.
        spec = {
            "name": "lobby",
            "nodes": [
                {"id": "cam", "type": "source", "params": {"kind": "file", "uri": "/v.mp4"}},
                {"id": "det", "type": "detect", "params": {}},
                {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
            ],
            "edges": [{"source": "cam", "target": "det"}, {"source": "det", "target": "out"}],
        }
        pipeline = (await client.post("/api/v1/pipelines", json={"name": "p", "spec": spec})).json()
        deployed = await client.post(
            f"/api/v1/pipelines/{pipeline['id']}/execute", json={"device_ids": [device]}
        )
        assert deployed.status_code == 201, deployed.text
        for status in ("applying", "applied"):
            report = PipelineReport(
                device_id=device, pipeline_id=pipeline["id"], version=1, status=status,
                ts=time.time(), active_version=1, deployment_id=deployed.json()["id"],
            )  # fmt: skip
            send(Channel.CONFIG_REPORTED, encode(report))
            await seed.wait_for(SeedPipelineStatus, pipeline_id=pipeline["id"], status="active")

        # Offline: the last will.
        send(
            Channel.STATUS,
            encode(DeviceStatus(device_id=device, state="offline", reason="last_will")),
            retain=True,
        )
        await seed.wait_for(SeedDeviceStatus, device_id=device, status="OFF")

    kinds = {type(m) for m in seed.parsed}
    assert kinds == {SeedDeviceStatus, SeedNewEvent, SeedPipelineStatus}
