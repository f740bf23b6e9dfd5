"""Device health: an online device turns WARNING (and back ON) when its heartbeats say so, and
the presence sweep announces it, not only online/offline changes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device, Organization
from aios.controlplane.jobs.locks import JobLocks
from aios.controlplane.presence.health import TOO_HOT_C, seed_status, warnings_of
from aios.controlplane.presence.publisher import RecordingPublisher
from aios.shared.messages import Heartbeat, StreamHealth
from tests.controlplane.presence.test_service import Clock, accepted, add_devices, service


def heartbeat(
    device: str,
    *,
    stream: str = "streaming",
    down_since: float | None = None,
    dropped: int = 0,
    temperature: float | None = None,
) -> Heartbeat:
    return Heartbeat(
        device_id=device,
        ts=1_700_000_000.0,
        uptime_s=5.0,
        agent_version="1.0",
        spool_dropped=dropped,
        temperature_c=temperature,
        streams=[StreamHealth(stream_id="cam", state=stream, down_since=down_since)],  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("kwargs", "previous_dropped", "expected"),
    [
        ({}, None, ()),
        ({"stream": "failed"}, None, ("camera_down:cam",)),
        ({"stream": "connecting", "down_since": 1.0}, None, ("camera_down:cam",)),
        ({"stream": "stopped"}, None, ()),  # a video file that ended is not a fault
        ({"dropped": 7}, None, ()),  # no previous heartbeat: growth unknown
        ({"dropped": 7}, 7, ()),
        ({"dropped": 9}, 7, ("spool_dropping",)),
        ({"temperature": TOO_HOT_C - 0.5}, None, ()),
        ({"temperature": TOO_HOT_C}, None, ("too_hot",)),
        (
            {"stream": "failed", "dropped": 3, "temperature": 95.0},
            1,
            ("camera_down:cam", "spool_dropping", "too_hot"),
        ),
    ],
)
def test_warnings_of_a_heartbeat(
    kwargs: dict[str, object], previous_dropped: int | None, expected: tuple[str, ...]
) -> None:
    assert warnings_of(heartbeat("d", **kwargs), previous_dropped) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("presence", "warnings", "expected"),
    [
        ("online", (), "ON"),
        ("online", ("too_hot",), "WARNING"),
        ("offline", ("too_hot",), "OFF"),
        ("unknown", (), "OFF"),
        ("maintenance", (), "WARNING"),
        ("warning", (), "WARNING"),
    ],
)
def test_seed_status(presence: str, warnings: tuple[str, ...], expected: str) -> None:
    assert seed_status(presence, warnings) == expected


async def test_health_changes_of_an_online_device_are_announced(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "gw-" + uuid.uuid4().hex[:8]
    await add_devices(engine, org, [device])
    t0 = 1_800_000_000.0
    clock = Clock(t0)
    presence = service(engine, tmp_path, clock)
    published = RecordingPublisher()
    presence.publishers.append(published)
    await presence.load()
    locks = JobLocks(engine, "r1")

    async def at(second: float, hb: Heartbeat) -> list[tuple[str, str, list[str]]]:
        clock.now = t0 + second
        presence.observe([accepted(org, device, hb, clock.now)])
        published.updates.clear()
        assert await locks.run("health", 0, presence.sweep)
        mine = [u for u in published.updates if u.device_id == device]  # the database is shared
        return [(u.status, u.presence, u.warnings) for u in mine]

    try:
        assert await at(0, heartbeat(device)) == []  # online is debounced (2 s)
        assert await at(3, heartbeat(device)) == [("ON", "online", [])]
        assert await at(6, heartbeat(device, stream="failed")) == [
            ("WARNING", "online", ["camera_down:cam"])
        ]
        assert await at(9, heartbeat(device, stream="failed")) == []  # no change, no message
        assert await at(12, heartbeat(device, dropped=4)) == [
            ("WARNING", "online", ["spool_dropping"])
        ]
        assert await at(15, heartbeat(device, dropped=4)) == [("ON", "online", [])]
        assert await at(18, heartbeat(device, dropped=4, temperature=90.0)) == [
            ("WARNING", "online", ["too_hot"])
        ]
        assert await at(21, heartbeat(device, dropped=4)) == [("ON", "online", [])]
    finally:
        async with engine.begin() as conn:  # the database is shared by the run
            await conn.execute(delete(Device).where(Device.org_id == org))
            await conn.execute(delete(Organization).where(Organization.id == org))
