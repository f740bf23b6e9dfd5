"""Reading detections: filters and keyset pagination (newest first), always org-scoped."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db.models import Detection
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.telemetry.schemas import DetectionItem, DetectionPage
from aios.controlplane.tenancy import OrgScope

MAX_LIMIT = 1000


class DetectionFilter(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str | None = None
    stream_id: str | None = None
    label: str | None = None
    class_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


class _Cursor(msgspec.Struct, array_like=True, frozen=True):
    ts_us: int
    device_id: str
    seq: int
    idx: int


def parse_time(value: str, *, field: str) -> datetime:
    """ISO 8601 (naive means UTC) or Unix seconds, as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError("must be an ISO 8601 time or Unix seconds", field=field) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _encode_cursor(row: Detection) -> str:
    ts_us = round(row.ts.timestamp() * 1_000_000)
    raw = msgspec.msgpack.encode(_Cursor(ts_us, row.device_id, row.seq, row.idx))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.msgpack.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidRequestError(
            "is not a cursor returned by this endpoint", field="cursor"
        ) from None


async def list_detections(
    session: AsyncSession,
    scope: OrgScope,
    filters: DetectionFilter,
    *,
    limit: int,
    cursor: str | None,
) -> DetectionPage:
    """A page of ``scope``'s detections matching ``filters``, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"must be between 1 and {MAX_LIMIT}", field="limit")
    stmt = select(Detection)
    if filters.device_id is not None:
        stmt = stmt.where(Detection.device_id == filters.device_id)
    if filters.stream_id is not None:
        stmt = stmt.where(Detection.stream_id == filters.stream_id)
    if filters.label is not None:
        stmt = stmt.where(Detection.label == filters.label)
    if filters.class_id is not None:
        stmt = stmt.where(Detection.class_id == filters.class_id)
    if filters.since is not None:
        stmt = stmt.where(Detection.ts >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Detection.ts < filters.until)
    if cursor is not None:
        after = _decode_cursor(cursor)
        ts = datetime.fromtimestamp(after.ts_us / 1_000_000, UTC)
        key = tuple_(Detection.ts, Detection.device_id, Detection.seq, Detection.idx)
        stmt = stmt.where(key < tuple_(ts, after.device_id, after.seq, after.idx))
    stmt = stmt.order_by(
        Detection.ts.desc(), Detection.device_id.desc(), Detection.seq.desc(), Detection.idx.desc()
    ).limit(limit + 1)
    rows = list((await bind_scope(session, scope).scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return DetectionPage(
        items=[
            DetectionItem(
                device_id=r.device_id,
                stream_id=r.stream_id,
                ts=r.ts,
                label=r.label,
                class_id=r.class_id,
                confidence=r.confidence,
                xyxy=(r.x1, r.y1, r.x2, r.y2),
                track_id=r.track_id,
                seq=r.seq,
                frame_index=r.frame_index,
            )
            for r in rows
        ],
        next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
    )
