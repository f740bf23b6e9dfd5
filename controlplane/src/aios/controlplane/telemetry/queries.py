"""Reading detections: filters and keyset pagination (newest first), always org-scoped."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db.keyset import Window, newest_first, select_window
from aios.controlplane.db.models import Detection
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.telemetry.schemas import DetectionItem, DetectionPage
from aios.controlplane.tenancy import OrgScope

MAX_LIMIT = 1000


class DetectionFilter(Window, frozen=True, kw_only=True):
    label: str | None = None
    class_id: int | None = None


_KEY = (Detection.ts, Detection.device_id, Detection.seq, Detection.idx)


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
    stmt = select_window(Detection, filters, Detection.ts)
    rows, next_cursor = await newest_first(
        bind_scope(session, scope), stmt, _KEY, limit=limit, cursor=cursor
    )
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
        next_cursor=next_cursor,
    )
