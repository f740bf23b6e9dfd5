"""Request inputs the dashboard's event routes share: an optional id in the query, and the event
a route's ``{event_id}`` (and optional ``device_id``) names, read within the caller's scope."""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.dashboard.queries import get_event
from aios.controlplane.db.models import EventRecord
from aios.controlplane.tenancy import OrgScope

# The limit sits outside the Optional so that Litestar enforces it, not only documents it.
OptionalIdent = Annotated[str | None, QueryParameter(max_length=64)]


async def provide_event(
    event_id: FromPath[str],
    db_session: NamedDependency[AsyncSession],
    org_scope: NamedDependency[OrgScope],
    device_id: OptionalIdent = None,
) -> EventRecord:
    """The caller's event ``event_id`` (of ``device_id`` when given); 404 when there is none."""
    return await get_event(db_session, org_scope, event_id, device_id)


EVENT = {"event": Provide(provide_event)}
"""The ``event`` dependency of a route with an ``{event_id}`` path parameter."""
