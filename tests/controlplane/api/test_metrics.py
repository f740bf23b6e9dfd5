"""``GET /metrics`` of the control plane, scraped for real: the application with its ingest on
real Mosquitto and a real database; the numbers move with what happened."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.settings import Settings
from aios.controlplane.system.metrics import METRIC_NAMES
from aios.shared.topics import Channel, build_topic
from tests.controlplane.api.conftest import Account, sign_up
from tests.controlplane.conftest import Publisher, make_settings
from tests.controlplane.messages import detection_batch, heartbeat
from tests.prometheus_text import Scrape

pytestmark = [pytest.mark.mqtt]

BATCHES = 7


def _settings(
    tmp_path: Path, database_url: str, mqtt_url: str, prefix: str, **env: str
) -> Settings:
    return make_settings(
        tmp_path,
        AIOS_DATABASE_URL=database_url,
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=prefix,
        AIOS_MQTT_CLIENT_ID="metrics-" + uuid.uuid4().hex[:8],
        AIOS_JOBS_ENABLED="false",
        **env,
    )


@pytest.fixture
async def ingesting(
    tmp_path: Path, database_url: str, mqtt_url: str, topic_prefix: str, engine: AsyncEngine
) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(_settings(tmp_path, database_url, mqtt_url, topic_prefix), run_ingest=True)
    async with AsyncTestClient(app=app) as client:
        yield client


async def scrape(client: AsyncTestClient[Any], **headers: str) -> Scrape:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return Scrape(r.text)


async def until(client: AsyncTestClient[Any], done: Any, timeout: float = 20.0) -> Scrape:
    """Scrape until ``done(scrape)`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        s = await scrape(client)
        if done(s) or asyncio.get_running_loop().time() > deadline:
            return s
        await asyncio.sleep(0.2)


async def test_ingest_counters_move_with_what_was_ingested(
    ingesting: AsyncTestClient[Any], mosquitto_publisher: Publisher, topic_prefix: str
) -> None:
    client = ingesting
    before = await until(client, lambda s: s.value("aios_ingest_mqtt_connected") == 1)
    assert before.value("aios_ingest_mqtt_connected") == 1  # connected and subscribed
    assert before.value("aios_ingest_stored_batches_total") == 0
    assert before.value("aios_ingest_queue_capacity") == 10000

    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    topic = build_topic(org, device, Channel.DETECTIONS, prefix=topic_prefix)
    for seq in range(BATCHES):
        mosquitto_publisher.publish(topic, detection_batch(device, seq, objects=3))
    mosquitto_publisher.publish(topic, detection_batch(device, 0, objects=3))  # a redelivery
    mosquitto_publisher.publish(topic, b"{not json")
    mosquitto_publisher.publish(
        build_topic(org, device, Channel.HEARTBEAT, prefix=topic_prefix), heartbeat(device)
    )

    s = await until(
        client,
        lambda s: s.value("aios_ingest_flush_messages_sum") == BATCHES + 3,
    )
    assert s.value("aios_ingest_received_messages_total") == BATCHES + 3
    assert s.value("aios_ingest_stored_batches_total") == BATCHES
    assert s.value("aios_ingest_duplicate_batches_total") == 1
    assert s.value("aios_ingest_stored_detections_total") == BATCHES * 3
    assert s.value("aios_ingest_heartbeats_total") == 1
    assert s.value("aios_ingest_dead_letters_total", reason="not_json") == 1
    # every message went through one flush, each flush timed once
    flushes = s.value("aios_ingest_flushes_total") or 0
    assert flushes >= 1
    assert s.value("aios_ingest_flush_messages_sum") == BATCHES + 3
    assert s.value("aios_ingest_commit_seconds_count") == flushes
    assert (s.value("aios_ingest_commit_seconds_sum") or 0) > 0
    assert s.value("aios_ingest_queue_depth") == 0
    assert (s.value("aios_ingest_last_commit_timestamp_seconds") or 0) > 1.7e9
    # the auto-registered device, counted by presence (the heartbeat said it is alive)
    assert s.total("aios_devices") >= 1
    assert s.families <= METRIC_NAMES | {"aios_devices"}


async def test_http_requests_by_route_template_and_status(
    ingesting: AsyncTestClient[Any],
) -> None:
    client = ingesting
    owner: Account = await sign_up(client)
    for _ in range(3):
        r = await client.get(f"/api/v1/fleet/{uuid.uuid4().hex}", headers=owner.headers)
        assert r.status_code == 404
    assert (await client.get("/api/v1/fleet")).status_code == 401
    assert (await client.get("/health")).status_code == 200

    s = await scrape(client)
    template = "/api/v1/fleet/{device_id}"
    assert s.value("aios_http_requests_total", method="GET", route=template, status="404") == 3
    assert (
        s.value("aios_http_requests_total", method="GET", route="/api/v1/fleet", status="401") == 1
    )
    assert s.value("aios_http_requests_total", method="GET", route="/health", status="200") == 1
    assert s.value("aios_http_request_duration_seconds_count", method="GET", route=template) == 3
    # no device id, user, organization or token in any label
    assert not any(owner.org_id in str(labels) for _, labels in s.samples)


async def test_websocket_clients_are_counted(ingesting: AsyncTestClient[Any]) -> None:
    client = ingesting
    owner = await sign_up(client)
    assert (await scrape(client)).value("aios_live_clients") == 0
    ws = await client.websocket_connect(f"/api/v1/ws?token={owner.access_token}")
    with ws:
        s = await until(client, lambda s: s.value("aios_live_clients") == 1)
        assert s.value("aios_live_clients") == 1
    s = await until(client, lambda s: s.value("aios_live_clients") == 0)
    assert s.value("aios_live_clients") == 0


async def test_metrics_token_and_switch(
    tmp_path: Path, database_url: str, mqtt_url: str, topic_prefix: str, engine: AsyncEngine
) -> None:
    settings = _settings(
        tmp_path, database_url, mqtt_url, topic_prefix, AIOS_METRICS_TOKEN="scrape-secret"
    )
    async with AsyncTestClient(app=create_app(settings, run_ingest=False)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        s = await scrape(client, Authorization="Bearer scrape-secret")
        assert s.value("aios_live_clients") == 0
        assert "aios_ingest_stored_batches_total" not in s.sample_names()  # no ingest here
    off = _settings(tmp_path, database_url, mqtt_url, topic_prefix, AIOS_METRICS_ENABLED="false")
    async with AsyncTestClient(app=create_app(off, run_ingest=False)) as client:
        assert (await client.get("/metrics")).status_code == 404
