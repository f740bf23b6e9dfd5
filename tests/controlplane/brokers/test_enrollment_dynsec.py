"""Enrollment provisions the device on a real Mosquitto (dynamic security), deletion revokes it.

The app runs with ``AIOS_MQTT_PROVISIONER=dynsec`` against a private broker (``conftest.py``);
the test enrolls through the API, logs in with the returned credentials and checks what a
second client (a service user reading every device's detections) actually receives.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from aios.controlplane.brokers.access import device_username
from aios.controlplane.brokers.dynsec import MosquittoDynsecProvisioner
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.shared.topics import Channel, build_topic, device_client_id, subscription
from tests.controlplane.brokers.conftest import ADMIN_USER, PrivateBroker, dynsec_settings
from tests.controlplane.brokers.probe import Probe
from tests.controlplane.conftest import register_and_login

pytestmark = pytest.mark.mqtt


OBSERVER, OBSERVER_PASSWORD = "observer", "observer-" + uuid.uuid4().hex


async def test_enroll_provisions_and_delete_revokes(
    tmp_path: Path, dynsec_broker: PrivateBroker
) -> None:
    prefix = "t" + uuid.uuid4().hex[:8]
    settings = dynsec_settings(tmp_path, dynsec_broker, prefix)
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    # a service user reads every device channel: it observes what the broker lets through
    await MosquittoDynsecProvisioner(dynsec_broker.admin).provision_service(
        OBSERVER, OBSERVER_PASSWORD, prefix=prefix
    )

    async with AsyncTestClient(create_app(settings)) as client:
        org = await register_and_login(client)
        token = (await client.post("/api/v1/fleet/enrollment-tokens", json={})).json()["token"]
        enrolled = await client.post(
            "/api/v1/fleet/enroll", json={"token": token, "hardware": {"hostname": "box"}}
        )
        assert enrolled.status_code == 201, enrolled.text
        body: dict[str, Any] = enrolled.json()
        device_id = body["device_id"]
        assert body["mqtt"]["username"] == device_username(org, device_id)
        client_id = device_client_id(org, device_id)

        def login(**kwargs: str) -> Probe:
            return Probe(
                dynsec_broker.port,
                body["mqtt"]["username"],
                kwargs.get("password", body["mqtt"]["password"]),
                client_id=kwargs.get("client_id", client_id),
            )

        def publish_and_observe() -> list[tuple[str, bytes]]:
            observer = Probe(dynsec_broker.port, ADMIN_USER, dynsec_broker.admin.password.get())
            with observer:
                assert observer.connect()
                assert observer.subscribe(subscription(Channel.DETECTIONS, prefix=prefix))
                with login() as device:
                    assert device.connect(), "the enrolled credentials must log in"
                    other = build_topic(org, "someone-else", Channel.DETECTIONS, prefix=prefix)
                    own = build_topic(org, device_id, Channel.DETECTIONS, prefix=prefix)
                    device.publish(other, b"spoofed")
                    device.publish(own, b"sentinel")
                return observer.receive_until(b"sentinel")

        got = await asyncio.to_thread(publish_and_observe)
        assert got == [
            (build_topic(org, device_id, Channel.DETECTIONS, prefix=prefix), b"sentinel")
        ]
        assert not await asyncio.to_thread(login(password="wrong").connect)
        assert not await asyncio.to_thread(login(client_id="aios:other:client").connect)

        deleted = await client.delete(f"/api/v1/fleet/{device_id}")
        assert deleted.status_code == 204, deleted.text
        assert not await asyncio.to_thread(login().connect)
