"""The seed's fleet contract: ``PUT /fleet/{id}/status`` takes ``ON``/``OFF``/``WARNING`` and
``/fleet/summary`` counts devices by those values (``by_seed_status``)."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device
from aios.shared.messages import Heartbeat, StreamHealth
from tests.controlplane.api.conftest import Account
from tests.controlplane.api.test_fleet import create_device


@pytest.mark.parametrize(
    ("seed", "stored"), [("ON", "online"), ("OFF", "offline"), ("WARNING", "warning")]
)
async def test_put_status_accepts_the_seed_values(
    client: AsyncTestClient[Any], owner: Account, seed: str, stored: str
) -> None:
    device = await create_device(client, owner, "Lobby", [])
    r = await client.put(
        f"/api/v1/fleet/{device}/status", headers=owner.headers, json={"status": seed}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == stored
    assert r.json()["seed_status"] == seed
    bad = await client.put(
        f"/api/v1/fleet/{device}/status", headers=owner.headers, json={"status": "on"}
    )
    assert bad.status_code == 400


async def test_summary_counts_the_seed_statuses(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    ids = [await create_device(client, owner, f"d{i}", []) for i in range(5)]
    for device, status in zip(ids, ["ON", "ON", "OFF", "WARNING"], strict=False):
        r = await client.put(
            f"/api/v1/fleet/{device}/status", headers=owner.headers, json={"status": status}
        )
        assert r.status_code == 200, r.text
    hot = Heartbeat(
        device_id=ids[1],
        ts=time.time(),
        uptime_s=1.0,
        agent_version="1",
        temperature_c=91.0,
        streams=[StreamHealth(stream_id="cam", state="streaming")],
    )
    async with engine.begin() as conn:  # online, but its last heartbeat is too hot
        await conn.execute(
            update(Device)
            .where(Device.id == ids[1])
            .values(last_heartbeat=msgspec.to_builtins(hot))
        )
    summary = (await client.get("/api/v1/fleet/summary", headers=owner.headers)).json()
    assert summary["total"] == 5
    assert summary["by_status"] == {"online": 2, "offline": 1, "warning": 1, "unknown": 1}
    assert summary["by_seed_status"] == {"ON": 1, "OFF": 2, "WARNING": 2}
    listed = (await client.get(f"/api/v1/fleet/{ids[1]}", headers=owner.headers)).json()
    assert listed["seed_status"] == "WARNING"
