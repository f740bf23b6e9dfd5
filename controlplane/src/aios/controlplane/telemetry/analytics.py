"""``GET /api/v1/dashboard/analytics``: detection counts over time buckets, event counts.

Detection counts come only from the rollups (``detection_counts_1m`` / ``_1h``, or their
TimescaleDB continuous aggregates), never from raw detections: a bucket of a whole number of
hours reads the hourly rollup, anything finer the per-minute one. The database sums per source
bucket and group; coarser buckets are folded here (at most a few thousand rows). Event counts by
type and severity come from ``events`` (indexed by ``(org_id, started_at)``), unless the caller
opts out (``events=false``). Every statement is scoped by the caller's organization
(:class:`~aios.controlplane.tenancy.OrgScope`), applied where the statements run
(:mod:`aios.controlplane.db.scoped_session`).

Per request this is one or two Core statements on the session's connection (no ORM entities,
no per-row objects); the storage kind (rollup tables or continuous aggregates) is detected once
per engine (:func:`~aios.controlplane.db.storage.backend.cached_kind`). The rollups' primary
keys start with ``(org_id, bucket)``, and TimescaleDB gives a continuous aggregate an index
``(org_id, bucket DESC)`` per group column by default, so a day of one organization is an
index range scan either way (no further index needed).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, TableClause, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aios.controlplane.db.base import Base
from aios.controlplane.db.models import DetectionCount1h, DetectionCount1m, EventRecord
from aios.controlplane.db.scoped_session import bind_scope, scope_options
from aios.controlplane.db.storage.backend import StorageKind, cached_kind
from aios.controlplane.db.storage.timescale import cagg_name
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.tenancy import OrgScope

ROLLUP_COLUMNS = ("org_id", "bucket", "device_id", "stream_id", "label", "count")
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
    events: bool = True  # also count events (one more indexed query)


def _floor(t: datetime, width: int) -> datetime:
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, UTC)


def _source(width: int, kind: StorageKind) -> TableClause:
    """The coarsest rollup that answers buckets of ``width`` seconds, as a Core table."""
    name = (DetectionCount1h if width % 3600 == 0 else DetectionCount1m).__tablename__
    if kind is StorageKind.TIMESCALE:
        return _CAGGS[name]
    return Base.metadata.tables[name]


_CAGGS: dict[str, TableClause] = {
    t: table(cagg_name(t), *(column(c) for c in ROLLUP_COLUMNS))
    for t in (DetectionCount1m.__tablename__, DetectionCount1h.__tablename__)
}


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
    # Core statements on the session's connection: no ORM compilation, no per-row objects
    conn = await bind_scope(session, scope).connection()
    rollup = _source(width, await cached_kind(conn))
    src = rollup.c
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
    for value, col in (
        (query.device_id, src.device_id),
        (query.stream_id, src.stream_id),
        (query.label, src.label),
    ):
        if value is not None:
            stmt = stmt.where(col == value)
    buckets: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for bucket, key, n in await conn.execute(stmt):
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
        source=rollup.name,
        series=series,
        events=await event_counts(conn, scope, since, until, query) if query.events else [],
    )


async def event_counts(
    conn: AsyncConnection, scope: OrgScope, since: datetime, until: datetime, q: AnalyticsQuery
) -> list[EventCount]:
    """Events by type and severity that started in ``[since, until)`` (index
    ``(org_id, started_at)``)."""
    events = Base.metadata.tables[EventRecord.__tablename__].c
    stmt: Any = (
        select(events.event_type, events.severity, func.count().label("n"))
        .where(events.started_at >= since, events.started_at < until)
        .group_by(events.event_type, events.severity)
        .order_by(events.event_type, events.severity)
    )
    if q.device_id is not None:
        stmt = stmt.where(events.device_id == q.device_id)
    if q.stream_id is not None:
        stmt = stmt.where(events.stream_id == q.stream_id)
    rows = await conn.execute(stmt, execution_options=scope_options(scope))
    return [EventCount(event_type=t, severity=s, count=int(n)) for t, s, n in rows]
