"""SQLite as the embedded default: ingest, presence, jobs and the WebSocket together.

Devices go online then offline over MQTT while detections flow and the API is called: every
``device_status_update`` reaches the WebSocket, and no API call waits a second (the presence
publisher used to open a second write transaction inside the sweep's, which waited for SQLite's
busy timeout, 30 s, then failed with ``database is locked``).
"""

from __future__ import annotations

import asyncio
import queue
import time
import uuid
from pathlib import Path

import pytest
from litestar.testing.websocket_test_session import WebSocketTestSession

from aios.shared.codec import encode
from aios.shared.messages import DeviceStatus
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import Publisher, register_and_login, sqlite_app_with_ingest
from tests.controlplane.messages import detection_batch, heartbeat

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

DEVICES = 4
MAX_STALL_S = 1.0


async def _updates(ws: WebSocketTestSession, want: set[tuple[str, str]], timeout: float) -> None:
    """Read the socket until every ``(device, status)`` in ``want`` has arrived."""
    deadline = time.monotonic() + timeout
    while want:
        left = deadline - time.monotonic()
        assert left > 0, f"never delivered: {sorted(want)}"
        try:
            msg = await asyncio.to_thread(ws.receive_json, timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if msg.get("type") == "device_status_update":
            want.discard((msg["device_id"], msg["presence"]))


async def test_presence_jobs_ingest_and_websocket_never_stall(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, mosquitto_publisher: Publisher
) -> None:
    async with sqlite_app_with_ingest(
        tmp_path, mqtt_url, topic_prefix, AIOS_PRESENCE_DEBOUNCE_MS="0"
    ) as client:
        org = await register_and_login(client)
        token = client.headers["Authorization"].removeprefix("Bearer ")
        devices = [f"dev-{uuid.uuid4().hex[:8]}" for _ in range(DEVICES)]
        stalls: list[float] = []
        running = True

        async def call_api() -> None:  # a user clicking around meanwhile
            while running:
                started = time.monotonic()
                r = await client.get("/api/v1/fleet")
                stalls.append(time.monotonic() - started)
                assert r.status_code == 200, r.text
                await asyncio.sleep(0.05)

        def send(device: str, state: str, seq: int) -> None:
            status = DeviceStatus(device_id=device, state=state, ts=time.time())  # type: ignore[arg-type]
            mosquitto_publisher.publish(
                build_topic(org, device, Channel.STATUS, prefix=topic_prefix), encode(status)
            )
            if state == "online":
                mosquitto_publisher.publish(
                    build_topic(org, device, Channel.HEARTBEAT, prefix=topic_prefix),
                    heartbeat(device),
                )
            mosquitto_publisher.publish(
                build_topic(org, device, Channel.DETECTIONS, prefix=topic_prefix),
                detection_batch(device, seq),
            )

        async def scenario(ws: WebSocketTestSession) -> None:
            await asyncio.sleep(1.0)  # the hub starts polling from the newest message
            for d in devices:
                send(d, "online", 1)
            await _updates(ws, {(d, "online") for d in devices}, timeout=20)
            for d in devices:
                send(d, "offline", 2)
            await _updates(ws, {(d, "offline") for d in devices}, timeout=20)

        ws = await client.websocket_connect(f"/api/v1/ws?token={token}")
        with ws:
            api = asyncio.create_task(call_api())
            try:
                await asyncio.wait_for(scenario(ws), 60)
            finally:
                running = False
                await asyncio.wait_for(api, 40)
        assert stalls, "the API was never called"
        worst = max(stalls)
        assert worst < MAX_STALL_S, f"an API call took {worst:.1f} s"
