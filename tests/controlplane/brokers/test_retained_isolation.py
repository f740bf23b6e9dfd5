"""Retained messages never cross tenants: a device receives only what its ACL lets it read.

amqtt 0.12 sent a connecting client the retained messages matching subscriptions held by any
client (the ingest's wildcards, other devices' ``cfg/desired``), without checking the reader's
ACL. The same scenario runs on the embedded broker (the app, devices enrolled through the API)
and on Mosquitto with dynamic security (devices provisioned by the provisioner).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from aios.controlplane.brokers.access import device_username
from aios.controlplane.brokers.dynsec import MosquittoDynsecProvisioner
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.settings import EMBEDDED_SERVICE_USERNAME
from aios.shared.topics import DEFAULT_PREFIX, Channel, build_topic, device_client_id
from tests.controlplane.brokers.conftest import PrivateBroker
from tests.controlplane.brokers.probe import Probe
from tests.controlplane.conftest import eventually, make_settings, register_and_login


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    client_id: str | None = None


@dataclass(frozen=True)
class DeviceLogin(Login):
    org_id: str = ""
    device_id: str = ""

    def topic(self, channel: Channel, prefix: str) -> str:
        return build_topic(self.org_id, self.device_id, channel, prefix=prefix)


def _probe(port: int, login: Login, **kwargs: Any) -> Probe:
    return Probe(port, login.username, login.password, client_id=login.client_id, **kwargs)


def _drain(probe: Probe, quiet_s: float = 1.0) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    deadline = time.monotonic() + quiet_s
    while (msg := probe.receive_one(max(0.05, deadline - time.monotonic()))) is not None:
        got.append(msg)
    return got


def cross_tenant_scenario(
    port: int, a: DeviceLogin, b: DeviceLogin, service: Login, prefix: str
) -> None:
    """Org B's device holds a persistent subscription to its desired config and has retained
    status and desired config; org A's device connects (fresh and then resuming its session):
    it gets its own retained desired config and nothing of B's."""
    b_status, b_desired = b.topic(Channel.STATUS, prefix), b.topic(Channel.CONFIG_DESIRED, prefix)
    a_desired = a.topic(Channel.CONFIG_DESIRED, prefix)
    with _probe(port, service) as cloud, _probe(port, b) as dev_b:
        assert cloud.connect(), "service login"
        assert dev_b.connect(), "device b login"
        assert dev_b.subscribe(b_desired)
        dev_b.publish(b_status, b"b-status-secret", retain=True)
        cloud.publish(b_desired, b"b-desired-secret", retain=True)
        cloud.publish(a_desired, b"a-desired", retain=True)
        assert dev_b.receive_until(b"b-desired-secret")[-1] == (b_desired, b"b-desired-secret")
        try:
            # 1. a fresh connection that subscribes to nothing receives nothing
            with _probe(port, a) as dev_a:
                assert dev_a.connect(), "device a login"
                assert _drain(dev_a) == []
                # 2. subscribing to its own desired config: that one retained message only
                assert dev_a.subscribe(a_desired)
                assert dev_a.receive_until(b"a-desired") == [(a_desired, b"a-desired")]
                assert _drain(dev_a, 0.5) == []
            # 3. resuming a persistent session replays only A's own subscriptions
            persistent = _probe(port, a, clean_session=False)
            with persistent:
                assert persistent.connect()
                assert persistent.subscribe(a_desired)
                persistent.receive_until(b"a-desired")
            with _probe(port, a, clean_session=False) as resumed:
                assert resumed.connect()
                got = _drain(resumed)
                assert all(topic == a_desired for topic, _ in got), got
        finally:
            for topic in (b_desired, a_desired):
                cloud.publish(topic, b"", retain=True)
            dev_b.publish(b_status, b"", retain=True)


async def _enroll(client: AsyncTestClient[Any]) -> DeviceLogin:
    issued = await client.post("/api/v1/fleet/enrollment-tokens", json={})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    enrolled = await client.post(
        "/api/v1/fleet/enroll", json={"token": token, "hardware": {"hostname": "box"}}
    )
    assert enrolled.status_code == 201, enrolled.text
    body = enrolled.json()
    return DeviceLogin(
        username=body["mqtt"]["username"],
        password=body["mqtt"]["password"],
        client_id=device_client_id(body["org_id"], body["device_id"]),
        org_id=body["org_id"],
        device_id=body["device_id"],
    )


async def test_embedded_broker_keeps_retained_messages_within_the_tenant(
    tmp_path: Path, free_port: int
) -> None:
    settings = make_settings(tmp_path, AIOS_EMBEDDED_MQTT_PORT=str(free_port))
    assert settings.embedded_broker
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    service = Login(EMBEDDED_SERVICE_USERNAME, settings.embedded_mqtt_service_password.get())
    async with AsyncTestClient(create_app(settings)) as client:
        await register_and_login(client)
        a = await _enroll(client)
        await register_and_login(client)  # a second organization, same client
        b = await _enroll(client)
        assert a.org_id != b.org_id

        async def ingest_connected() -> bool:
            return bool(
                (await client.get("/api/v1/system/diagnostics")).json()["mqtt"]["ingest"]
                == "connected"
            )

        await eventually(ingest_connected)  # its wildcard subscriptions are in place
        await asyncio.to_thread(cross_tenant_scenario, free_port, a, b, service, DEFAULT_PREFIX)


@pytest.mark.mqtt
async def test_mosquitto_dynsec_keeps_retained_messages_within_the_tenant(
    dynsec_broker: PrivateBroker,
) -> None:
    prefix = "t" + uuid.uuid4().hex[:8]
    provisioner = MosquittoDynsecProvisioner(dynsec_broker.admin)
    service = Login("ingest", "svc-" + uuid.uuid4().hex)
    await provisioner.provision_service(service.username, service.password, prefix=prefix)
    devices = []
    for org in ("org-a", "org-b"):
        password = uuid.uuid4().hex
        client_id = device_client_id(org, "cam-1")
        await provisioner.provision_device(
            org, "cam-1", password, prefix=prefix, client_id=client_id
        )
        devices.append(
            DeviceLogin(
                username=device_username(org, "cam-1"),
                password=password,
                client_id=client_id,
                org_id=org,
                device_id="cam-1",
            )
        )
    with _probe(dynsec_broker.port, service) as ingest:  # holds the wildcard subscriptions
        assert await asyncio.to_thread(ingest.connect)
        assert await asyncio.to_thread(ingest.subscribe, f"{prefix}/v1/+/+/status")
        await asyncio.to_thread(
            cross_tenant_scenario, dynsec_broker.port, devices[0], devices[1], service, prefix
        )
