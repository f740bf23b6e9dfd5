"""Completeness of a device's detection stream: ``GET /api/v1/fleet/{device_id}/completeness``.

Reads ``ingest_state`` (kept by the ingest, see :mod:`.sequence`) and ``ingest_ack_state``
(events, and the last seqs the agent says it produced: see :mod:`.acks`). Missing ranges
include the tail: what the agent produced above the highest seq stored. The device is looked
up in the caller's organization scope first, so another organization's device answers 404
exactly like a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_READ
from aios.controlplane.db.models import Device, IngestAckState, IngestState
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import NotFoundError
from aios.controlplane.tenancy import OrgScope

SeqRange = Annotated[
    list[int], msgspec.Meta(min_length=2, max_length=2, description="[first, last] (inclusive)")
]
"""An inclusive ``[first, last]`` range of seq numbers. A two-integer list rather than a tuple:
its JSON schema (``minItems``/``maxItems``) is valid in every OpenAPI version, where a tuple's
(``items`` as a list, or ``prefixItems``) is not."""


class StreamCompleteness(msgspec.Struct, frozen=True, kw_only=True):
    """One numbered stream of a device (its events): ``missing`` lists inclusive
    ``[first, last]`` seq ranges not stored, between ``first_seq`` and ``latest_seq`` (the
    last one the agent reported producing) or ``max_seq`` (the highest stored)."""

    received: int
    duplicates_dropped: int
    first_seq: int | None
    max_seq: int | None
    contiguous_seq: int | None
    latest_seq: int | None
    missing_count: int
    missing: list[SeqRange]


class Completeness(msgspec.Struct, frozen=True, kw_only=True):
    """Detection batches of one device: ``missing`` lists inclusive ``[first, last]`` seq
    ranges not stored between ``first_seq`` and ``max_seq`` (at most the latest 1,000), plus
    the tail ``[max_seq + 1, latest_seq]`` when the agent reported producing more
    (``latest_seq``, from its heartbeats). ``events``: the same for the device's events
    (``None`` until a numbered event or a heartbeat with an event seq arrived)."""

    device_id: str
    received: int
    duplicates_dropped: int
    first_seq: int | None
    max_seq: int | None
    contiguous_seq: int | None
    missing_count: int
    missing: list[SeqRange]
    updated_at: datetime | None
    latest_seq: int | None = None
    events: StreamCompleteness | None = None


def _with_tail(gaps: list[list[int]], max_seq: int | None, latest: int | None) -> list[list[int]]:
    """``gaps`` plus the range above the highest stored seq up to the agent's latest."""
    top = -1 if max_seq is None else max_seq
    if latest is not None and latest > top:
        return [*gaps, [top + 1, latest]]
    return gaps


def _events(ack: IngestAckState | None) -> StreamCompleteness | None:
    if ack is None or (ack.event_received == 0 and ack.agent_event_seq is None):
        return None
    stored = ack.event_received > 0
    max_seq = ack.event_max_seq if stored else None
    gaps = [[int(lo), int(hi)] for lo, hi in ack.event_gaps]
    missing = _with_tail(gaps, max_seq, ack.agent_event_seq)
    return StreamCompleteness(
        received=ack.event_received,
        duplicates_dropped=ack.event_duplicates,
        first_seq=ack.event_first_seq if stored else None,
        max_seq=max_seq,
        contiguous_seq=ack.event_contiguous_seq if stored else None,
        latest_seq=ack.agent_event_seq,
        missing_count=sum(hi - lo + 1 for lo, hi in missing),
        missing=missing,
    )


async def device_completeness(
    session: AsyncSession, scope: OrgScope, device_id: str
) -> Completeness:
    session = bind_scope(session, scope)
    device = await session.scalar(select(Device.id).where(Device.id == device_id))
    if device is None:
        raise NotFoundError(f"device {device_id!r} not found")
    state = await session.scalar(select(IngestState).where(IngestState.device_id == device_id))
    ack = await session.scalar(select(IngestAckState).where(IngestAckState.device_id == device_id))
    latest = None if ack is None else ack.agent_seq
    if state is None or state.received == 0:
        missing = _with_tail([], None, latest)
        return Completeness(
            device_id=device_id,
            received=0,
            duplicates_dropped=0 if state is None else state.duplicates,
            first_seq=None,
            max_seq=None,
            contiguous_seq=None,
            missing_count=sum(hi - lo + 1 for lo, hi in missing),
            missing=missing,
            updated_at=None if state is None else state.updated_at,
            latest_seq=latest,
            events=_events(ack),
        )
    gaps = _with_tail([[int(lo), int(hi)] for lo, hi in state.gaps], state.max_seq, latest)
    return Completeness(
        device_id=device_id,
        received=state.received,
        duplicates_dropped=state.duplicates,
        first_seq=state.first_seq,
        max_seq=state.max_seq,
        contiguous_seq=state.contiguous_seq,
        missing_count=sum(hi - lo + 1 for lo, hi in gaps),
        missing=gaps,
        updated_at=state.updated_at,
        latest_seq=latest,
        events=_events(ack),
    )


class CompletenessController(Controller):
    path = "/api/v1/fleet"
    tags = ["fleet"]

    @get(
        "/{device_id:str}/completeness",
        guards=[CAN_READ],
        summary="Received, duplicate and missing detection batches of a device",
    )
    async def completeness(
        self,
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
        device_id: FromPath[str],
    ) -> Completeness:
        return await device_completeness(db_session, org_scope, device_id)
