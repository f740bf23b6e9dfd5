"""``GET /api/v1/fleet/{device_id}/heartbeat``: the device's latest heartbeat as it arrived;
``GET /api/v1/fleet/{device_id}/heartbeats``: its history in time buckets (:mod:`.history`).

The ingest keeps the last heartbeat of every device (``devices.last_heartbeat``); this hands it
out, scoped to the caller's organization (another organization's device answers 404 like a
missing one). The body is the wire :class:`~aios.shared.messages.Heartbeat`, so a dashboard reads
the cameras' state and fps, CPU, memory, temperature, inference latency and spool depth with the
contract's own field names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.db.models import Device
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import InvalidRequestError, NotFoundError
from aios.controlplane.heartbeats.history import BUCKETS, HeartbeatHistory, heartbeat_history
from aios.controlplane.telemetry.queries import parse_time
from aios.controlplane.tenancy import OrgScope
from aios.shared.messages import Heartbeat


class LatestHeartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """``heartbeat`` is ``null`` until the device sent one."""

    device_id: str
    heartbeat: Heartbeat | None


class HeartbeatController(Controller):
    path = "/api/v1/fleet"
    tags = ["fleet"]

    @get(
        "/{device_id:str}/heartbeat",
        guards=[CAN_READ],
        summary="The device's latest heartbeat: cameras, rates, resources",
    )
    async def latest(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        device_id: FromPath[str],
    ) -> LatestHeartbeat:
        row = (
            await bind_scope(db_session, org_scope).execute(
                select(Device.id, Device.last_heartbeat).where(Device.id == device_id)
            )
        ).first()
        if row is None:
            raise NotFoundError(f"device {device_id!r} not found")
        stored = row.last_heartbeat
        heartbeat = None
        if isinstance(stored, dict):
            try:
                heartbeat = msgspec.convert(stored, Heartbeat)
            except msgspec.ValidationError:
                heartbeat = None  # written by an older ingest: treat as not yet known
        return LatestHeartbeat(device_id=device_id, heartbeat=heartbeat)

    @get(
        "/{device_id:str}/heartbeats",
        guards=[CAN_READ],
        summary="Heartbeat history in time buckets: CPU, memory, temperature, latency, fps, spool",
    )
    async def history(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        device_id: FromPath[str],
        since: Annotated[
            str | None, QueryParameter(description="ISO 8601 or Unix seconds; default until - 6 h")
        ] = None,
        until: Annotated[str | None, QueryParameter(description="default: now")] = None,
        bucket: Annotated[
            str | None, QueryParameter(description=f"{', '.join(BUCKETS)}; default by range")
        ] = None,
    ) -> HeartbeatHistory:
        end = datetime.now(UTC) if until is None else parse_time(until, field="until")
        start = end - timedelta(hours=6) if since is None else parse_time(since, field="since")
        if start >= end or end - start > timedelta(days=31):
            raise InvalidRequestError("since must be before until, at most 31 days", field="since")
        if bucket is None:
            span = (end - start).total_seconds()
            bucket = (
                "1m"
                if span <= 7200
                else "5m"
                if span <= 43200
                else "15m"
                if span <= 172800
                else "1h"
            )
        if bucket not in BUCKETS:
            raise InvalidRequestError(f"must be one of {', '.join(BUCKETS)}", field="bucket")
        return await heartbeat_history(db_session, org_scope, device_id, start, end, bucket)


ROUTES = [HeartbeatController]
