"""Dead letters of an organization: ``GET /api/v1/telemetry/dead-letters``.

What the ingest refused from the caller's organization's topics, newest first: the reason
(a codec rejection, a tenant check, or ``storage_refused`` with the database's reason), the
device, when it was received, its size and the first bytes of its payload (at most
:data:`EXCERPT_BYTES`, as text with undecodable bytes replaced); ``counts`` gives the totals by
reason. Scoped by organization like every tenant query: a dead letter whose topic named no
organization belongs to none and is listed to nobody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.db.models import DeadLetter
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.tenancy import OrgScope

EXCERPT_BYTES = 512

MAX_LIMIT = 500


class DeadLetterItem(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    received_at: datetime
    reason: str
    detail: str
    device_id: str | None
    payload_size: int
    payload_excerpt: str


class DeadLetterPage(msgspec.Struct, frozen=True, kw_only=True):
    counts: dict[str, int]
    items: list[DeadLetterItem]


async def list_dead_letters(
    session: AsyncSession,
    scope: OrgScope,
    *,
    reason: str | None,
    device_id: str | None,
    limit: int,
) -> DeadLetterPage:
    stmt = select(
        DeadLetter.id,
        DeadLetter.received_at,
        DeadLetter.reason,
        DeadLetter.detail,
        DeadLetter.device_id,
        DeadLetter.payload_size,
        func.substr(DeadLetter.payload, 1, EXCERPT_BYTES).label("excerpt"),
    )
    if reason is not None:
        stmt = stmt.where(DeadLetter.reason == reason)
    if device_id is not None:
        stmt = stmt.where(DeadLetter.device_id == device_id)
    session = bind_scope(session, scope)
    rows = await session.execute(stmt.order_by(DeadLetter.id.desc()).limit(limit))
    counts = await session.execute(
        select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    )
    return DeadLetterPage(
        counts={r: int(n) for r, n in counts},
        items=[
            DeadLetterItem(
                id=r.id,
                received_at=r.received_at,
                reason=r.reason,
                detail=r.detail,
                device_id=r.device_id,
                payload_size=r.payload_size,
                payload_excerpt=bytes(r.excerpt or b"").decode("utf-8", "replace"),
            )
            for r in rows
        ],
    )


class DeadLettersController(Controller):
    path = "/api/v1/telemetry/dead-letters"
    tags = ["telemetry"]

    @get("/", guards=[CAN_READ], summary="Messages the ingest refused, newest first")
    async def list(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        reason: FromQuery[str | None] = None,
        device_id: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 100,
    ) -> DeadLetterPage:
        return await list_dead_letters(
            db_session, org_scope, reason=reason, device_id=device_id, limit=limit
        )
