"""Publication of presence changes: the ``device_status_update`` message and its publishers.

The live (WebSocket) domain plugs in by implementing :class:`StatusUpdatePublisher` and
appending it to :attr:`PresenceService.publishers
<aios.controlplane.presence.service.PresenceService.publishers>`; the update is the WebSocket's
:class:`aios.shared.live.DeviceStatusUpdate` itself. A publisher must not block:
it is awaited from the presence sweep. A failing publisher is logged and skipped, never stops
the sweep or the other publishers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from aios.shared.live import DeviceStatusUpdate

__all__ = [
    "DeviceStatusUpdate",
    "OutboxPublisher",
    "RecordingPublisher",
    "StatusUpdatePublisher",
    "publish_all",
]

log = logging.getLogger(__name__)


class StatusUpdatePublisher(Protocol):
    async def publish(self, updates: Sequence[DeviceStatusUpdate]) -> None:
        """Deliver ``updates`` (in order) to whoever listens; must not block for long."""


class OutboxPublisher(Protocol):
    """A publisher that writes into the database, in the sweep's own transaction (an outbox:
    the update commits atomically with the presence it reports). It must not open another
    transaction: on SQLite that second writer would wait for the sweep's, which waits for it."""

    async def publish_in(
        self, conn: AsyncConnection, updates: Sequence[DeviceStatusUpdate]
    ) -> None: ...


class RecordingPublisher:
    """A publisher that keeps every update (for tests, and as the simplest example)."""

    def __init__(self) -> None:
        self.updates: list[DeviceStatusUpdate] = []

    async def publish(self, updates: Sequence[DeviceStatusUpdate]) -> None:
        self.updates.extend(updates)


async def publish_all(
    publishers: Sequence[StatusUpdatePublisher], updates: Sequence[DeviceStatusUpdate]
) -> None:
    """Hand ``updates`` to every publisher; a failing one is logged and skipped."""
    if not updates:
        return
    for publisher in publishers:
        try:
            await publisher.publish(updates)
        except Exception:  # a listener's failure must not stop presence
            log.exception("status update publisher %r failed", publisher)
