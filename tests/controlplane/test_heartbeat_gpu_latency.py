"""GPU utilisation and per-stream latency travel from the heartbeat to the API; a heartbeat
from an agent that predates them is still stored (the fields are absent, not 0)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.codec import encode
from aios.shared.messages import Heartbeat, StreamHealth
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import offline_client, register_and_login


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    async with offline_client(engine, tmp_path, AIOS_JOBS_ENABLED="0") as c:
        yield c


async def _store(engine: AsyncEngine, org: str, device: str, payload: bytes) -> None:
    item = Inbound(
        topic=build_topic(org, device, Channel.HEARTBEAT),
        payload=payload,
        qos=0,
        mid=0,
        received_at=time.time(),
    )
    accepted = classify(item, prefix="aios", max_bytes=1 << 20)
    assert isinstance(accepted, Accepted), accepted
    await TelemetryStore(engine, auto_register=True).write([accepted], [])


async def test_gpu_and_stream_latency_reach_the_api(
    client: AsyncTestClient[Any], engine: AsyncEngine
) -> None:
    org = await register_and_login(client)
    device = "dev-" + uuid.uuid4().hex[:8]
    beat = Heartbeat(
        device_id=device,
        ts=time.time(),
        uptime_s=60.0,
        agent_version="0.2.0",
        gpu_percent=37.5,
        streams=[
            StreamHealth(
                stream_id="front", state="streaming", fps=14.8,
                latency_ms_p50=21.25, latency_ms_p95=48.5,
            ),
            StreamHealth(stream_id="back", state="connecting"),
        ],
    )  # fmt: skip
    await _store(engine, org, device, encode(beat))
    r = await client.get(f"/api/v1/fleet/{device}/heartbeat")
    assert r.status_code == 200, r.text
    got = r.json()["heartbeat"]
    assert got["gpu_percent"] == 37.5
    front, back = got["streams"]
    assert (front["latency_ms_p50"], front["latency_ms_p95"]) == (21.25, 48.5)
    assert (back["latency_ms_p50"], back["latency_ms_p95"]) == (None, None)


async def test_a_heartbeat_from_an_older_agent_is_still_stored(
    client: AsyncTestClient[Any], engine: AsyncEngine
) -> None:
    org = await register_and_login(client)
    device = "dev-" + uuid.uuid4().hex[:8]
    old = {  # what an agent without GPU or per-stream latency sends
        "type": "heartbeat", "v": 1, "device_id": device, "ts": time.time(),
        "uptime_s": 5.0, "agent_version": "0.1.0", "cpu_percent": 3.0,
        "streams": [{"stream_id": "front", "state": "streaming", "fps": 10.0}],
    }  # fmt: skip
    await _store(engine, org, device, json.dumps(old).encode())
    got = (await client.get(f"/api/v1/fleet/{device}/heartbeat")).json()["heartbeat"]
    assert got["cpu_percent"] == 3.0
    assert got["gpu_percent"] is None
    assert got["streams"][0]["latency_ms_p50"] is None
