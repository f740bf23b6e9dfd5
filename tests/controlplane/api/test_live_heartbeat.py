"""Heartbeats are pushed over the WebSocket (``device_heartbeat``): the console's device page
follows a device's health without polling."""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import LiveMessageRecord
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.codec import encode
from aios.shared.messages import Heartbeat
from aios.shared.topics import Channel, build_topic
from tests.controlplane.api.conftest import Account


async def _device(client: AsyncTestClient[Any], owner: Account) -> str:
    created = await client.post("/api/v1/fleet", headers=owner.headers, json={"name": "gw"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _beats(engine: AsyncEngine, org_id: str, device_id: str, uptimes: list[float]) -> None:
    """One ingest flush holding a heartbeat of ``device_id`` per uptime, in that order."""
    items = [
        Inbound(
            topic=build_topic(org_id, device_id, Channel.HEARTBEAT),
            payload=encode(
                Heartbeat(device_id=device_id, ts=time.time(), uptime_s=u, agent_version="1.0")
            ),
            qos=0,
            mid=i,
            received_at=time.time(),
        )
        for i, u in enumerate(uptimes)
    ]
    accepted = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    assert all(isinstance(a, Accepted) for a in accepted)
    await TelemetryStore(engine, auto_register=False).write(accepted, [])  # type: ignore[arg-type]


async def test_the_latest_heartbeat_of_a_flush_is_told_live(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    await _beats(engine, owner.org_id, device_id, [1.0, 2.0, 3.0])
    async with engine.connect() as conn:
        told = (
            await conn.scalars(
                select(LiveMessageRecord.message).where(LiveMessageRecord.org_id == owner.org_id)
            )
        ).all()
    beats = [m for m in told if m["type"] == "device_heartbeat"]
    assert [(m["device_id"], m["heartbeat"]["uptime_s"]) for m in beats] == [(device_id, 3.0)]
    stored = await client.get(f"/api/v1/fleet/{device_id}/heartbeat", headers=owner.headers)
    assert beats[0]["heartbeat"] == stored.json()["heartbeat"]  # what the page would have polled


async def test_a_heartbeat_reaches_the_websocket_of_its_organization(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    device_id = await _device(client, owner)
    ws = await client.websocket_connect(f"/api/v1/ws?token={owner.access_token}")
    other = await client.websocket_connect(f"/api/v1/ws?token={other_owner.access_token}")
    with ws, other:
        for attempt in range(20):  # the hub starts at the newest message: the first may precede it
            await _beats(engine, owner.org_id, device_id, [10.0 + attempt])
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
        try:
            leaked = await asyncio.to_thread(lambda: other.receive_json(timeout=1.0))
        except queue.Empty:
            leaked = None
        assert leaked is None, "another organization heard of it"
