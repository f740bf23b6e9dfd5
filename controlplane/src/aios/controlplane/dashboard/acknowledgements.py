"""Acknowledging events: ``PUT /api/v1/dashboard/events/{event_id}/ack`` records who saw an
event and when (once: acknowledging again answers the first record), and tells every operator
of the organization over the WebSocket (``event_acknowledged``), in the same transaction.
``GET /api/v1/dashboard/acknowledgements?event_id=...`` reads them back for a page of events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_OPERATE, CAN_READ, Caller
from aios.controlplane.dashboard.params import EVENT
from aios.controlplane.db.models import EventAcknowledgement, EventRecord, LiveMessageRecord, User
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.tenancy import OrgScope
from aios.shared.live import EventAcknowledged


class AcknowledgementOut(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    device_id: str
    user_id: str | None
    user_name: str
    acknowledged_at: datetime


def _out(row: EventAcknowledgement) -> AcknowledgementOut:
    return msgspec.convert(row, AcknowledgementOut, from_attributes=True)


class AcknowledgementController(Controller):
    path = "/api/v1/dashboard"
    tags = ["dashboard"]

    @put(
        "/events/{event_id:str}/ack",
        guards=[CAN_OPERATE],
        dependencies=EVENT,
        status_code=HTTP_200_OK,
        summary="Acknowledge an event (who and when; seen live by other operators)",
    )
    async def acknowledge(
        self,
        event: NamedDependency[EventRecord],
        caller: NamedDependency[Caller],
        db_session: NamedDependency[AsyncSession],
    ) -> AcknowledgementOut:
        # the session is the one the event was read on, bound to the caller's organization
        existing = await db_session.get(EventAcknowledgement, (event.device_id, event.id))
        if existing is not None:
            return _out(existing)
        user = await db_session.get(User, caller.user_id)
        row = EventAcknowledgement(
            device_id=event.device_id,
            event_id=event.id,
            org_id=event.org_id,
            user_id=caller.user_id,
            user_name=user.full_name if user is not None else "",
            acknowledged_at=datetime.now(UTC),
        )
        told = EventAcknowledged(
            org_id=row.org_id,
            device_id=row.device_id,
            event_id=row.event_id,
            user_id=row.user_id,
            user_name=row.user_name,
            acknowledged_at=row.acknowledged_at.timestamp(),
        )
        # The live message goes through the unit of work: committed with the acknowledgement
        # or not at all.
        db_session.add(row)
        db_session.add(
            LiveMessageRecord(
                org_id=row.org_id,
                created_at=row.acknowledged_at,
                message=msgspec.to_builtins(told),
            )
        )
        return _out(row)

    @get("/acknowledgements", guards=[CAN_READ], summary="Acknowledgements of the given events")
    async def list_acknowledgements(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        event_id: Annotated[list[str], QueryParameter(max_items=200)],
    ) -> list[AcknowledgementOut]:
        rows = await bind_scope(db_session, org_scope).scalars(
            select(EventAcknowledgement).where(EventAcknowledgement.event_id.in_(event_id))
        )
        return [_out(r) for r in rows]


ROUTES = [AcknowledgementController]
