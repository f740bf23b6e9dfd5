"""HTTP handlers of the dashboard's events and of snapshot uploads by devices."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_429_TOO_MANY_REQUESTS
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.dashboard.params import EVENT, OptionalIdent
from aios.controlplane.dashboard.queries import MAX_LIMIT, EventFilter, list_events
from aios.controlplane.dashboard.queries import to_item as event_item
from aios.controlplane.dashboard.schemas import EventItem, EventPage, SnapshotStored
from aios.controlplane.dashboard.snapshots import (
    HTTP_425_TOO_EARLY,
    MAX_SNAPSHOT_BYTES,
    SnapshotStore,
    authenticate_device,
    check_event_of,
    check_jpeg,
    check_segment,
)
from aios.controlplane.db.models import EventRecord
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.error_handlers import ErrorBody
from aios.controlplane.errors import AuthenticationError, NotFoundError
from aios.controlplane.fleet.device_logins import DeviceLoginGuard
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.queries import parse_time
from aios.controlplane.tenancy import OrgScope, SystemScope


async def provide_snapshot_store(settings: NamedDependency[Settings]) -> SnapshotStore:
    return SnapshotStore(settings.data_dir / "snapshots")


class DashboardEventsController(Controller):
    path = "/api/v1/dashboard/events"
    tags = ["dashboard"]
    dependencies = {"snapshot_store": Provide(provide_snapshot_store)}

    @get("/", summary="Events, newest first (keyset pagination)")
    async def list_events(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        device_id: OptionalIdent = None,
        stream_id: OptionalIdent = None,
        event_type: OptionalIdent = None,
        severity: Annotated[str | None, QueryParameter(max_length=16)] = None,
        since: Annotated[str | None, QueryParameter(max_length=64)] = None,
        until: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 100,
    ) -> EventPage:
        filters = EventFilter(
            device_id=device_id,
            stream_id=stream_id,
            event_type=event_type,
            severity=severity,
            since=None if since is None else parse_time(since, field="since"),
            until=None if until is None else parse_time(until, field="until"),
        )
        return await list_events(db_session, org_scope, filters, limit=limit, cursor=cursor)

    @get("/{event_id:str}", dependencies=EVENT, summary="One event, with its snapshot URL")
    async def get_event(
        self, event: NamedDependency[EventRecord], snapshot_store: NamedDependency[SnapshotStore]
    ) -> EventItem:
        stored = await snapshot_store.exists(event.org_id, event.device_id, event.id)
        return event_item(event, has_snapshot=stored)

    @get(
        "/{event_id:str}/snapshot",
        dependencies=EVENT,
        media_type="image/jpeg",
        summary="The event's JPEG",
    )
    async def get_snapshot(
        self, event: NamedDependency[EventRecord], snapshot_store: NamedDependency[SnapshotStore]
    ) -> Response[bytes]:
        body = await snapshot_store.read(event.org_id, event.device_id, event.id)
        if body is None:
            raise NotFoundError("this event has no snapshot")
        return Response(
            body,
            media_type="image/jpeg",
            headers={
                "Cache-Control": "private",
                # an image, never a document, whatever a browser would sniff
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )


class SnapshotUploadController(Controller):
    """Devices upload event snapshots here (HTTP Basic: device id and device password)."""

    path = "/api/v1/events"
    tags = ["devices"]
    dependencies = {"snapshot_store": Provide(provide_snapshot_store)}

    @put(
        "/{event_id:str}/snapshot",
        exclude_from_auth=True,
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_SNAPSHOT_BYTES,
        summary="Upload an event's JPEG snapshot (device credentials)",
        responses={
            HTTP_425_TOO_EARLY: ResponseSpec(
                data_container=ErrorBody,
                description="No such event of this device (yet): retry once it is sent",
            ),
            HTTP_429_TOO_MANY_REQUESTS: ResponseSpec(
                data_container=ErrorBody,
                description="Too many failed device logins from this client or for this device",
            ),
        },
    )
    async def upload(
        self,
        event_id: FromPath[str],
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        system_scope: NamedDependency[SystemScope],
        snapshot_store: NamedDependency[SnapshotStore],
        device_logins: NamedDependency[DeviceLoginGuard],
    ) -> SnapshotStored:
        check_segment(event_id, "event_id")
        credential = await authenticate_device(
            bind_scope(db_session, system_scope),
            request.headers.get("authorization"),
            device_logins,
            request.client.host if request.client else "unknown",
        )
        claimed = request.headers.get("x-aios-device")
        if claimed is not None and claimed != credential.device_id:
            raise AuthenticationError("X-AIOS-Device does not match the credentials")
        body = await request.body()
        await check_jpeg(body)
        await check_event_of(db_session, credential, event_id)
        await snapshot_store.save(credential.org_id, credential.device_id, event_id, body)
        return SnapshotStored(
            key=f"snapshots/{credential.device_id}/{event_id}.jpg", size=len(body)
        )


ROUTES = [DashboardEventsController, SnapshotUploadController]
