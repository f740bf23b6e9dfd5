"""What the console added to the API: event acknowledgements (stored with who and when, told
live to the other operators), heartbeat history (sampled by a job, its own retention as a
setting applied by the maintenance job, rolled up into buckets on read) and heartbeats pushed
over the WebSocket (``device_heartbeat``: the device page does not poll)."""

from __future__ import annotations

import asyncio
import queue
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device, EventRecord, HeartbeatSample, LiveMessageRecord
from aios.controlplane.db.storage.backend import Storage, StoragePolicy
from aios.controlplane.errors import SettingsError
from aios.controlplane.heartbeats.history import sample_heartbeats
from aios.controlplane.jobs.background import BackgroundServices
from aios.shared.messages import Heartbeat, StreamHealth
from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.conftest import make_settings
from tests.controlplane.messages import store


async def _device(client: AsyncTestClient[Any], owner: Account) -> str:
    created = await client.post("/api/v1/fleet", headers=owner.headers, json={"name": "gw"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def told(engine: AsyncEngine, org_id: str, kind: str) -> list[dict[str, Any]]:
    """The live messages of type ``kind`` written for ``org_id``, oldest first."""
    async with engine.connect() as conn:
        messages = await conn.scalars(
            select(LiveMessageRecord.message)
            .where(LiveMessageRecord.org_id == org_id)
            .order_by(LiveMessageRecord.id)
        )
        return [m for m in messages if m["type"] == kind]


async def test_an_event_is_acknowledged_once_and_everyone_hears_of_it(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(EventRecord).values(
                device_id=device_id, id="evt-1", org_id=owner.org_id, stream_id="door",
                event_type="intrusion", severity="critical", phase="instant", started_at=now,
                last_ts=now, track_ids=[], attributes={}, received_at=now,
            )
        )  # fmt: skip
    operator = await add_member(client, owner, "operator")
    viewer = await add_member(client, owner, "viewer")
    url = f"/api/v1/dashboard/events/evt-1/ack?device_id={device_id}"

    assert (await client.put(url, headers=viewer.headers)).status_code == 403
    assert (await client.put(url, headers=other_owner.headers)).status_code == 404
    first = await client.put(url, headers=operator.headers)
    assert first.status_code == 200, first.text
    ack = first.json()
    assert (ack["event_id"], ack["device_id"], ack["user_id"]) == (
        "evt-1",
        device_id,
        operator.user_id,
    )
    again = await client.put(url, headers=owner.headers)  # the first acknowledgement stands
    assert again.json() == ack

    listed = await client.get(
        "/api/v1/dashboard/acknowledgements",
        params={"event_id": ["evt-1", "evt-2"]},
        headers=viewer.headers,
    )
    assert listed.json() == [ack]
    elsewhere = await client.get(
        "/api/v1/dashboard/acknowledgements",
        params={"event_id": "evt-1"},
        headers=other_owner.headers,
    )
    assert elsewhere.json() == []

    acks = await told(engine, owner.org_id, "event_acknowledged")
    assert len(acks) == 1
    assert (acks[0]["event_id"], acks[0]["user_id"], acks[0]["user_name"]) == (
        "evt-1", operator.user_id, ack["user_name"]
    )  # fmt: skip


def _beat(device_id: str, ts: float, cpu: float, spool: int) -> dict[str, Any]:
    hb = Heartbeat(
        device_id=device_id, ts=ts, uptime_s=5.0, agent_version="0.1.0", cpu_percent=cpu,
        spool_depth=spool, streams=[StreamHealth(stream_id="a", state="streaming", fps=4.0),
                                    StreamHealth(stream_id="b", state="streaming", fps=6.0)],
    )  # fmt: skip
    return dict(msgspec.to_builtins(hb))


async def sample(engine: AsyncEngine, device_id: str, at: datetime, cpu: float, spool: int) -> None:
    """The device's latest heartbeat is from ``at``; the sampling job runs."""
    async with engine.begin() as conn:
        await conn.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(last_heartbeat=_beat(device_id, at.timestamp(), cpu, spool))
        )
        await sample_heartbeats(conn)


async def test_heartbeat_history_is_also_rolled_up_by_the_hour_and_outlives_the_samples(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for minutes, cpu, spool in ((10, 20.0, 3), (40, 40.0, 9), (70, 10.0, 1)):
        await sample(engine, device_id, hour + timedelta(minutes=minutes), cpu, spool)
    url = f"/api/v1/fleet/{device_id}/heartbeats"
    params = {"since": str((hour - timedelta(hours=1)).timestamp()), "bucket": "1h"}

    async def hourly() -> list[tuple[str, int, float | None, int | None]]:
        history = (await client.get(url, params=params, headers=owner.headers)).json()
        return [(p["t"][11:16], p["samples"], p["cpu_percent"], p["spool_depth"])
                for p in history["points"]]  # fmt: skip

    first, second = hour.strftime("%H:%M"), (hour + timedelta(hours=1)).strftime("%H:%M")
    expected = [(first, 2, 30.0, 9), (second, 1, 10.0, 1)]
    assert await hourly() == expected
    # a week later the samples are gone (7 days), the hourly rollup stays (90 days) ...
    # (the shared database's other data is kept: detections and events for years)
    keep = {"detections_retention_days": 3650, "events_retention_days": 3650}
    week_later = datetime.now(UTC) + timedelta(days=8)
    await Storage(engine, StoragePolicy(**keep)).maintain(week_later)
    async with engine.connect() as conn:
        left = await conn.scalar(select(func.count()).where(HeartbeatSample.device_id == device_id))
    assert left == 0
    assert await hourly() == expected
    # ... until its own retention
    await Storage(engine, StoragePolicy(**keep)).maintain(datetime.now(UTC) + timedelta(days=91))
    assert await hourly() == []


async def test_heartbeat_history_is_sampled_kept_for_its_retention_and_rolled_up(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    t0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    old = t0 - timedelta(days=3, hours=1)

    async def beat(at: datetime, cpu: float, spool: int) -> list[float | None]:
        """The device's heartbeat is now ``at``; the job runs; the CPU of its samples kept.
        (The database may hold other tests' devices: only this one's samples are looked at.)"""
        await sample(engine, device_id, at, cpu, spool)
        async with engine.connect() as conn:
            kept = await conn.scalars(
                select(HeartbeatSample.cpu_percent)
                .where(HeartbeatSample.device_id == device_id)
                .order_by(HeartbeatSample.ts)
            )
            return list(kept)

    assert await beat(old, 99.0, 0) == [99.0]  # kept until the retention job runs
    assert await beat(t0, 20.0, 3) == [99.0, 20.0]
    assert await beat(t0, 20.0, 3) == [99.0, 20.0]  # the same heartbeat is sampled once
    # the storage maintenance job applies the history's own retention (a setting)
    await Storage(engine, StoragePolicy(heartbeat_retention_days=4)).maintain()
    assert await beat(t0, 20.0, 3) == [99.0, 20.0]
    await Storage(engine, StoragePolicy(heartbeat_retention_days=3)).maintain()
    assert await beat(t0, 20.0, 3) == [20.0]
    assert await beat(t0 + timedelta(seconds=30), 40.0, 9) == [20.0, 40.0]
    assert await beat(t0 + timedelta(minutes=1, seconds=5), 10.0, 1) == [20.0, 40.0, 10.0]

    url = f"/api/v1/fleet/{device_id}/heartbeats"
    params = {"since": str((t0 - timedelta(minutes=5)).timestamp()), "bucket": "1m"}
    history = (await client.get(url, params=params, headers=owner.headers)).json()
    points = [(p["t"][11:16], p["samples"], p["cpu_percent"], p["fps"], p["spool_depth"])
              for p in history["points"]]  # fmt: skip
    first = t0.strftime("%H:%M")
    second = (t0 + timedelta(minutes=1)).strftime("%H:%M")
    assert points == [(first, 2, 30.0, 10.0, 9), (second, 1, 10.0, 10.0, 1)]
    assert (await client.get(url, headers=other_owner.headers)).status_code == 404
    bad = await client.get(url, params={"bucket": "7s"}, headers=owner.headers)
    assert bad.status_code == 400
    assert bad.json()["field"] == "bucket"


async def test_events_over_time_by_zone(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    mine, theirs = await _device(client, owner), await _device(client, other_owner)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    rows = [  # (device, org, id, zone, minutes after `hour`)
        (mine, owner.org_id, "a", "door", 5), (mine, owner.org_id, "b", "door", 50),
        (mine, owner.org_id, "c", "door", 65), (mine, owner.org_id, "d", "yard", 10),
        (mine, owner.org_id, "e", None, 20), (theirs, other_owner.org_id, "f", "door", 5),
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(
            insert(EventRecord),
            [
                {"device_id": d, "id": i, "org_id": org, "stream_id": "cam",
                 "event_type": "intrusion", "severity": "warning", "phase": "instant",
                 "started_at": hour + timedelta(minutes=m), "last_ts": hour + timedelta(minutes=m),
                 "zone_id": z, "track_ids": [], "attributes": {}, "received_at": hour}
                for d, org, i, z, m in rows
            ],
        )  # fmt: skip
    response = await client.get(
        "/api/v1/dashboard/analytics/events",
        params={"since": (hour - timedelta(hours=1)).isoformat(), "bucket": "1h"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    got = {
        s["key"]: [(p["t"][11:13], p["count"]) for p in s["points"]]
        for s in response.json()["series"]
    }
    h0, h1 = hour.strftime("%H"), (hour + timedelta(hours=1)).strftime("%H")
    assert got == {"door": [(h0, 2), (h1, 1)], "yard": [(h0, 1)], "(no zone)": [(h0, 1)]}
    by_type = await client.get(
        "/api/v1/dashboard/analytics/events",
        params={"since": (hour - timedelta(hours=1)).isoformat(), "group_by": "type"},
        headers=owner.headers,
    )
    assert [(s["key"], s["total"]) for s in by_type.json()["series"]] == [("intrusion", 5)]


async def test_heartbeat_retention_is_a_setting_of_the_maintenance_job(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    default = BackgroundServices(make_settings(tmp_path), engine, ingest=None)
    assert default.storage.policy.heartbeat_retention_days == 7
    settings = make_settings(tmp_path, AIOS_HEARTBEAT_RETENTION_DAYS="2")
    assert BackgroundServices(settings, engine, ingest=None).storage.policy == StoragePolicy(
        heartbeat_retention_days=2
    )
    with pytest.raises(SettingsError, match="AIOS_HEARTBEAT_RETENTION_DAYS"):
        make_settings(tmp_path, AIOS_HEARTBEAT_RETENTION_DAYS="0")


def _hb(device_id: str, uptime_s: float) -> Heartbeat:
    return Heartbeat(device_id=device_id, ts=time.time(), uptime_s=uptime_s, agent_version="1.0")


async def test_the_latest_heartbeat_of_a_flush_is_told_live(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    beats = [_hb(device_id, uptime) for uptime in (1.0, 2.0, 3.0)]
    await store(engine, owner.org_id, beats, auto_register=False)
    heard = await told(engine, owner.org_id, "device_heartbeat")
    assert [(m["device_id"], m["heartbeat"]["uptime_s"]) for m in heard] == [(device_id, 3.0)]
    stored = await client.get(f"/api/v1/fleet/{device_id}/heartbeat", headers=owner.headers)
    assert heard[0]["heartbeat"] == stored.json()["heartbeat"]  # what the page used to poll


async def test_a_heartbeat_reaches_the_websocket_of_its_organization(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    ws = await client.websocket_connect(f"/api/v1/ws?token={owner.access_token}")
    other = await client.websocket_connect(f"/api/v1/ws?token={other_owner.access_token}")
    with ws, other:
        for attempt in range(20):  # the hub starts at the newest message: the first may precede it
            await store(engine, owner.org_id, [_hb(device_id, 10.0 + attempt)])
            try:
                got = await asyncio.to_thread(lambda: ws.receive_json(timeout=0.5))
            except queue.Empty:
                continue
            break
        else:
            raise AssertionError("no device_heartbeat arrived")
        assert got["type"] == "device_heartbeat"
        assert (got["org_id"], got["device_id"]) == (owner.org_id, device_id)
        assert got["heartbeat"]["uptime_s"] >= 10.0
        assert got["received_at"] > 0
        with pytest.raises(queue.Empty):  # another organization hears nothing of it
            await asyncio.to_thread(lambda: other.receive_json(timeout=1.0))
