"""Detections by zone: stored with their zones, counted per zone, served by the analytics API.

Runs on both backends (the ``engine`` fixture): real ingest store, real HTTP app.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.db.models import Detection as DetectionRecord
from aios.controlplane.db.models import DetectionZoneCount1m
from aios.controlplane.db.storage.backend import Storage, StoragePolicy
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.codec import encode
from aios.shared.messages import Detection, DetectionBatch, FrameDetections
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import make_settings, register_and_login

T0 = (time.time() // 3600) * 3600 - 7200  # two hours ago, on the hour
BOX = (0.1, 0.2, 0.3, 0.4)


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


def batch(device: str, seq: int, ts: float, stream: str = "cam1") -> DetectionBatch:
    """Per frame: a person at the door, a person at the door and in the lane (listed twice and
    out of order, as a careless agent might), a car in the lane, a car in no zone."""
    dets = [
        Detection(class_id=0, label="person", confidence=0.9, xyxy=BOX, zones=["door"]),
        Detection(
            class_id=0, label="person", confidence=0.8, xyxy=BOX, zones=["lane", "door", "lane"]
        ),
        Detection(class_id=2, label="car", confidence=0.7, xyxy=BOX, zones=["lane"]),
        Detection(class_id=2, label="car", confidence=0.6, xyxy=BOX),
    ]
    frames = [
        FrameDetections(ts=ts + i, frame_index=i, width=640, height=480, detections=dets)
        for i in range(2)
    ]
    return DetectionBatch(
        device_id=device, stream_id=stream, pipeline_version=1, seq=seq, frames=frames
    )


async def ingest(engine: AsyncEngine, org: str, batches: list[DetectionBatch]) -> None:
    items = [
        Inbound(
            topic=build_topic(org, b.device_id, Channel.DETECTIONS),
            payload=encode(b),
            qos=1,
            mid=i,
            received_at=time.time(),
        )
        for i, b in enumerate(batches)
    ]
    accepted = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    assert all(isinstance(a, Accepted) for a in accepted)
    await TelemetryStore(engine, auto_register=True).write(accepted, [])  # type: ignore[arg-type]


def totals(body: dict[str, object]) -> dict[str, int]:
    series = body["series"]
    assert isinstance(series, list)
    return {s["key"]: s["total"] for s in series}


async def test_detections_are_stored_and_counted_per_zone(
    client: AsyncTestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    org = await register_and_login(client)
    dev = "dev-" + uuid.uuid4().hex[:8]
    first = batch(dev, 0, T0 + 10)
    await ingest(engine, org, [first, batch(dev, 1, T0 + 70, stream="cam2")])
    await ingest(engine, org, [first])  # redelivered: stored once, counted once

    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(DetectionRecord.zones)
                .where(DetectionRecord.device_id == dev, DetectionRecord.seq == 0)
                .order_by(DetectionRecord.ts, DetectionRecord.idx)
            )
        ).scalars()
        assert list(stored) == ["door", "door,lane", "lane", None] * 2

    since = datetime.fromtimestamp(T0, UTC).isoformat()
    url = "/api/v1/dashboard/analytics/zones"
    r = await client.get(url, params={"since": since, "bucket": "1h"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "detection_zone_counts_1h"
    # 2 batches x 2 frames: door holds 2 persons a frame, lane 1 person + 1 car
    assert totals(body) == {"door": 8, "lane": 8}
    assert [s["key"] for s in body["series"]] == ["door", "lane"]
    assert body["series"][0]["points"] == [
        {"t": datetime.fromtimestamp(T0, UTC).isoformat().replace("+00:00", "Z"), "count": 8}
    ]

    r = await client.get(
        url, params={"since": since, "bucket": "1m", "zone_id": "lane", "group_by": "label"}
    )
    body = r.json()
    assert body["source"] == "detection_zone_counts_1m"
    assert totals(body) == {"person": 4, "car": 4}
    assert len(body["series"][0]["points"]) == 2  # minutes T0 and T0 + 60

    r = await client.get(url, params={"since": since, "group_by": "stream", "label": "car"})
    assert totals(r.json()) == {"cam1": 2, "cam2": 2}
    r = await client.get(url, params={"since": since, "device_id": "someone-else"})
    assert r.json()["series"] == []
    assert (await client.get(url, params={"bucket": "7m"})).status_code == 400
    assert (await client.get(url, params={"group_by": "severity"})).status_code == 400

    other = await register_and_login(client)  # another organization sees nothing of it
    assert other != org
    assert (await client.get(url, params={"since": since})).json()["series"] == []


async def test_batches_without_zones_are_stored_and_counted_nowhere(
    client: AsyncTestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    """What an agent that does not tag zones sends: the detections are stored, without zones."""
    org = await register_and_login(client)
    dev = "old-" + uuid.uuid4().hex[:8]
    det = Detection(class_id=0, label="person", confidence=0.9, xyxy=BOX)
    frame = FrameDetections(ts=T0 + 5, frame_index=0, width=640, height=480, detections=[det])
    old = DetectionBatch(device_id=dev, stream_id="cam1", pipeline_version=1, seq=0, frames=[frame])
    assert b"zones" not in encode(old)
    await ingest(engine, org, [old])
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(DetectionRecord.zones).where(DetectionRecord.device_id == dev)
            )
        ).scalars()
        assert list(stored) == [None]
    since = datetime.fromtimestamp(T0, UTC).isoformat()
    r = await client.get("/api/v1/dashboard/analytics/zones", params={"since": since})
    assert r.json()["series"] == []
    r = await client.get("/api/v1/dashboard/analytics", params={"since": since})
    assert {s["key"]: s["total"] for s in r.json()["series"]} == {"person": 1}


async def test_zone_counts_expire_with_the_detections(engine: AsyncEngine) -> None:
    org, dev = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    old = time.time() - 3 * 86400
    await ingest(engine, org, [batch(dev, 0, old), batch(dev, 1, T0)])
    storage = Storage(engine, StoragePolicy(detections_retention_days=2))
    await storage.maintain(datetime.now(UTC))
    async with engine.connect() as conn:
        left = (
            await conn.execute(
                select(DetectionZoneCount1m.bucket).where(DetectionZoneCount1m.device_id == dev)
            )
        ).scalars()
        cutoff = datetime.now(UTC) - timedelta(days=2)
        buckets = [b if b.tzinfo else b.replace(tzinfo=UTC) for b in left]
        assert buckets, "the recent minute is kept"
        assert all(b >= cutoff for b in buckets)
