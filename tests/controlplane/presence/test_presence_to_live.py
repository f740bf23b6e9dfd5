"""Presence changes reach the WebSocket outbox, on SQLite too.

The ``device_health`` job records a change in its own transaction; the live message must be
written in that same transaction. Written on a second connection, it waited for the job's
write lock on SQLite (the busy timeout, 30 s) and then failed ``database is locked``: the
console never heard a device come online.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device, LiveMessageRecord, Organization
from aios.controlplane.jobs.locks import JobLocks
from aios.controlplane.live.outbox import PresenceToLive
from tests.controlplane.presence.test_service import Clock, add_devices, beat, service


async def test_a_device_coming_online_is_written_to_the_live_outbox(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "gw-" + uuid.uuid4().hex[:8]
    await add_devices(engine, org, [device])
    t0 = datetime.now(UTC).timestamp()
    clock = Clock(t0)
    presence = service(engine, tmp_path, clock)
    presence.outboxes.append(PresenceToLive())
    await presence.load()
    presence.observe([beat(org, device, t0)])
    clock.now = t0 + 3
    ran = await asyncio.wait_for(JobLocks(engine, "r1").run("health", 0, presence.sweep), 10)
    assert ran
    async with engine.begin() as conn:
        messages = (
            await conn.scalars(
                select(LiveMessageRecord.message).where(LiveMessageRecord.org_id == org)
            )
        ).all()
        # the database is shared by the run: other tests' presence sweeps must not see it
        await conn.execute(delete(Device).where(Device.org_id == org))
        await conn.execute(delete(Organization).where(Organization.id == org))
    assert [(m["type"], m["device_id"], m["status"], m["presence"]) for m in messages] == [
        ("device_status_update", device, "ON", "online")
    ]
