"""``GET /api/v1/dashboard/analytics``: detection counts over time buckets, event counts.

Detection counts come only from the rollups (``detection_counts_1m`` / ``_1h``, or their
TimescaleDB continuous aggregates), never from raw detections: a bucket of a whole number of
hours reads the hourly rollup, anything finer the per-minute one. The database sums per source
bucket and group; coarser buckets are folded here (at most a few thousand rows). Event counts by
type and severity come from ``events`` (indexed by ``(org_id, started_at)``). Every statement is
scoped by the caller's organization (:class:`~aios.controlplane.tenancy.OrgScope`).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db.models import DetectionCount1h, DetectionCount1m, EventRecord
from aios.controlplane.db.storage.backend import StorageKind, detect_kind
from aios.controlplane.db.storage.timescale import cagg_name
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.tenancy import OrgScope

BUCKETS: dict[str, int] = {
    "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400,
}  # fmt: skip
MAX_RANGE = timedelta(days=400)
MAX_POINTS = 20_000


class GroupBy(str, enum.Enum):
    LABEL = "label"
    DEVICE = "device"
    STREAM = "stream"


class Point(msgspec.Struct, frozen=True, kw_only=True):
    t: datetime
    count: int


class Series(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    total: int
    points: list[Point]


class EventCount(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str
    severity: str
    count: int


class Analytics(msgspec.Struct, frozen=True, kw_only=True):
    """Detection counts per ``bucket`` and group (``series``, newest bucket last), and event
    counts by type and severity, over ``[since, until)`` (aligned to the bucket)."""

    since: datetime
    until: datetime
    bucket: str
    group_by: GroupBy
    source: str
    series: list[Series]
    events: list[EventCount]


class AnalyticsQuery(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime
    until: datetime
    bucket: str = "1h"
    group_by: GroupBy = GroupBy.LABEL
    device_id: str | None = None
    stream_id: str | None = None
    label: str | None = None


def _floor(t: datetime, width: int) -> datetime:
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, UTC)


def _source(width: int, kind: StorageKind) -> tuple[str, Any]:
    model: Any = DetectionCount1h if width % 3600 == 0 else DetectionCount1m
    name = model.__tablename__
    if kind is StorageKind.TIMESCALE:
        name = cagg_name(name)
        cols = ("org_id", "bucket", "device_id", "stream_id", "label", "count")
        view = table(name, *(column(c) for c in cols))
        return name, view.c
    return name, model


async def detection_analytics(
    session: AsyncSession, scope: OrgScope, query: AnalyticsQuery
) -> Analytics:
    width = BUCKETS.get(query.bucket)
    if width is None:
        raise InvalidRequestError(f"must be one of {', '.join(BUCKETS)}", field="bucket")
    since, until = _floor(query.since, width), query.until
    if until <= since:
        raise InvalidRequestError("must be after since", field="until")
    if until - since > MAX_RANGE or (until - since).total_seconds() / width > MAX_POINTS:
        raise InvalidRequestError("range too long for this bucket", field="since")
    conn = await session.connection()
    kind = await conn.run_sync(detect_kind)
    name, src = _source(width, kind)
    key_col: ColumnElement[Any] = {
        GroupBy.LABEL: src.label,
        GroupBy.DEVICE: src.device_id,
        GroupBy.STREAM: src.stream_id,
    }[query.group_by]
    stmt = (
        select(src.bucket, key_col.label("key"), func.sum(src.count).label("n"))
        .where(src.bucket >= since, src.bucket < until)
        .group_by(src.bucket, key_col)
    )
    stmt = scope.where(stmt, src.org_id)
    for value, col in (
        (query.device_id, src.device_id),
        (query.stream_id, src.stream_id),
        (query.label, src.label),
    ):
        if value is not None:
            stmt = stmt.where(col == value)
    buckets: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for bucket, key, n in await session.execute(stmt):
        b = bucket if isinstance(bucket, datetime) else datetime.fromisoformat(str(bucket))
        b = b.replace(tzinfo=UTC) if b.tzinfo is None else b
        buckets[str(key)][_floor(b, width)] += int(n)
    series = [
        Series(
            key=key,
            total=sum(points.values()),
            points=[Point(t=t, count=n) for t, n in sorted(points.items())],
        )
        for key, points in sorted(buckets.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    return Analytics(
        since=since,
        until=until,
        bucket=query.bucket,
        group_by=query.group_by,
        source=name,
        series=series,
        events=await event_counts(session, scope, since, until, query),
    )


async def event_counts(
    session: AsyncSession, scope: OrgScope, since: datetime, until: datetime, q: AnalyticsQuery
) -> list[EventCount]:
    stmt: Any = (
        select(EventRecord.event_type, EventRecord.severity, func.count().label("n"))
        .where(EventRecord.started_at >= since, EventRecord.started_at < until)
        .group_by(EventRecord.event_type, EventRecord.severity)
        .order_by(EventRecord.event_type, EventRecord.severity)
    )
    stmt = scope.where(stmt, EventRecord.org_id)
    if q.device_id is not None:
        stmt = stmt.where(EventRecord.device_id == q.device_id)
    if q.stream_id is not None:
        stmt = stmt.where(EventRecord.stream_id == q.stream_id)
    return [
        EventCount(event_type=t, severity=s, count=int(n))
        for t, s, n in await session.execute(stmt)
    ]
