"""``aios serve``'s default setup: amqtt embedded in the app, ingest over MQTT 3.1.1, devices
logging in with their enrollment credentials and confined to their own topics."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.settings import Settings
from aios.shared.codec import decode_message
from aios.shared.messages import IngestAck, SeqAck
from aios.shared.topics import Channel, build_topic, device_client_id
from tests.controlplane.brokers.probe import Probe
from tests.controlplane.conftest import eventually, make_settings, register_and_login
from tests.controlplane.messages import detection_batch

HARDWARE = {"hostname": "cam-box", "arch": "x86_64"}


async def _app_settings(tmp_path: Path, port: int, **env: str) -> Settings:
    settings = make_settings(tmp_path, AIOS_EMBEDDED_MQTT_PORT=str(port), **env)
    assert settings.embedded_broker
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    return settings


async def _enroll(client: AsyncTestClient[Any]) -> dict[str, Any]:
    issued = await client.post("/api/v1/fleet/enrollment-tokens", json={"max_uses": 5})
    assert issued.status_code == 201, issued.text
    enrolled = await client.post(
        "/api/v1/fleet/enroll", json={"token": issued.json()["token"], "hardware": HARDWARE}
    )
    assert enrolled.status_code == 201, enrolled.text
    body: dict[str, Any] = enrolled.json()
    return body


def _probe(port: int, device: dict[str, Any], *, password: str | None = None) -> Probe:
    return Probe(
        port,
        device["mqtt"]["username"],
        device["mqtt"]["password"] if password is None else password,
        client_id=device_client_id(device["org_id"], device["device_id"]),
    )


async def _connected(client: AsyncTestClient[Any]) -> bool:
    details = (await client.get("/api/v1/system/diagnostics")).json()
    return bool(details["mqtt"]["ingest"] == "connected")


async def test_enrolled_devices_are_confined_to_their_own_topics(
    tmp_path: Path, free_port: int
) -> None:
    settings = await _app_settings(tmp_path, free_port)
    async with AsyncTestClient(create_app(settings)) as client:
        org = await register_and_login(client)
        health = (await client.get("/api/v1/system/diagnostics")).json()
        assert health["mqtt"]["broker"] == "embedded"
        assert health["mqtt"]["embedded_running"]
        await eventually(lambda: _connected(client))  # the ingest logs in with its own secret
        a, b = await _enroll(client), await _enroll(client)
        assert a["mqtt"]["username"] == f"{a['device_id']}@{org}"

        # a wrong password and an anonymous client are refused
        assert not await asyncio.to_thread(_probe(free_port, a, password="wrong").connect)
        anonymous = Probe(free_port, "", "")
        assert not await asyncio.to_thread(anonymous.connect)
        # the right credentials under another device's client id are refused
        hijack = Probe(
            free_port,
            a["mqtt"]["username"],
            a["mqtt"]["password"],
            client_id=device_client_id(org, b["device_id"]),
        )
        assert not await asyncio.to_thread(hijack.connect)

        with _probe(free_port, a) as dev_a:
            assert await asyncio.to_thread(dev_a.connect)
            # a may not read b's desired config, only its own
            b_desired = build_topic(org, b["device_id"], Channel.CONFIG_DESIRED)
            a_desired = build_topic(org, a["device_id"], Channel.CONFIG_DESIRED)
            assert not await asyncio.to_thread(dev_a.subscribe, b_desired)
            assert not await asyncio.to_thread(dev_a.subscribe, "#")
            assert await asyncio.to_thread(dev_a.subscribe, a_desired)
            a_ack = build_topic(org, a["device_id"], Channel.ACK)
            assert not await asyncio.to_thread(
                dev_a.subscribe, build_topic(org, b["device_id"], Channel.ACK)
            )
            assert await asyncio.to_thread(dev_a.subscribe, a_ack)
            # a publishes as b (dropped by the broker), then as itself
            spoofed = detection_batch(b["device_id"], 0, objects=3)
            b_det = build_topic(org, b["device_id"], Channel.DETECTIONS)
            await asyncio.to_thread(dev_a.publish, b_det, spoofed)
            a_det = build_topic(org, a["device_id"], Channel.DETECTIONS)
            for seq in range(3):
                await asyncio.to_thread(
                    dev_a.publish, a_det, detection_batch(a["device_id"], seq, objects=2)
                )
            # the control plane acknowledges what it stored, on a's own ack topic only
            complete = SeqAck(first=0, contiguous=2, upto=2)
            while True:
                got = await asyncio.to_thread(dev_a.receive_one)
                assert got is not None, "no acknowledgement of the stored batches"
                ack = decode_message(got[1], channel=Channel.ACK)
                assert got[0] == a_ack
                assert isinstance(ack, IngestAck)
                if ack.detections == complete:
                    break

        async def stored() -> list[object] | None:
            r = await client.get(
                "/api/v1/dashboard/detections", params={"device_id": a["device_id"]}
            )
            items: list[object] = r.json()["items"]
            return items if len(items) == 6 else None

        await eventually(stored)
        spoof = await client.get(
            "/api/v1/dashboard/detections", params={"device_id": b["device_id"]}
        )
        assert spoof.json()["items"] == []

        # a deleted device cannot log in any more
        deleted = await client.delete(f"/api/v1/fleet/{a['device_id']}")
        assert deleted.status_code == 204, deleted.text
        assert not await asyncio.to_thread(_probe(free_port, a).connect)


async def test_anonymous_escape_hatch(tmp_path: Path, free_port: int) -> None:
    settings = await _app_settings(tmp_path, free_port, AIOS_EMBEDDED_MQTT_ANONYMOUS="true")
    async with AsyncTestClient(create_app(settings)) as client:
        await register_and_login(client)
        await eventually(lambda: _connected(client))
        with Probe(free_port, "anyone", "anything") as probe:
            assert await asyncio.to_thread(probe.connect)
            assert await asyncio.to_thread(probe.subscribe, "#")


async def test_wrong_device_passwords_are_throttled(tmp_path: Path, free_port: int) -> None:
    settings = await _app_settings(tmp_path, free_port)
    async with AsyncTestClient(create_app(settings)) as client:
        await register_and_login(client)
        known, victim, fresh = await _enroll(client), await _enroll(client), await _enroll(client)
        with _probe(free_port, known) as first:  # a verified login is remembered
            assert await asyncio.to_thread(first.connect)
        for _ in range(10):
            assert not await asyncio.to_thread(_probe(free_port, victim, password="guess").connect)
        # this client is throttled now: a login that is not remembered is refused unchecked...
        assert not await asyncio.to_thread(_probe(free_port, fresh).connect)
        # ... while the device verified before still gets in
        with _probe(free_port, known) as again:
            assert await asyncio.to_thread(again.connect)
