"""``/api/v1/ws?token=<access token>``: live messages of the caller's organization.

The token is checked after the WebSocket is accepted, so that a bad or expired token gets a
close frame with code 1008 (policy violation) rather than a bare refused handshake; the
connection is also closed with 1008 when the token expires. The server only sends; anything
the client sends is read and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.status_codes import WS_1008_POLICY_VIOLATION

from aios.controlplane.accounts.tokens import InvalidTokenError, TokenCodec, TokenType
from aios.controlplane.db.models import Role
from aios.controlplane.live.hub import LiveHub, Subscriber


async def _pump(socket: WebSocket[Any, Any, Any], subscriber: Subscriber) -> None:
    while True:
        await socket.send_json(await subscriber.get())


async def _drain(socket: WebSocket[Any, Any, Any]) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")


@websocket("/api/v1/ws", exclude_from_auth=True)
async def live(
    socket: WebSocket[Any, Any, Any],
    live_hub: NamedDependency[LiveHub],
    token_codec: NamedDependency[TokenCodec],
) -> None:
    await socket.accept()
    try:
        claims = token_codec.verify(socket.query_params.get("token") or "", TokenType.ACCESS)
        Role(claims.role)
    except (InvalidTokenError, ValueError):
        await socket.close(code=WS_1008_POLICY_VIOLATION, reason="invalid or expired token")
        return
    subscriber = live_hub.subscribe(claims.org)
    pump = asyncio.create_task(_pump(socket, subscriber))
    drain = asyncio.create_task(_drain(socket))
    try:
        done, _ = await asyncio.wait(
            {pump, drain},
            timeout=max(0.0, claims.exp - time.time()),
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not done:  # the token expired while connected
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.close(code=WS_1008_POLICY_VIOLATION, reason="token expired")
    finally:
        pump.cancel()
        drain.cancel()
        live_hub.unsubscribe(subscriber)
        for task in (pump, drain):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


ROUTES = [live]
