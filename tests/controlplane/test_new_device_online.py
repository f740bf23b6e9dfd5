"""A newly enrolled device coming online is told on the WebSocket within 20 s.

The device is a third party's: it enrolls through the API, then speaks MQTT by itself (no
``aios-agent``), publishing its retained ``online`` status and a heartbeat, as the contract
says. The control plane runs with its default presence settings (5 s debounce), on a real
Mosquitto and on each database backend, in two shapes: one process (``aios serve`` with its
ingest), and the scaled-out one, where the device's messages reach an ``aios ingest`` replica
and the process that runs the jobs hears none of them (with several ingest replicas sharing
the subscription, a device's status and first heartbeat may all go to another replica). The
second shape used to announce nothing, ever: presence only listened to its own process's
ingest.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.db.engine import create_engine
from aios.controlplane.telemetry.ingest import IngestService
from aios.shared.codec import encode
from aios.shared.messages import DeviceStatus
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import Publisher, make_settings, register_and_login
from tests.controlplane.messages import heartbeat

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

DEADLINE_S = 20.0


def live_settings(tmp_path: Path, database_url: str, mqtt_url: str, prefix: str, **env: str) -> Any:
    """Settings of a control plane on a real broker, taking enrolled devices only."""
    return make_settings(
        tmp_path,
        AIOS_DATABASE_URL=database_url,
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=prefix,
        AIOS_AUTO_REGISTER_DEVICES="false",  # production's default: only enrolled devices
        **env,
    )


async def enroll_third_party(client: AsyncTestClient[Any]) -> tuple[str, str, str]:
    """A new organization (signed in on ``client``) and a device enrolled in it: the org id,
    the access token and the device id."""
    org = await register_and_login(client)
    token = client.headers["Authorization"].removeprefix("Bearer ")
    issued = await client.post("/api/v1/fleet/enrollment-tokens", json={"name": "third party"})
    assert issued.status_code == 201, issued.text
    enrolled = await client.post(
        "/api/v1/fleet/enroll",
        json={"token": issued.json()["token"], "hardware": {"hostname": "cam-box"}},
    )
    assert enrolled.status_code == 201, enrolled.text
    return org, token, str(enrolled.json()["device_id"])


@pytest.fixture(params=["one process", "separate ingest"])
async def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_url: str,
    engine: AsyncEngine,
    mqtt_url: str,
    topic_prefix: str,
) -> AsyncIterator[AsyncTestClient[Any]]:
    def settings(role: str) -> Any:
        return live_settings(tmp_path / role, database_url, mqtt_url, topic_prefix)

    if request.param == "one process":
        async with AsyncTestClient(app=create_app(settings("serve"), run_ingest=True)) as client:
            yield client
        return
    replica = settings("ingest")  # `aios ingest`: the only one hearing the device
    ingest = IngestService(replica, create_engine(replica))
    await ingest.start()
    try:
        api_and_jobs = create_app(settings("serve"), run_ingest=False)
        async with AsyncTestClient(app=api_and_jobs) as client:
            yield client
    finally:
        await ingest.stop()
        await ingest.store.engine.dispose()


async def status_updates(ws: WebSocketTestSession, device_id: str, timeout: float) -> list[Any]:
    """Every ``device_status_update`` of ``device_id`` heard within ``timeout`` seconds, up to
    the first one saying it is online."""
    heard: list[Any] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await asyncio.to_thread(ws.receive_json, timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if msg.get("type") == "device_status_update" and msg.get("device_id") == device_id:
            heard.append(msg)
            if msg.get("status") == "ON":
                break
    return heard


async def test_an_enrolled_device_coming_online_is_announced_within_20_s(
    client: AsyncTestClient[Any], mosquitto_publisher: Publisher, topic_prefix: str
) -> None:
    org, token, device = await enroll_third_party(client)

    ws = await client.websocket_connect(f"/api/v1/ws?token={token}")
    with ws:
        await asyncio.sleep(1.0)  # the hub starts polling from the newest message
        started = time.monotonic()
        status = encode(DeviceStatus(device_id=device, state="online", ts=time.time()))
        mosquitto_publisher.client.publish(
            build_topic(org, device, Channel.STATUS, prefix=topic_prefix), status, 1, retain=True
        ).wait_for_publish(10)
        mosquitto_publisher.publish(
            build_topic(org, device, Channel.HEARTBEAT, prefix=topic_prefix), heartbeat(device)
        )
        heard = await status_updates(ws, device, DEADLINE_S)
        took = time.monotonic() - started

    assert heard, f"no device_status_update for {device} within {DEADLINE_S:g} s"
    last = heard[-1]
    assert (last["status"], last["presence"]) == ("ON", "online"), heard
    assert took < DEADLINE_S
    fleet = (await client.get(f"/api/v1/fleet/{device}")).json()
    assert fleet["status"] == "online"
