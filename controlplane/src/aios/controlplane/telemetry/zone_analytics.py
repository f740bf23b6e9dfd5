"""``GET /api/v1/dashboard/analytics/zones``: detections per zone over time.

Read only from the zone rollups (``detection_zone_counts_1m`` / ``_1h``, maintained at ingest on
every backend): a bucket of a whole number of hours reads the hourly rollup, anything finer the
per-minute one. One series per zone (or per class, device or camera, for the filtered zone);
detections in no zone are not counted here, and one detection standing in two zones counts in
both. Scoped by the caller's organization (:class:`~aios.controlplane.tenancy.OrgScope`), like
the other analytics; the console downloads the same numbers as CSV.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.db.base import Base
from aios.controlplane.db.models import DetectionZoneCount1h, DetectionZoneCount1m
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.telemetry.analytics import BUCKETS, MAX_POINTS, MAX_RANGE, Point, Series
from aios.controlplane.telemetry.queries import parse_time
from aios.controlplane.tenancy import OrgScope


class ZoneGroup(str, enum.Enum):
    ZONE = "zone"
    LABEL = "label"
    DEVICE = "device"
    STREAM = "stream"


_KEY_COLUMN = {
    ZoneGroup.ZONE: "zone_id",
    ZoneGroup.LABEL: "label",
    ZoneGroup.DEVICE: "device_id",
    ZoneGroup.STREAM: "stream_id",
}


class ZoneAnalytics(msgspec.Struct, frozen=True, kw_only=True):
    """Detections counted in zones per ``bucket``, one series per group key (largest first,
    newest bucket last), over ``[since, until)`` (``since`` aligned to the bucket)."""

    since: datetime
    until: datetime
    bucket: str
    group_by: ZoneGroup
    source: str
    series: list[Series]


def _bucket_start(t: datetime, width: int) -> datetime:
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, UTC)


async def zone_analytics(
    session: AsyncSession,
    scope: OrgScope,
    window: tuple[datetime, datetime, str],
    group_by: ZoneGroup,
    filters: Mapping[str, str | None],
) -> ZoneAnalytics:
    """Counts over ``window`` (since, until, bucket name) by ``group_by``; ``filters`` maps
    rollup columns (``device_id``, ``stream_id``, ``zone_id``, ``label``) to a value or ``None``."""
    start, until, bucket = window
    width = BUCKETS.get(bucket)
    if width is None:
        raise InvalidRequestError(f"must be one of {', '.join(BUCKETS)}", field="bucket")
    since = _bucket_start(start, width)
    if until <= since:
        raise InvalidRequestError("must be after since", field="until")
    if until - since > MAX_RANGE or (until - since).total_seconds() / width > MAX_POINTS:
        raise InvalidRequestError("range too long for this bucket", field="since")
    model = DetectionZoneCount1h if width % 3600 == 0 else DetectionZoneCount1m
    src = Base.metadata.tables[model.__tablename__].c
    key: ColumnElement[Any] = src[_KEY_COLUMN[group_by]]
    stmt: Any = (
        select(src.bucket, key, func.sum(src.count))
        .where(src.bucket >= since, src.bucket < until)
        .group_by(src.bucket, key)
    )
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(src[column] == value)
    counts: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for t, value, n in await bind_scope(session, scope).execute(stmt):
        counts[str(value)][_bucket_start(t if t.tzinfo else t.replace(tzinfo=UTC), width)] += int(n)
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return ZoneAnalytics(
        since=since,
        until=until,
        bucket=bucket,
        group_by=group_by,
        source=model.__tablename__,
        series=[
            Series(
                key=k,
                total=sum(points.values()),
                points=[Point(t=t, count=n) for t, n in sorted(points.items())],
            )
            for k, points in ranked
        ],
    )


class ZoneQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What ``GET /api/v1/dashboard/analytics/zones`` asks: a window, a grouping, filters
    (rollup column -> value)."""

    window: tuple[datetime, datetime, str]
    group_by: ZoneGroup
    filters: dict[str, str | None]


Id = Annotated[str | None, QueryParameter(max_length=64)]


async def provide_zone_query(
    zone_id: Id = None,
    label: Annotated[str | None, QueryParameter(max_length=256)] = None,
    group_by: FromQuery[ZoneGroup] = ZoneGroup.ZONE,
    device_id: Id = None,
    stream_id: Id = None,
    since: Annotated[str | None, QueryParameter(description="default until - 24 h")] = None,
    until: Annotated[str | None, QueryParameter(description="default: now")] = None,
    bucket: Annotated[str, QueryParameter(description=", ".join(BUCKETS))] = "1h",
) -> ZoneQuery:
    end = datetime.now(UTC) if until is None else parse_time(until, field="until")
    start = end - timedelta(hours=24) if since is None else parse_time(since, field="since")
    filters = {"zone_id": zone_id, "label": label, "device_id": device_id, "stream_id": stream_id}
    return ZoneQuery(window=(start, end, bucket), group_by=group_by, filters=filters)


@get(
    "/api/v1/dashboard/analytics/zones",
    guards=[CAN_READ],
    tags=["dashboard"],
    dependencies={"zone_query": Provide(provide_zone_query)},
    summary="Detections counted in zones per time bucket, by zone, class, device or camera",
)
async def get_zone_analytics(
    db_session: NamedDependency[AsyncSession],
    org_scope: NamedDependency[OrgScope],
    zone_query: NamedDependency[ZoneQuery],
) -> ZoneAnalytics:
    q = zone_query
    return await zone_analytics(db_session, org_scope, q.window, q.group_by, q.filters)


ROUTES = [get_zone_analytics]
