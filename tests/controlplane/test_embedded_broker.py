"""``aios serve``'s default setup: amqtt embedded in the app, ingest over MQTT 3.1.1."""

from __future__ import annotations

import uuid
from pathlib import Path

from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import Publisher, eventually, make_settings, register_and_login
from tests.controlplane.messages import detection_batch


async def test_detections_through_embedded_broker_reach_the_api(
    tmp_path: Path, free_port: int
) -> None:
    settings = make_settings(tmp_path, AIOS_EMBEDDED_MQTT_PORT=str(free_port))
    assert settings.embedded_broker
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    device = "dev-" + uuid.uuid4().hex[:8]
    async with AsyncTestClient(create_app(settings)) as client:
        org = await register_and_login(client)
        health = (await client.get("/health")).json()
        assert health["mqtt"]["broker"] == "embedded"
        assert health["mqtt"]["embedded_running"]

        async def connected() -> bool:
            return bool((await client.get("/health")).json()["mqtt"]["ingest"] == "connected")

        await eventually(connected)
        publisher = Publisher("127.0.0.1", free_port, mqtt5=False)
        try:
            topic = build_topic(org, device, Channel.DETECTIONS)
            for seq in range(3):
                publisher.publish(topic, detection_batch(device, seq, objects=2))
        finally:
            publisher.close()

        async def stored() -> list[object] | None:
            r = await client.get("/api/v1/dashboard/detections", params={"device_id": device})
            items: list[object] = r.json()["items"]
            return items if len(items) == 6 else None

        await eventually(stored)
