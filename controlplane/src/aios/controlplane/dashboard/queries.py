"""Reading events: filters and keyset pagination, newest first.

Each function binds its session to the caller's scope; the organization filter is then added
by the session (:mod:`aios.controlplane.db.scoped_session`), not here.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.dashboard.schemas import EventItem, EventPage
from aios.controlplane.db.models import EventRecord
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import InvalidRequestError, NotFoundError
from aios.controlplane.tenancy import Scope

MAX_LIMIT = 500


class EventFilter(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str | None = None
    stream_id: str | None = None
    event_type: str | None = None
    severity: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class _Cursor(msgspec.Struct, array_like=True, frozen=True):
    ts_us: int
    device_id: str
    id: str


def _encode(row: EventRecord) -> str:
    raw = msgspec.msgpack.encode(
        _Cursor(round(row.started_at.timestamp() * 1_000_000), row.device_id, row.id)
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.msgpack.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidRequestError("not a cursor of this endpoint", field="cursor") from None


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
    stmt = select(EventRecord)
    for column, value in (
        (EventRecord.device_id, filters.device_id),
        (EventRecord.stream_id, filters.stream_id),
        (EventRecord.event_type, filters.event_type),
        (EventRecord.severity, filters.severity),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.since is not None:
        stmt = stmt.where(EventRecord.started_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(EventRecord.started_at < filters.until)
    if cursor is not None:
        after = _decode(cursor)
        ts = datetime.fromtimestamp(after.ts_us / 1_000_000, UTC)
        key = tuple_(EventRecord.started_at, EventRecord.device_id, EventRecord.id)
        stmt = stmt.where(key < tuple_(ts, after.device_id, after.id))
    stmt = stmt.order_by(
        EventRecord.started_at.desc(), EventRecord.device_id.desc(), EventRecord.id.desc()
    ).limit(limit + 1)
    rows = list((await bind_scope(session, scope).scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(
        items=[to_item(r) for r in rows],
        next_cursor=_encode(rows[-1]) if more and rows else None,
    )


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
