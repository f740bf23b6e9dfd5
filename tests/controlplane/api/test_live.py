"""The WebSocket: token checks (close 1008), organization isolation, bounded queues."""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

import jwt
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.live.hub import Subscriber
from aios.controlplane.live.outbox import publish_live
from aios.controlplane.settings import Settings
from aios.shared.live import DeviceStatusUpdate
from tests.controlplane.api.conftest import Account


def status(org_id: str, device_id: str) -> DeviceStatusUpdate:
    now = time.time()
    return DeviceStatusUpdate(
        org_id=org_id, device_id=device_id, status="OFF", timestamp=now, presence="offline",
        previous="online", reason="last will", changed_at=now,
    )  # fmt: skip


async def next_message(
    ws: WebSocketTestSession, engine: AsyncEngine, org_id: str, tag: str
) -> dict[str, Any]:
    """Publish ``tag`` for ``org_id`` until the socket hears something (the hub positions
    itself at the newest message when it starts polling, so the first may precede it)."""
    for _ in range(20):
        async with engine.begin() as conn:
            await publish_live(conn, [status(org_id, tag)])
        try:
            return dict(await asyncio.to_thread(lambda: ws.receive_json(timeout=0.5)))
        except queue.Empty:
            continue
    raise AssertionError("no live message arrived")


async def test_messages_reach_their_organization_only(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    ws_a = await client.websocket_connect(f"/api/v1/ws?token={owner.access_token}")
    ws_b = await client.websocket_connect(f"/api/v1/ws?token={other_owner.access_token}")
    with ws_a, ws_b:
        got_a = await next_message(ws_a, engine, owner.org_id, "dev-a")
        assert got_a["type"] == "device_status_update"
        assert got_a["org_id"] == owner.org_id
        got_b = await next_message(ws_b, engine, other_owner.org_id, "dev-b")
        assert got_b["org_id"] == other_owner.org_id
        # Everything B receives afterwards is B's, although A's messages keep coming.
        async with engine.begin() as conn:
            await publish_live(
                conn, [status(owner.org_id, "dev-a2"), status(other_owner.org_id, "dev-b2")]
            )
        for _ in range(3):
            message = await asyncio.to_thread(lambda: ws_b.receive_json(timeout=3))
            assert message["org_id"] == other_owner.org_id
            if message["device_id"] == "dev-b2":
                break
        else:
            raise AssertionError("dev-b2 never arrived")


@pytest.mark.parametrize("token", ["", "garbage", "refresh", "expired"])
async def test_bad_tokens_close_with_policy_violation(
    client: AsyncTestClient[Any], owner: Account, api_settings: Settings, token: str
) -> None:
    now = int(time.time())
    value = {
        "": "",
        "garbage": "a.b.c",
        "refresh": owner.refresh_token,
        "expired": jwt.encode(
            {
                "sub": owner.user_id,
                "org": owner.org_id,
                "role": "owner",
                "typ": "access",
                "jti": "j",
                "iat": now - 7200,
                "exp": now - 3600,
                "iss": "aios-controlplane",
                "aud": "aios-api",
            },
            api_settings.secret_key.get(),
            algorithm="HS256",
        ),
    }[token]
    ws = await client.websocket_connect(f"/api/v1/ws?token={value}")
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=5)
    assert closed.value.code == 1008


async def test_slow_client_queue_is_bounded() -> None:
    subscriber = Subscriber("org", max_queue=100)
    for i in range(1000):
        subscriber.put({"i": i})
    assert len(subscriber) == 100
    assert subscriber.dropped == 900
    assert (await subscriber.get()) == {"i": 900}  # the oldest went first
