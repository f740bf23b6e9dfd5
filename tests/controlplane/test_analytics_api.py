"""Completeness and dashboard analytics over HTTP, org-scoped, on both backends."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.db.storage.backend import StorageKind, detect_kind
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.codec import encode
from aios.shared.messages import Event
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import make_settings, register_and_login
from tests.controlplane.messages import detection_batch

T0 = (time.time() // 3600) * 3600 - 7200  # two hours ago, on the hour


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=engine.url.render_as_string(hide_password=False),
        AIOS_MQTT_URL="mqtt://127.0.0.1:1",
        AIOS_INGEST_ENABLED="0",
    )
    async with AsyncTestClient(create_app(settings)) as c:
        yield c


async def _ingest(engine: AsyncEngine, org: str, device: str, seqs: list[int]) -> None:
    items = [
        Inbound(
            topic=build_topic(org, device, Channel.DETECTIONS),
            payload=detection_batch(device, s, objects=3, ts=T0 + 61 * s),
            qos=1, mid=s, received_at=time.time(),
        )
        for s in seqs
    ] + [
        Inbound(
            topic=build_topic(org, device, Channel.EVENTS),
            payload=encode(Event(id="e1", event_type="intrusion", severity="critical",
                                 device_id=device, stream_id="cam1", ts=T0 + 5)),
            qos=1, mid=99, received_at=time.time(),
        )
    ]  # fmt: skip
    classified = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    accepted = [a for a in classified if isinstance(a, Accepted)]
    assert len(accepted) == len(classified)
    await TelemetryStore(engine, auto_register=True).write(accepted, [])


async def test_completeness_and_analytics_are_org_scoped(
    client: AsyncTestClient[Any],
    engine: AsyncEngine,
) -> None:
    org = await register_and_login(client)
    device = "dev-" + uuid.uuid4().hex[:8]
    await _ingest(engine, org, device, [0, 1, 1, 2, 5, 6, 9])
    r = await client.get(f"/api/v1/fleet/{device}/completeness")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["duplicates_dropped"]) == (6, 1)
    assert body["missing"] == [[3, 4], [7, 8]]
    assert body["missing_count"] == 4
    assert body["contiguous_seq"] == 2

    since = datetime.fromtimestamp(T0, UTC).isoformat()
    r = await client.get("/api/v1/dashboard/analytics", params={"since": since, "bucket": "1h"})
    assert r.status_code == 200, r.text
    data = r.json()
    async with engine.connect() as conn:
        timescale = await conn.run_sync(detect_kind) is StorageKind.TIMESCALE
    suffix = "_cagg" if timescale else ""  # continuous aggregates stand in for the rollups
    assert data["source"] == "detection_counts_1h" + suffix
    totals = {s["key"]: s["total"] for s in data["series"]}
    assert totals == {"person": 12, "car": 6}  # 6 batches x (2 persons + 1 car)
    assert data["events"] == [{"event_type": "intrusion", "severity": "critical", "count": 1}]
    r = await client.get(
        "/api/v1/dashboard/analytics", params={"since": since, "bucket": "1h", "events": "false"}
    )
    assert r.json()["events"] == []  # not asked for: not counted
    assert r.json()["series"] == data["series"]
    r = await client.get(
        "/api/v1/dashboard/analytics",
        params={"since": since, "bucket": "5m", "group_by": "device"},
    )
    data = r.json()
    assert data["source"] == "detection_counts_1m" + suffix
    assert [s["key"] for s in data["series"]] == [device]
    assert sum(p["count"] for p in data["series"][0]["points"]) == 18
    assert (await client.get("/api/v1/dashboard/analytics?bucket=7m")).status_code == 400

    # another organization sees nothing of it
    other = await register_and_login(client)
    assert other != org
    assert (await client.get(f"/api/v1/fleet/{device}/completeness")).status_code == 404
    assert (await client.get("/api/v1/fleet/nope/completeness")).status_code == 404
    r = await client.get("/api/v1/dashboard/analytics", params={"since": since})
    assert r.json()["series"] == []
    assert r.json()["events"] == []
