"""Deleting a device ends it everywhere: its live MQTT connection is cut (embedded broker,
Mosquitto with dynamic security), it cannot log in again, and its own traffic (a message in
flight, a retained status, a last will) never re-creates it through auto-registration."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.settings import EMBEDDED_SERVICE_USERNAME, Settings
from aios.shared.topics import Channel, build_topic, device_client_id
from tests.agent.http_stub import http_stub
from tests.controlplane.brokers.conftest import PrivateBroker, dynsec_settings
from tests.controlplane.brokers.probe import Probe
from tests.controlplane.conftest import (
    Publisher,
    eventually,
    make_settings,
    register_and_login,
)
from tests.controlplane.messages import heartbeat


async def _migrated(settings: Settings) -> Settings:
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    return settings


async def _enroll(client: AsyncTestClient[Any]) -> dict[str, Any]:
    token = (await client.post("/api/v1/fleet/enrollment-tokens", json={})).json()["token"]
    enrolled = await client.post(
        "/api/v1/fleet/enroll", json={"token": token, "hardware": {"hostname": "box"}}
    )
    assert enrolled.status_code == 201, enrolled.text
    body: dict[str, Any] = enrolled.json()
    return body


def _device_probe(port: int, device: dict[str, Any]) -> Probe:
    return Probe(
        port,
        device["mqtt"]["username"],
        device["mqtt"]["password"],
        client_id=device_client_id(device["org_id"], device["device_id"]),
        clean_session=False,  # as the agent connects
    )


async def _delete_cuts_the_connection(
    client: AsyncTestClient[Any], port: int, device: dict[str, Any], prefix: str
) -> None:
    org, dev = device["org_id"], device["device_id"]
    with _device_probe(port, device) as live:
        assert await asyncio.to_thread(live.connect)
        desired = build_topic(org, dev, Channel.CONFIG_DESIRED, prefix=prefix)
        assert await asyncio.to_thread(live.subscribe, desired)
        status = build_topic(org, dev, Channel.STATUS, prefix=prefix)
        await asyncio.to_thread(live.publish, status, b"online", retain=True)
        deleted = await client.delete(f"/api/v1/fleet/{dev}")
        assert deleted.status_code == 204, deleted.text
        assert await asyncio.to_thread(live.disconnected.wait, 5.0), "still connected"
    assert not await asyncio.to_thread(_device_probe(port, device).connect)


async def test_embedded_broker_cuts_a_deleted_device(tmp_path: Path, free_port: int) -> None:
    settings = await _migrated(make_settings(tmp_path, AIOS_EMBEDDED_MQTT_PORT=str(free_port)))
    async with AsyncTestClient(create_app(settings)) as client:
        await register_and_login(client)
        device = await _enroll(client)
        await _delete_cuts_the_connection(client, free_port, device, settings.mqtt_topic_prefix)
        # its retained status went with it
        service = Probe(
            free_port, EMBEDDED_SERVICE_USERNAME, settings.embedded_mqtt_service_password.get()
        )
        with service:
            assert await asyncio.to_thread(service.connect)
            status = build_topic(device["org_id"], device["device_id"], Channel.STATUS)
            assert await asyncio.to_thread(service.subscribe, status)
            assert await asyncio.to_thread(service.receive_one, 1.0) is None


@pytest.mark.mqtt
async def test_mosquitto_dynsec_cuts_a_deleted_device(
    tmp_path: Path, dynsec_broker: PrivateBroker
) -> None:
    prefix = "t" + uuid.uuid4().hex[:8]
    settings = await _migrated(dynsec_settings(tmp_path, dynsec_broker, prefix))
    async with AsyncTestClient(create_app(settings)) as client:
        await register_and_login(client)
        device = await _enroll(client)
        await _delete_cuts_the_connection(client, dynsec_broker.port, device, prefix)


@pytest.mark.mqtt
async def test_a_deleted_device_is_not_recreated_by_its_own_traffic(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, mosquitto_publisher: Publisher
) -> None:
    settings = await _migrated(
        make_settings(
            tmp_path,
            AIOS_MQTT_URL=mqtt_url,
            AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
            AIOS_AUTO_REGISTER_DEVICES="true",
            AIOS_JOBS_ENABLED="false",
        )
    )
    async with AsyncTestClient(create_app(settings)) as client:
        org = await register_and_login(client)

        def send_heartbeat(device_id: str) -> None:
            topic = build_topic(org, device_id, Channel.HEARTBEAT, prefix=topic_prefix)
            mosquitto_publisher.publish(topic, heartbeat(device_id))

        async def exists(device_id: str) -> bool:
            return (await client.get(f"/api/v1/fleet/{device_id}")).status_code == 200

        async def ingest_connected() -> bool:
            return bool(
                (await client.get("/api/v1/system/diagnostics")).json()["mqtt"]["ingest"]
                == "connected"
            )

        await eventually(ingest_connected)
        doomed, sentinel = "dev-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
        send_heartbeat(doomed)  # auto-registered from its traffic
        await eventually(lambda: exists(doomed))
        deleted = await client.delete(f"/api/v1/fleet/{doomed}")
        assert deleted.status_code == 204, deleted.text
        assert not await exists(doomed)

        send_heartbeat(doomed)  # e.g. a message that was still in flight
        send_heartbeat(sentinel)  # processed after it
        await eventually(lambda: exists(sentinel))
        assert not await exists(doomed), "the deleted device came back from its own traffic"


@pytest.mark.parametrize(("answer", "deleted_status"), [(200, 204), (404, 204), (500, 503)])
async def test_emqx_api_kicks_a_deleted_device(
    tmp_path: Path, free_port: int, answer: int, deleted_status: int
) -> None:
    """EMQX asks the control plane at connect time; a connected device is kicked through its
    REST API (a real local HTTP server stands in for EMQX's API here)."""
    with http_stub(free_port, [(answer, {})]) as emqx:
        settings = await _migrated(
            make_settings(
                tmp_path,
                AIOS_MQTT_URL="mqtt://127.0.0.1:1",
                AIOS_EMQX_API_URL=emqx.url,
                AIOS_EMQX_API_KEY="aios",
                AIOS_EMQX_API_SECRET="api-secret",
                AIOS_INGEST_ENABLED="false",
                AIOS_JOBS_ENABLED="false",
            )
        )
        async with AsyncTestClient(create_app(settings)) as client:
            await register_and_login(client)
            device = await _enroll(client)
            org, dev = device["org_id"], device["device_id"]
            deleted = await client.delete(f"/api/v1/fleet/{dev}")
            assert deleted.status_code == deleted_status, deleted.text
            still_there = (await client.get(f"/api/v1/fleet/{dev}")).status_code == 200
            assert still_there is (answer == 500)  # a failed kick rolls the deletion back
    (kick,) = emqx.requests
    assert (kick.method, kick.path) == ("DELETE", f"/api/v5/clients/aios%3A{org}%3A{dev}")
    expected = base64.b64encode(b"aios:api-secret").decode()
    assert kick.headers["Authorization"] == f"Basic {expected}"
