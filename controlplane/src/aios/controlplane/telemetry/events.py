"""Events (channel ``evt``) and pipeline reports (``cfg/reported``), written by the ingest.

An event's lifecycle (``start`` -> ``update``... -> ``end`` under one ``id``) folds into one
``events`` row per ``(device_id, id)`` by :func:`merge_event`, which is idempotent and
order-insensitive: ``started_at`` is the earliest time seen, ``ended_at`` the latest ``end``,
and the descriptive fields (phase, severity, attributes...) come from the latest message. A
replayed or reordered message therefore leaves the row as it was. The rows are read ``FOR
UPDATE`` (PostgreSQL, after a transaction-level advisory lock per ``(device_id, id)``, which
also covers an event not stored yet) before the merge, so concurrent ingest replicas never lose
an update nor store one event twice; no ``ON CONFLICT`` is used, so a TimescaleDB hypertable
(whose key includes ``started_at``) works the same. When a late message moves ``started_at``
earlier, the row is deleted and inserted again rather than updated (a hypertable cannot move a
row between chunks by ``UPDATE``).

Pipeline reports are stored as received (``pipeline_reports``, a redelivery is ignored); the
pipelines domain reads them to follow deployments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.bulk import update_rows
from aios.controlplane.db.models import EventRecord, PipelineReportRecord
from aios.controlplane.db.storage.dialect import conflict_insert, is_postgres
from aios.controlplane.telemetry.records import Accepted
from aios.shared.fields import EventPhase, Severity
from aios.shared.messages import Event, PipelineReport

_PHASE_RANK = {"start": 0, "instant": 1, "update": 1, "end": 2}
_LATEST_FIELDS = (
    "org_id",
    "stream_id",
    "event_type",
    "severity",
    "phase",
    "rule_id",
    "zone_id",
    "line_id",
    "track_ids",
    "attributes",
    "snapshot",
    "pipeline_version",
    "last_ts",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    """One ``events`` row: what one message alone makes, a merge, or what is stored."""

    device_id: str
    id: str
    org_id: str
    stream_id: str
    event_type: str
    severity: Severity
    phase: EventPhase
    started_at: datetime
    last_ts: datetime
    ended_at: datetime | None
    rule_id: str | None
    zone_id: str | None
    line_id: str | None
    track_ids: list[int]
    attributes: dict[str, Any]
    snapshot: str | None
    pipeline_version: int | None
    received_at: datetime

    @property
    def key(self) -> tuple[str, str]:
        return self.device_id, self.id

    @classmethod
    def of(cls, org_id: str, event: Event, received_at: datetime) -> EventRow:
        """The row one message alone would make."""
        ts = datetime.fromtimestamp(event.ts, UTC)
        return cls(
            device_id=event.device_id,
            id=event.id,
            org_id=org_id,
            stream_id=event.stream_id,
            event_type=event.event_type,
            severity=event.severity,
            phase=event.phase,
            started_at=ts,
            last_ts=ts,
            ended_at=ts if event.phase == "end" else None,
            rule_id=event.rule_id,
            zone_id=event.zone_id,
            line_id=event.line_id,
            track_ids=list(event.track_ids),
            attributes=dict(event.attributes),
            snapshot=event.snapshot,
            pipeline_version=event.pipeline_version,
            received_at=received_at,
        )

    @classmethod
    def stored(cls, row: RowMapping) -> EventRow:
        """The row as read from ``events``."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def as_params(self) -> dict[str, Any]:
        """The statement parameters (one per column)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def event_row(org_id: str, event: Event, received_at: datetime) -> EventRow:
    """The ``events`` row one message alone would make."""
    return EventRow.of(org_id, event, received_at)


def _order(row: EventRow) -> tuple[datetime, int]:
    return row.last_ts, _PHASE_RANK.get(row.phase, 1)


def merge_event(old: EventRow, new: EventRow) -> EventRow:
    """Fold two states of one event (commutative, associative and idempotent)."""
    latest, other = (new, old) if _order(new) >= _order(old) else (old, new)
    ends = [e for e in (old.ended_at, new.ended_at) if e is not None]
    return replace(
        other,
        **{name: getattr(latest, name) for name in _LATEST_FIELDS},
        started_at=min(old.started_at, new.started_at),
        ended_at=max(ends) if ends else None,
        received_at=max(old.received_at, new.received_at),
    )


async def store_events(conn: AsyncConnection, events: Sequence[Accepted]) -> list[EventRow]:
    """Merge the flush's events into ``events``; the rows inserted or changed (as stored)."""
    if not events:
        return []
    folded: dict[tuple[str, str], EventRow] = {}
    for a in events:
        assert isinstance(a.message, Event)
        row = EventRow.of(a.org_id, a.message, a.received_at)
        folded[row.key] = merge_event(folded[row.key], row) if row.key in folded else row
    keys = sorted(folded)
    columns = [getattr(EventRecord, c.name) for c in EventRecord.__table__.columns]
    stmt = select(*columns).where(tuple_(EventRecord.device_id, EventRecord.id).in_(keys))
    if is_postgres(conn.dialect):
        # FOR UPDATE cannot lock a row that does not exist yet, and a hypertable has no unique
        # key on (device_id, id): a transaction lock per key, in key order, serializes replicas
        # that see the same new event.
        await conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
                " FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
            ),
            {"keys": [f"aios.event/{d}/{i}" for d, i in keys]},
        )
        stmt = stmt.order_by(EventRecord.device_id, EventRecord.id).with_for_update()
    existing = {(r.device_id, r.id): EventRow.stored(r._mapping) for r in await conn.execute(stmt)}
    inserts: list[EventRow] = []
    updates: list[EventRow] = []
    moved: list[tuple[str, str]] = []
    for key in keys:
        if key not in existing:
            inserts.append(folded[key])
            continue
        merged = merge_event(existing[key], folded[key])
        if merged.started_at != existing[key].started_at:
            # an earlier message arrived late: the row's time changes. A TimescaleDB chunk
            # rejects an UPDATE that moves a row out of its time range, so delete and insert.
            moved.append(key)
            inserts.append(merged)
        elif merged != existing[key]:
            updates.append(merged)
    if moved:
        await conn.execute(
            delete(EventRecord).where(tuple_(EventRecord.device_id, EventRecord.id).in_(moved))
        )
    if inserts:
        await conn.execute(insert(EventRecord), [r.as_params() for r in inserts])
    await update_rows(conn, EventRecord, ["device_id", "id"], [u.as_params() for u in updates])
    return inserts + updates


async def store_reports(conn: AsyncConnection, reports: Sequence[Accepted]) -> int:
    """Insert the flush's pipeline reports (a redelivered one is ignored)."""
    rows: list[dict[str, Any]] = []
    for a in reports:
        r = a.message
        assert isinstance(r, PipelineReport)
        rows.append(
            {
                "device_id": r.device_id,
                "pipeline_id": r.pipeline_id,
                "version": r.version,
                "status": r.status,
                "ts": datetime.fromtimestamp(r.ts, UTC),
                "org_id": a.org_id,
                "deployment_id": r.deployment_id,
                "active_version": r.active_version,
                "error": None if r.error is None else r.error[:2048],
                "node": r.node,
                "field": r.field,
                "received_at": a.received_at,
            }
        )
    if not rows:
        return 0
    ins: Any = conflict_insert(conn.dialect, PipelineReportRecord)
    await conn.execute(ins.on_conflict_do_nothing(), rows)
    return len(rows)
