"""Per-replica fan-out of live messages to WebSocket connections, fed by polling the outbox.

Every replica polls ``live_messages`` for ids past the last one it saw (starting from the
newest at start-up: no replay) while at least one connection is open, and hands each message to
the connections of its organization only. A connection's queue is bounded: when a slow client
falls behind, the oldest messages are dropped and counted (:attr:`Subscriber.dropped`), so
memory stays bounded whatever the client does. A failed poll (the database restarting: an
SQLAlchemy error or the ``OSError`` of a refused connection) is counted and retried at the
next interval, so connected clients get the messages again once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import LiveMessageRecord
from aios.controlplane.db.scoped_session import system_connection
from aios.controlplane.tenancy import LIVE_HUB

log = logging.getLogger(__name__)


class Subscriber:
    """One connection's bounded queue (oldest dropped first)."""

    def __init__(self, org_id: str, max_queue: int) -> None:
        self.org_id = org_id
        self.dropped = 0
        self._items: deque[dict[str, Any]] = deque()
        self._max = max_queue
        self._ready = asyncio.Event()

    def put(self, message: dict[str, Any]) -> None:
        if len(self._items) >= self._max:
            self._items.popleft()
            self.dropped += 1
        self._items.append(message)
        self._ready.set()

    async def get(self) -> dict[str, Any]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)


class LiveHub:
    def __init__(
        self, engine: AsyncEngine, *, poll_interval_s: float = 0.25, max_queue: int = 1000
    ) -> None:
        self._engine = engine
        self._interval = poll_interval_s
        self._max_queue = max_queue
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_id: int | None = None
        self.poll_errors = 0  # failed polls (the database unreachable), retried

    @property
    def clients(self) -> int:
        """Open connections (WebSocket clients) on this replica."""
        return sum(len(group) for group in self._subscribers.values())

    def subscribe(self, org_id: str) -> Subscriber:
        subscriber = Subscriber(org_id, self._max_queue)
        self._subscribers.setdefault(org_id, set()).add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="live-hub")
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        group = self._subscribers.get(subscriber.org_id)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._subscribers[subscriber.org_id]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while self._subscribers:
            try:
                await self._poll_once()
            except Exception as exc:  # the database is down (SQLAlchemy or OSError): keep trying
                self.poll_errors += 1
                log.warning("live hub cannot read the outbox: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)
        self._task = None
        self._last_id = None  # the next subscriber starts from the newest, not from here

    async def _poll_once(self) -> None:
        async with system_connection(self._engine, LIVE_HUB) as conn:
            if self._last_id is None:
                self._last_id = int(await conn.scalar(select(func.max(LiveMessageRecord.id))) or 0)
                return
            rows = (
                await conn.execute(
                    select(
                        LiveMessageRecord.id, LiveMessageRecord.org_id, LiveMessageRecord.message
                    )
                    .where(LiveMessageRecord.id > self._last_id)
                    .order_by(LiveMessageRecord.id)
                    .limit(1000)
                )
            ).all()
        for row in rows:
            self._last_id = row.id
            for subscriber in self._subscribers.get(row.org_id, ()):
                subscriber.put(row.message)
