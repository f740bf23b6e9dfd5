"""Writing live messages: producers call :func:`publish_live` inside their own transaction.

The message is only visible to the hubs once that transaction commits, so a dashboard never
hears of a change that was rolled back. Works on a connection or an (any-scope) session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aios.controlplane.db.models import LiveMessageRecord
from aios.shared.live import DeviceStatusUpdate, LiveMessage

RETENTION = timedelta(hours=1)


async def publish_live(
    conn: AsyncConnection | AsyncSession, messages: Sequence[LiveMessage]
) -> None:
    if not messages:
        return
    now = datetime.now(UTC)
    await conn.execute(
        insert(LiveMessageRecord),
        [
            {"org_id": m.org_id, "created_at": now, "message": msgspec.to_builtins(m)}
            for m in messages
        ],
    )


async def purge_live(conn: AsyncConnection) -> None:
    """Delete what every hub has long seen (a scheduler job)."""
    cutoff = datetime.now(UTC) - RETENTION
    await conn.execute(delete(LiveMessageRecord).where(LiveMessageRecord.created_at < cutoff))


class PresenceToLive:
    """A presence :class:`~aios.controlplane.presence.publisher.OutboxPublisher` that writes
    ``device_status_update`` in the presence sweep's own transaction."""

    async def publish_in(
        self, conn: AsyncConnection, updates: Sequence[DeviceStatusUpdate]
    ) -> None:
        await publish_live(conn, updates)
