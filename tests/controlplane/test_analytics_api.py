"""Completeness and dashboard analytics over HTTP, org-scoped, on both backends; detections by
zone (stored with their zones, counted per zone at ingest, expired with the other rollups)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Detection as DetectionRecord
from aios.controlplane.db.models import DetectionZoneCount1m
from aios.controlplane.db.storage.backend import Storage, StorageKind, StoragePolicy, detect_kind
from aios.shared.codec import encode
from aios.shared.messages import Detection, DetectionBatch, Event, FrameDetections
from tests.controlplane.conftest import register_and_login
from tests.controlplane.messages import detection_batch, store

T0 = (time.time() // 3600) * 3600 - 7200  # two hours ago, on the hour


async def _ingest(engine: AsyncEngine, org: str, device: str, seqs: list[int]) -> None:
    event = Event(id="e1", event_type="intrusion", severity="critical", device_id=device,
                  stream_id="cam1", ts=T0 + 5)  # fmt: skip
    batches = [
        msgspec.json.decode(
            detection_batch(device, s, objects=3, ts=T0 + 61 * s), type=DetectionBatch
        )
        for s in seqs
    ]
    await store(engine, org, [*batches, event])


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


BOX = (0.1, 0.2, 0.3, 0.4)
ZONES_URL = "/api/v1/dashboard/analytics/zones"


def zoned_batch(device: str, seq: int, ts: float, stream: str = "cam1") -> DetectionBatch:
    """Per frame, two frames: a person at the door, a person at the door and in the lane
    (listed twice and out of order, as a careless agent might), a car in the lane, a car in no
    zone."""
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


async def stored_zones(engine: AsyncEngine, device: str) -> list[str | None]:
    async with engine.connect() as conn:
        rows = await conn.scalars(
            select(DetectionRecord.zones)
            .where(DetectionRecord.device_id == device)
            .order_by(DetectionRecord.seq, DetectionRecord.ts, DetectionRecord.idx)
        )
        return list(rows)


@pytest.fixture
async def org(client: AsyncTestClient[Any]) -> str:
    """A new organization, its owner signed in on ``client``."""
    return await register_and_login(client)


def totals(body: dict[str, Any]) -> dict[str, int]:
    return {s["key"]: s["total"] for s in body["series"]}


async def test_detections_are_stored_and_counted_per_zone(
    client: AsyncTestClient[Any], engine: AsyncEngine, org: str
) -> None:
    dev = "dev-" + uuid.uuid4().hex[:8]
    first = zoned_batch(dev, 0, T0 + 10)
    await store(engine, org, [first, zoned_batch(dev, 1, T0 + 70, stream="cam2")])
    await store(engine, org, [first])  # redelivered: stored once, counted once
    assert await stored_zones(engine, dev) == ["door", "door,lane", "lane", None] * 4

    since = datetime.fromtimestamp(T0, UTC)
    r = await client.get(ZONES_URL, params={"since": since.isoformat(), "bucket": "1h"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["bucket"]) == ("detection_zone_counts_1h", "1h")
    # 2 batches x 2 frames: the door holds 2 persons a frame, the lane 1 person and 1 car
    assert totals(body) == {"door": 8, "lane": 8}
    assert [s["key"] for s in body["series"]] == ["door", "lane"]
    assert [datetime.fromisoformat(p["t"]) for p in body["series"][0]["points"]] == [since]

    params = {"since": since.isoformat(), "bucket": "1m", "zone_id": "lane", "group_by": "label"}
    body = (await client.get(ZONES_URL, params=params)).json()
    assert body["source"] == "detection_zone_counts_1m"
    assert totals(body) == {"person": 4, "car": 4}
    assert len(body["series"][0]["points"]) == 2  # minutes T0 and T0 + 60

    params = {"since": since.isoformat(), "group_by": "stream", "label": "car"}
    assert totals((await client.get(ZONES_URL, params=params)).json()) == {"cam1": 2, "cam2": 2}
    params = {"since": since.isoformat(), "device_id": "someone-else"}
    assert (await client.get(ZONES_URL, params=params)).json()["series"] == []
    assert (await client.get(ZONES_URL, params={"bucket": "7m"})).status_code == 400
    assert (await client.get(ZONES_URL, params={"group_by": "severity"})).status_code == 400

    other = await register_and_login(client)  # another organization sees nothing of it
    assert other != org
    params = {"since": since.isoformat()}
    assert (await client.get(ZONES_URL, params=params)).json()["series"] == []


async def test_batches_without_zones_are_stored_and_counted_nowhere(
    client: AsyncTestClient[Any], engine: AsyncEngine, org: str
) -> None:
    """What an agent that does not tag zones sends: the detections are stored, without zones."""
    dev = "old-" + uuid.uuid4().hex[:8]
    det = Detection(class_id=0, label="person", confidence=0.9, xyxy=BOX)
    frame = FrameDetections(ts=T0 + 5, frame_index=0, width=640, height=480, detections=[det])
    old = DetectionBatch(device_id=dev, stream_id="cam1", pipeline_version=1, seq=0, frames=[frame])
    assert b"zones" not in encode(old)
    await store(engine, org, [old])
    assert await stored_zones(engine, dev) == [None]
    params = {"since": datetime.fromtimestamp(T0, UTC).isoformat()}
    assert (await client.get(ZONES_URL, params=params)).json()["series"] == []
    r = await client.get("/api/v1/dashboard/analytics", params=params)
    assert totals(r.json()) == {"person": 1}


async def test_zone_counts_expire_with_the_detections(engine: AsyncEngine) -> None:
    org, dev = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    await store(
        engine, org, [zoned_batch(dev, 0, time.time() - 3 * 86400), zoned_batch(dev, 1, T0)]
    )
    await Storage(engine, StoragePolicy(detections_retention_days=2)).maintain(datetime.now(UTC))
    async with engine.connect() as conn:
        kept = await conn.scalars(
            select(DetectionZoneCount1m.bucket).where(DetectionZoneCount1m.device_id == dev)
        )
        buckets = [b if b.tzinfo else b.replace(tzinfo=UTC) for b in kept]
    assert buckets, "the recent minutes are kept"
    assert min(buckets) >= datetime.now(UTC) - timedelta(days=2)
