"""Reading events: filters and keyset pagination, newest first.

Each function binds its session to the caller's scope; the organization filter is then added
by the session (:mod:`aios.controlplane.db.scoped_session`), not here.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.dashboard.schemas import EventItem, EventPage
from aios.controlplane.db.keyset import Window, newest_first, select_window
from aios.controlplane.db.models import EventRecord
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import NotFoundError
from aios.controlplane.tenancy import Scope

MAX_LIMIT = 500


class EventFilter(Window, frozen=True, kw_only=True):
    event_type: str | None = None
    severity: str | None = None


_KEY = (EventRecord.started_at, EventRecord.device_id, EventRecord.id)


def to_item(row: EventRecord, *, has_snapshot: bool | None = None) -> EventItem:
    """The REST shape; ``snapshot_url`` when the event references a snapshot (or
    ``has_snapshot`` says the file exists)."""
    item = msgspec.convert(row, EventItem, from_attributes=True)
    present = row.snapshot is not None if has_snapshot is None else has_snapshot
    url = f"/api/v1/dashboard/events/{row.id}/snapshot?device_id={row.device_id}"
    return msgspec.structs.replace(item, snapshot_url=url if present else None)


async def list_events(
    session: AsyncSession, scope: Scope, filters: EventFilter, *, limit: int, cursor: str | None
) -> EventPage:
    stmt = select_window(EventRecord, filters, EventRecord.started_at)
    rows, next_cursor = await newest_first(
        bind_scope(session, scope), stmt, _KEY, limit=limit, cursor=cursor
    )
    return EventPage(items=[to_item(r) for r in rows], next_cursor=next_cursor)


async def get_event(
    session: AsyncSession, scope: Scope, event_id: str, device_id: str | None
) -> EventRecord:
    stmt = select(EventRecord).where(EventRecord.id == event_id)
    if device_id is not None:
        stmt = stmt.where(EventRecord.device_id == device_id)
    row = await bind_scope(session, scope).scalar(
        stmt.order_by(EventRecord.started_at.desc()).limit(1)
    )
    if row is None:
        raise NotFoundError(f"event {event_id} not found")
    return row
