"""``GET /api/v1/dashboard/analytics/events``: events over time by zone, type, device or camera.

Events carry the zone (or line) their rule hangs off; detections per zone are counted apart
(:mod:`aios.controlplane.telemetry.zone_analytics`). Events are few next to detections
(a rule fires at most once per cooldown), so they are counted from the ``events`` table itself,
bucketed here, capped at :data:`MAX_EVENTS` rows per query.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.db.models import EventRecord
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.telemetry.analytics import BUCKETS, Point, Series
from aios.controlplane.telemetry.queries import parse_time
from aios.controlplane.tenancy import OrgScope

MAX_EVENTS = 100_000
MAX_RANGE = timedelta(days=400)
NO_ZONE = "(no zone)"


class EventGroup(str, enum.Enum):
    ZONE = "zone"
    TYPE = "type"
    DEVICE = "device"
    STREAM = "stream"


class EventAnalytics(msgspec.Struct, frozen=True, kw_only=True):
    """Event counts per bucket (by start time), one series per group key; ``truncated`` when
    the range held more than :data:`MAX_EVENTS` events (the oldest are left out)."""

    since: datetime
    until: datetime
    bucket: str
    group_by: EventGroup
    series: list[Series]
    truncated: bool


def _key(group: EventGroup) -> ColumnElement[Any]:
    columns: dict[EventGroup, ColumnElement[Any]] = {
        EventGroup.ZONE: EventRecord.__table__.c.zone_id,
        EventGroup.TYPE: EventRecord.__table__.c.event_type,
        EventGroup.DEVICE: EventRecord.__table__.c.device_id,
        EventGroup.STREAM: EventRecord.__table__.c.stream_id,
    }
    return columns[group]


class EventAnalyticsController(Controller):
    path = "/api/v1/dashboard/analytics/events"
    tags = ["dashboard"]

    @get(
        "/",
        guards=[CAN_READ],
        summary="Event counts per time bucket by zone, type, device or camera",
    )
    async def event_analytics(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        since: Annotated[str | None, QueryParameter(description="default until - 24 h")] = None,
        until: Annotated[str | None, QueryParameter(description="default: now")] = None,
        bucket: Annotated[str, QueryParameter(description=", ".join(BUCKETS))] = "1h",
        group_by: FromQuery[EventGroup] = EventGroup.ZONE,
        device_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        stream_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        event_type: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> EventAnalytics:
        end = datetime.now(UTC) if until is None else parse_time(until, field="until")
        start = end - timedelta(hours=24) if since is None else parse_time(since, field="since")
        if start >= end or end - start > MAX_RANGE:
            raise InvalidRequestError("since must be before until, at most 400 days", field="since")
        width = BUCKETS.get(bucket)
        if width is None:
            raise InvalidRequestError(f"must be one of {', '.join(BUCKETS)}", field="bucket")
        key = _key(group_by)
        stmt = select(EventRecord.started_at, key).where(
            EventRecord.started_at >= start, EventRecord.started_at < end
        )
        for column, value in (
            (EventRecord.device_id, device_id),
            (EventRecord.stream_id, stream_id),
            (EventRecord.event_type, event_type),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        rows = (
            await bind_scope(db_session, org_scope).execute(
                stmt.order_by(EventRecord.started_at.desc()).limit(MAX_EVENTS + 1)
            )
        ).all()
        counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for started_at, value in rows[:MAX_EVENTS]:
            ts = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
            counts[value or NO_ZONE][int(ts.timestamp() // width * width)] += 1
        series = [
            Series(
                key=k,
                total=sum(points.values()),
                points=[
                    Point(t=datetime.fromtimestamp(t, UTC), count=n)
                    for t, n in sorted(points.items())
                ],
            )
            for k, points in sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))
        ]
        return EventAnalytics(
            since=start,
            until=end,
            bucket=bucket,
            group_by=group_by,
            series=series,
            truncated=len(rows) > MAX_EVENTS,
        )


ROUTES = [EventAnalyticsController]
