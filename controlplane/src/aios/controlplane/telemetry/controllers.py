"""HTTP handlers of the telemetry domain (collected by ``app.py`` from :data:`ROUTES`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.telemetry.analytics import (
    BUCKETS,
    Analytics,
    AnalyticsQuery,
    GroupBy,
    detection_analytics,
)
from aios.controlplane.telemetry.completeness import CompletenessController
from aios.controlplane.telemetry.dead_letters import DeadLettersController
from aios.controlplane.telemetry.queries import (
    MAX_LIMIT,
    DetectionFilter,
    list_detections,
    parse_time,
)
from aios.controlplane.telemetry.schemas import DetectionPage
from aios.controlplane.tenancy import OrgScope


class DashboardDetectionsController(Controller):
    path = "/api/v1/dashboard/detections"
    tags = ["dashboard"]

    @get("/", summary="Stored detections, newest first (keyset pagination)")
    async def list(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        device_id: FromQuery[str | None] = None,
        stream_id: FromQuery[str | None] = None,
        label: FromQuery[str | None] = None,
        class_id: Annotated[int | None, QueryParameter(ge=0)] = None,
        since: Annotated[
            str | None, QueryParameter(description="ISO 8601 time or Unix seconds (inclusive)")
        ] = None,
        until: Annotated[
            str | None, QueryParameter(description="ISO 8601 time or Unix seconds (exclusive)")
        ] = None,
        cursor: Annotated[
            str | None, QueryParameter(description="next_cursor of the previous page")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 100,
    ) -> DetectionPage:
        filters = DetectionFilter(
            device_id=device_id,
            stream_id=stream_id,
            label=label,
            class_id=class_id,
            since=None if since is None else parse_time(since, field="since"),
            until=None if until is None else parse_time(until, field="until"),
        )
        return await list_detections(db_session, org_scope, filters, limit=limit, cursor=cursor)


class DashboardAnalyticsController(Controller):
    path = "/api/v1/dashboard/analytics"
    tags = ["dashboard"]

    @get(
        "/",
        guards=[CAN_READ],
        summary="Detection counts per time bucket by class, device or stream; event counts",
    )
    async def analytics(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        since: Annotated[
            str | None, QueryParameter(description="ISO 8601 or Unix seconds; default until - 24 h")
        ] = None,
        until: Annotated[str | None, QueryParameter(description="default: now")] = None,
        bucket: Annotated[str, QueryParameter(description=", ".join(BUCKETS))] = "1h",
        group_by: FromQuery[GroupBy] = GroupBy.LABEL,
        device_id: FromQuery[str | None] = None,
        stream_id: FromQuery[str | None] = None,
        label: FromQuery[str | None] = None,
        events: Annotated[
            bool, QueryParameter(description="also count events by type and severity")
        ] = True,
    ) -> Analytics:
        end = datetime.now(UTC) if until is None else parse_time(until, field="until")
        start = end - timedelta(hours=24) if since is None else parse_time(since, field="since")
        query = AnalyticsQuery(
            since=start,
            until=end,
            bucket=bucket,
            group_by=group_by,
            device_id=device_id,
            stream_id=stream_id,
            label=label,
            events=events,
        )
        return await detection_analytics(db_session, org_scope, query)


ROUTES = [
    DashboardDetectionsController,
    DashboardAnalyticsController,
    CompletenessController,
    DeadLettersController,
]
