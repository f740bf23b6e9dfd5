"""Presence recorded and published through the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device, DevicePresence, DeviceStatusChange, Organization
from aios.controlplane.jobs.locks import JobLocks
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.presence.publisher import RecordingPublisher
from aios.controlplane.presence.service import PresenceService
from aios.controlplane.telemetry.records import Accepted
from aios.shared.messages import DeviceStatus, Heartbeat
from tests.controlplane.conftest import make_settings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def add_devices(engine: AsyncEngine, org: str, devices: list[str]) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Organization), [{"id": org, "name": org, "created_at": now, "updated_at": now}]
        )
        await conn.execute(
            insert(Device),
            [
                {"id": d, "org_id": org, "name": d, "status": "unknown", "tags": [],
                 "created_at": now, "updated_at": now}
                for d in devices
            ],
        )  # fmt: skip


def accepted(org: str, device: str, message: Heartbeat | DeviceStatus, at: float) -> Accepted:
    source = Inbound(topic="t", payload=b"", qos=0, mid=0, received_at=at)
    return Accepted(
        org_id=org,
        device_id=device,
        message=message,
        received_at=datetime.fromtimestamp(at, UTC),
        source=source,
    )


def beat(org: str, device: str, at: float) -> Accepted:
    hb = Heartbeat(device_id=device, ts=at, uptime_s=1.0, agent_version="1.0")
    return accepted(org, device, hb, at)


def service(engine: AsyncEngine, tmp_path: Path, clock: Clock) -> PresenceService:
    settings = make_settings(
        tmp_path,
        AIOS_HEARTBEAT_INTERVAL_S="10",
        AIOS_PRESENCE_MISSED_HEARTBEATS="3",
        AIOS_PRESENCE_DEBOUNCE_MS="2000",
    )
    return PresenceService(settings, engine, clock=clock)


async def test_changes_are_recorded_published_and_deduplicated_across_replicas(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    org = "org-" + uuid.uuid4().hex[:8]
    alive, dead, willed = (f"{n}-{uuid.uuid4().hex[:8]}" for n in ("alive", "dead", "willed"))
    await add_devices(engine, org, [alive, dead, willed])
    t0 = datetime.now(UTC).timestamp()
    clock = Clock(t0)
    locks = JobLocks(engine, "replica-a")
    a, b = service(engine, tmp_path, clock), service(engine, tmp_path, clock)
    published = RecordingPublisher()
    a.publishers.append(published)
    await a.load()
    await b.load()
    for replica in (a, b):  # both replicas heard the first heartbeats
        replica.observe([beat(org, d, t0) for d in (alive, dead, willed)])
    clock.now = t0 + 3
    assert await locks.run("health", 0, a.sweep)
    assert {(u.device_id, u.status, u.presence) for u in published.updates} == {
        (alive, "ON", "online"), (dead, "ON", "online"), (willed, "ON", "online")
    }  # fmt: skip
    assert await locks.run("health", 0, b.sweep)  # replica b: the same changes, recorded once

    for second in range(10, 41, 10):  # only `alive` keeps beating; `willed` leaves a last will
        clock.now = t0 + second
        a.observe([beat(org, alive, clock.now)])
        if second == 10:
            a.observe(
                [accepted(org, willed, DeviceStatus(device_id=willed, state="offline"), clock.now)]
            )
        async with engine.begin() as conn:  # what the ingest writes for every heartbeat
            await conn.execute(
                update(Device).where(Device.id == alive)
                .values(last_seen_at=datetime.fromtimestamp(clock.now, UTC))
            )  # fmt: skip
        assert await locks.run("health", 0, a.sweep)

    async with engine.connect() as conn:
        states = dict(
            (await conn.execute(select(DevicePresence.device_id, DevicePresence.state))).all()
        )
        history = (
            await conn.execute(
                select(
                    DeviceStatusChange.device_id, DeviceStatusChange.state,
                    DeviceStatusChange.reason,
                )
                .where(DeviceStatusChange.org_id == org).order_by(DeviceStatusChange.id)
            )
        ).all()  # fmt: skip
        statuses = dict(
            (await conn.execute(select(Device.id, Device.status).where(Device.org_id == org))).all()
        )
    assert (states[alive], states[dead], states[willed]) == ("online", "offline", "offline")
    assert statuses == {alive: "online", dead: "offline", willed: "offline"}
    assert sorted(history[3:]) == sorted(
        [(willed, "offline", "last_will"), (dead, "offline", "heartbeat_timeout")]
    )
    assert len(history) == 5  # 3 first sightings (once, not once per replica) + 2 offline

    # replica b never heard `alive` after t0, but the database did: it must not call it offline
    clock.now = t0 + 41
    await locks.run("health", 0, b.sweep)
    async with engine.connect() as conn:
        assert (
            await conn.scalar(select(DevicePresence.state).where(DevicePresence.device_id == alive))
            == "online"
        )
    assert b.tracker.state_of(alive) == "online"
