"""Nothing stops ingest, and nobody is told "ok" when it has stopped.

- hostile MQTT payloads (deep nesting) never kill the ingest: later traffic is still stored;
- public ``/health`` shows a status and nothing about tenants, counters or SQL;
- an ingest loop that dies is restarted and counted; a dead ingest makes ``/health`` answer 503
  with a reason; an ingest that holds messages without committing is reported as stalled;
- the live hub keeps polling through a database outage that refuses connections (``OSError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import DetectionBatchRecord
from aios.controlplane.live.hub import LiveHub
from aios.controlplane.live.outbox import publish_live
from aios.controlplane.runtime import Runtime
from aios.controlplane.telemetry.ingest import IngestService
from aios.shared.live import DeviceStatusUpdate
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import (
    Publisher,
    eventually,
    make_settings,
    register_and_login,
    sqlite_app_with_ingest,
)
from tests.controlplane.messages import detection_batch

pytestmark = [pytest.mark.mqtt]


@pytest.fixture
async def app_client(
    tmp_path: Path, mqtt_url: str, topic_prefix: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with sqlite_app_with_ingest(tmp_path, mqtt_url, topic_prefix) as client:
        yield client


def _runtime(client: AsyncTestClient[Any]) -> Runtime:
    provide = client.app.dependencies["runtime"]
    runtime: Runtime = provide.dependency()
    return runtime


async def _stored(engine: AsyncEngine, device: str) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(select(func.count()).where(DetectionBatchRecord.device_id == device))
    return int(n or 0)


async def test_deep_nesting_does_not_kill_ingest_and_health_shows_status_only(
    app_client: AsyncTestClient[Any], mosquitto_publisher: Publisher, topic_prefix: str
) -> None:
    runtime = _runtime(app_client)
    ingest = runtime.ingest
    assert ingest is not None
    assert await ingest.subscriber.wait_connected(10)
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    topic = build_topic(org, device, Channel.DETECTIONS, prefix=topic_prefix)
    mosquitto_publisher.publish(topic, b'{"type":"detections","a":' * 1000 + b"1" + b"}" * 1000)
    mosquitto_publisher.publish(topic, b"[" * 50_000)
    mosquitto_publisher.publish(topic, detection_batch(device, 1))

    async def stored() -> bool:
        return await _stored(runtime.engine, device) == 1

    await eventually(stored)
    assert ingest.running
    assert ingest.stats.restarts == 0
    assert ingest.stats.dead_letters["too_deep"] >= 1

    public = await app_client.get("/health")
    assert public.status_code == 200
    assert public.json() == {"status": "ok"}  # no counters, no tenants, no errors
    await register_and_login(app_client)
    details = (await app_client.get("/api/v1/system/diagnostics")).json()
    assert details["ingest"]["dead_letters"]["too_deep"] >= 1
    assert details["ingest"]["running"] is True


async def test_a_dying_ingest_loop_is_restarted_and_a_dead_one_fails_health(
    app_client: AsyncTestClient[Any], mosquitto_publisher: Publisher, topic_prefix: str
) -> None:
    ingest = _runtime(app_client).ingest
    assert ingest is not None
    assert await ingest.subscriber.wait_connected(10)
    collect = ingest._collect
    calls = 0

    async def dies_once() -> list[Any]:  # a bug in the loop, once
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug")
        return await collect()

    ingest._collect = dies_once  # type: ignore[method-assign]
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    topic = build_topic(org, device, Channel.DETECTIONS, prefix=topic_prefix)
    mosquitto_publisher.publish(topic, detection_batch(device, 1))  # wakes the loop: it dies

    async def restarted() -> bool:
        return ingest.stats.restarts == 1 and ingest.running

    await eventually(restarted)
    assert ingest.stats.last_failure == "RuntimeError"
    mosquitto_publisher.publish(topic, detection_batch(device, 2))  # the restarted loop stores

    async def stored() -> bool:
        return await _stored(_runtime(app_client).engine, device) == 2

    await eventually(stored)
    assert (await app_client.get("/health")).status_code == 200

    # now the ingest task is gone for good: health says so, at once
    task = ingest._task
    assert task is not None
    task.get_loop().call_soon_threadsafe(task.cancel)  # the app runs in the client's loop

    async def dead() -> bool:
        return task.done()

    await eventually(dead)
    public = await app_client.get("/health")
    assert public.status_code == 503
    assert public.json() == {"status": "failing", "reason": "ingest is not running"}


async def test_an_ingest_that_holds_messages_without_committing_is_stalled(
    tmp_path: Path,
    free_port: int,
    mqtt_url: str,
    topic_prefix: str,
    mosquitto_publisher: Publisher,
) -> None:
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port}/gone",
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
        AIOS_INGEST_STALL_AFTER_S="1",
    )
    engine = create_engine(settings)  # the database refuses connections
    service = IngestService(settings, engine)
    await service.start()
    try:
        assert await service.subscriber.wait_connected(10)
        assert service.failing() is None  # nothing waits: an idle ingest is healthy
        device = "dev-" + uuid.uuid4().hex[:8]
        topic = build_topic("org-x", device, Channel.DETECTIONS, prefix=topic_prefix)
        mosquitto_publisher.publish(topic, detection_batch(device, 1))

        async def stalled() -> str | None:
            return service.failing()

        reason = await eventually(stalled)
        assert reason.startswith("ingest has not committed for")
        assert service.stats.write_errors >= 1
        assert service.stats.last_error is not None
        assert "SELECT" not in service.stats.last_error
        assert "INSERT" not in service.stats.last_error
    finally:
        await service.stop(timeout=2)
        await engine.dispose()


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.mark.postgres
async def test_live_hub_survives_a_database_refusing_connections(
    pg_sqlalchemy_url: str, tmp_path: Path, free_port: int
) -> None:
    """The hub reaches PostgreSQL through a proxy on ``free_port`` that is first closed (a
    restarting server: connection refused, an OSError), then opened."""
    direct = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=pg_sqlalchemy_url))
    await migrate.upgrade(direct)
    host_url = direct.url.set(host="127.0.0.1", port=free_port)
    via_proxy = create_engine(
        make_settings(tmp_path, AIOS_DATABASE_URL=host_url.render_as_string(hide_password=False))
    )
    hub = LiveHub(via_proxy, poll_interval_s=0.05)
    org = "org-" + uuid.uuid4().hex[:8]
    subscriber = hub.subscribe(org)
    server: asyncio.Server | None = None
    try:
        await asyncio.sleep(0.5)  # several polls fail: connection refused
        assert hub.poll_errors >= 1

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection(
                direct.url.host or "127.0.0.1", direct.url.port or 5432
            )
            await asyncio.gather(_forward(reader, up_writer), _forward(up_reader, writer))

        server = await asyncio.start_server(pipe, "127.0.0.1", free_port)

        async def polled() -> bool:
            return hub._last_id is not None

        await eventually(polled)
        update = DeviceStatusUpdate(
            org_id=org, device_id="d1", status="OFF", timestamp=1_700_000_000.0,
            presence="offline", previous="online", reason="test", changed_at=1_700_000_000.0,
        )  # fmt: skip
        async with direct.begin() as conn:
            await publish_live(conn, [update])
        async with asyncio.timeout(10):
            message = await subscriber.get()
        assert message["device_id"] == "d1"
    finally:
        await hub.stop()
        if server is not None:
            server.close()
        await via_proxy.dispose()
        await direct.dispose()


CHANNEL_OF = {
    "detections": Channel.DETECTIONS,
    "event": Channel.EVENTS,
    "heartbeat": Channel.HEARTBEAT,
    "pipeline_report": Channel.CONFIG_REPORTED,
    "status": Channel.STATUS,
}


async def test_every_hostile_value_is_dead_lettered_while_good_traffic_flows(
    app_client: AsyncTestClient[Any], mosquitto_publisher: Publisher, topic_prefix: str
) -> None:
    """The issue's poison values over real MQTT, mixed with valid traffic of the same device
    and of another organization: each costs one dead letter, the valid messages are stored."""
    from tests.shared.test_hostile import HOSTILE, _json

    runtime = _runtime(app_client)
    ingest = runtime.ingest
    assert ingest is not None
    assert await ingest.subscriber.wait_connected(10)
    org, other = "org-" + uuid.uuid4().hex[:8], "org-" + uuid.uuid4().hex[:8]
    other_device = "dev-" + uuid.uuid4().hex[:8]
    for seq, (_, msg) in enumerate(HOSTILE):
        topic = build_topic(org, "dev-1", CHANNEL_OF[msg["type"]], prefix=topic_prefix)
        mosquitto_publisher.publish(topic, _json(msg))
        good = detection_batch("dev-1", 100 + seq)
        mosquitto_publisher.publish(
            build_topic(org, "dev-1", Channel.DETECTIONS, prefix=topic_prefix), good
        )
        mosquitto_publisher.publish(
            build_topic(other, other_device, Channel.DETECTIONS, prefix=topic_prefix),
            detection_batch(other_device, seq),
        )

    async def all_stored() -> bool:
        mine = await _stored(runtime.engine, "dev-1")
        theirs = await _stored(runtime.engine, other_device)
        return mine == len(HOSTILE) and theirs == len(HOSTILE)

    await eventually(all_stored, timeout=30)
    refused = ingest.stats.dead_letters
    assert refused["wrong_schema"] + refused["too_large"] == len(HOSTILE)  # 100k attributes
    assert ingest.stats.write_errors == 0
    assert ingest.stats.restarts == 0
