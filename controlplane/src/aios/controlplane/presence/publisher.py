"""Publication of presence changes: the ``device_status_update`` message and its publishers.

The live (WebSocket) domain plugs in by implementing :class:`StatusUpdatePublisher` and
appending it to :attr:`PresenceService.publishers
<aios.controlplane.presence.service.PresenceService.publishers>`; until ``aios.shared.live``
defines the WebSocket shape, :class:`DeviceStatusUpdate` is it. A publisher must not block:
it is awaited from the presence sweep. A failing publisher is logged and skipped, never stops
the sweep or the other publishers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)


class DeviceStatusUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A device's published presence changed (``type`` is ``device_status_update``)."""

    type: Literal["device_status_update"] = "device_status_update"
    org_id: str
    device_id: str
    status: str
    previous: str
    reason: str
    changed_at: float


class StatusUpdatePublisher(Protocol):
    async def publish(self, updates: Sequence[DeviceStatusUpdate], conn: AsyncConnection) -> None:
        """Deliver ``updates`` (in order) to whoever listens; must not block for long.

        ``conn`` is the presence job's connection, inside the transaction that records the
        changes: a publisher that writes to the database writes there (a second connection
        would wait for that transaction's write lock on SQLite)."""


class RecordingPublisher:
    """A publisher that keeps every update (for tests, and as the simplest example)."""

    def __init__(self) -> None:
        self.updates: list[DeviceStatusUpdate] = []

    async def publish(self, updates: Sequence[DeviceStatusUpdate], conn: AsyncConnection) -> None:
        self.updates.extend(updates)


async def publish_all(
    publishers: Sequence[StatusUpdatePublisher],
    updates: Sequence[DeviceStatusUpdate],
    conn: AsyncConnection,
) -> None:
    """Hand ``updates`` to every publisher; a failing one is logged and skipped."""
    if not updates:
        return
    for publisher in publishers:
        try:
            await publisher.publish(updates, conn)
        except Exception:  # a listener's failure must not stop presence
            log.exception("status update publisher %r failed", publisher)
