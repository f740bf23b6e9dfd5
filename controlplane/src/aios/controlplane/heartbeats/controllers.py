"""``GET /api/v1/fleet/{device_id}/heartbeat``: the device's latest heartbeat as it arrived.

The ingest keeps the last heartbeat of every device (``devices.last_heartbeat``); this hands it
out, scoped to the caller's organization (another organization's device answers 404 like a
missing one). The body is the wire :class:`~aios.shared.messages.Heartbeat`, so a dashboard reads
the cameras' state and fps, CPU, memory, temperature, inference latency and spool depth with the
contract's own field names.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.db.models import Device
from aios.controlplane.errors import NotFoundError
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
            await db_session.execute(
                org_scope.where(
                    select(Device.id, Device.last_heartbeat).where(Device.id == device_id),
                    Device.org_id,
                )
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


ROUTES = [HeartbeatController]
