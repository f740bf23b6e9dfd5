"""``/api/v1/ws?token=<access token>``: live messages of the caller's organization.

The token is checked after the WebSocket is accepted, so that a bad or expired token gets a
close frame with code 1008 (policy violation) rather than a bare refused handshake; the
connection is also closed with 1008 when the token expires, and when the caller's access ends
(deletion, deactivation, logout, a revoked login: re-checked every ``RECHECK_S`` seconds, as
on every HTTP request, see :mod:`aios.controlplane.accounts.principal`). The server only sends;
anything the client sends is read and ignored.
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

from aios.controlplane.accounts.principal import PrincipalLookup
from aios.controlplane.accounts.tokens import InvalidTokenError, TokenCodec, TokenType
from aios.controlplane.live.hub import LiveHub, Subscriber

RECHECK_S = 30.0


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
    principals: NamedDependency[PrincipalLookup],
) -> None:
    await socket.accept()
    try:
        claims = token_codec.verify(socket.query_params.get("token") or "", TokenType.ACCESS)
        caller = await principals.caller(claims)
    except InvalidTokenError:
        await socket.close(code=WS_1008_POLICY_VIOLATION, reason="invalid or expired token")
        return
    subscriber = live_hub.subscribe(caller.org_id)
    pump = asyncio.create_task(_pump(socket, subscriber))
    drain = asyncio.create_task(_drain(socket))
    try:
        reason = None
        while reason is None:
            left = claims.exp - time.time()
            done, _ = await asyncio.wait(
                {pump, drain},
                timeout=max(0.0, min(left, RECHECK_S)),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if done:
                break
            if left <= RECHECK_S:
                reason = "token expired"
                break
            try:
                await principals.caller(claims)
            except InvalidTokenError:
                reason = "access revoked"
        if reason is not None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.close(code=WS_1008_POLICY_VIOLATION, reason=reason)
    finally:
        pump.cancel()
        drain.cancel()
        live_hub.unsubscribe(subscriber)
        for task in (pump, drain):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


ROUTES = [live]
