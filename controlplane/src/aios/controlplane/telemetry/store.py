"""Writing one ingest flush in one transaction (hot path: Core statements, COPY, no ORM units).

Order inside the transaction:

1. tenant check: each message's device must exist under the topic's organization. An unknown
   device is registered under the topic's organization (organization created if missing) when
   ``auto_register`` is on (never a deleted device: it has a tombstone), else dead-lettered
   ``unknown_device``; a device known under another organization is dead-lettered
   ``wrong_tenant``;
2. detection batches: ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` into ``detection_batches``
   tells which ``(device_id, seq)`` are new; only their detections go to the sink (COPY or
   executemany); the others are counted as duplicates;
3. per-device completeness (:mod:`~aios.controlplane.telemetry.progress`), rows
   locked while read and written back, so that concurrent ingest replicas never lose counts;
4. heartbeats and status messages update the device row (latest per device wins);
5. dead letters.

On PostgreSQL steps 2 and 3 and the rollups are set-based statements over arrays
(:mod:`~aios.controlplane.telemetry.pg_statements`): one round trip each, prepared once, whatever
the flush size; SQLite runs the equivalent SQLAlchemy statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.base import Base
from aios.controlplane.db.models import (
    DeadLetter,
    DetectionBatchRecord,
    Device,
    DeviceState,
    DeviceTombstone,
    Organization,
)
from aios.controlplane.db.scoped_session import system_transaction
from aios.controlplane.db.storage import failures
from aios.controlplane.db.storage.backend import StorageKind, detect_kind
from aios.controlplane.db.storage.dialect import conflict_insert, is_postgres
from aios.controlplane.telemetry import pg_statements
from aios.controlplane.telemetry.announce import (
    announce_events,
    announce_heartbeats,
    announce_reports,
)
from aios.controlplane.telemetry.device_updates import update_devices
from aios.controlplane.telemetry.events import store_events, store_reports
from aios.controlplane.telemetry.progress import settle_refused, track_progress
from aios.controlplane.telemetry.records import (
    Accepted,
    DeadLetterRow,
    DetectionRow,
    IngestReason,
    detection_rows,
)
from aios.controlplane.telemetry.rollups import RollupCounts, count_batch, upsert_rollups
from aios.controlplane.telemetry.sinks import DetectionSink, sink_for
from aios.controlplane.telemetry.zone_rollups import ZoneCounts, count_zones, upsert_zone_counts
from aios.controlplane.tenancy import INGEST
from aios.shared.messages import DetectionBatch, Event, PipelineReport


@dataclass(slots=True)
class FlushResult:
    batches_stored: int = 0
    duplicates: int = 0
    detections_stored: int = 0
    heartbeats: int = 0
    statuses: int = 0
    events: int = 0
    reports: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)

    def merge(self, other: FlushResult) -> None:
        """Add ``other``'s counters to these (the parts of a bisected flush)."""
        for f in fields(FlushResult):
            if f.name == "dead_letters":
                self.dead_letters.update(other.dead_letters)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class TelemetryStore:
    """Writes flushes of accepted messages and dead letters; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        auto_register: bool,
        sink: DetectionSink | None = None,
        webhook_cooldown_s: float = 300.0,
    ) -> None:
        self.engine = engine
        self.auto_register = auto_register
        self.webhook_cooldown_s = webhook_cooldown_s
        self.dialect = engine.dialect.name
        self.sink = sink or sink_for(self.dialect)
        # TimescaleDB's continuous aggregates replace the rollup tables (see write())
        self.rollups_at_ingest = True
        self._kind_known = False

    def _insert(self, model: type[Base]) -> Any:
        """The dialect's INSERT (with ``on_conflict_do_nothing``) for ``model``'s table."""
        return conflict_insert(self.dialect, model)

    async def write(
        self, accepted: Sequence[Accepted], dead: Sequence[DeadLetterRow]
    ) -> FlushResult:
        """Write one flush in one transaction. Raises only
        :class:`~aios.controlplane.errors.BatchRefusedError` (the data is bad) or
        :class:`~aios.controlplane.errors.DatabaseUnavailableError` (retry): the storage error
        policy of :mod:`aios.controlplane.db.storage.failures`, applied here, at the boundary."""
        try:
            return await self._write(accepted, dead)
        except Exception as exc:
            raise failures.translate(exc) from exc

    async def _write(
        self, accepted: Sequence[Accepted], dead: Sequence[DeadLetterRow]
    ) -> FlushResult:
        result = FlushResult()
        dead_rows = list(dead)
        async with system_transaction(self.engine, INGEST) as conn:
            if not self._kind_known:
                kind = await conn.run_sync(detect_kind)
                self.rollups_at_ingest = kind is not StorageKind.TIMESCALE
                self._kind_known = True
            ok = await self._check_devices(conn, accepted, dead_rows)
            batches = [a for a in ok if isinstance(a.message, DetectionBatch)]
            await self._store_batches(conn, batches, result)
            changed = await store_events(conn, [a for a in ok if isinstance(a.message, Event)])
            await announce_events(conn, changed, cooldown_s=self.webhook_cooldown_s)
            result.events = len(changed)
            reports = [a for a in ok if isinstance(a.message, PipelineReport)]
            result.reports = await store_reports(conn, reports)
            await announce_reports(conn, reports)
            result.heartbeats, result.statuses = await update_devices(conn, ok)
            await announce_heartbeats(conn, ok)
            if dead_rows:
                await conn.execute(insert(DeadLetter), [d.as_params() for d in dead_rows])
                await settle_refused(conn, await self._driver(conn), dead_rows)
        result.dead_letters.update(d.reason.value for d in dead_rows)
        return result

    async def _check_devices(
        self, conn: AsyncConnection, accepted: Sequence[Accepted], dead: list[DeadLetterRow]
    ) -> list[Accepted]:
        if not accepted:
            return []
        ids = {a.device_id for a in accepted}
        owners = await self._owners(conn, ids)
        unknown: dict[str, str] = {}  # device -> org of its first message (arrival order)
        for a in accepted:
            if a.device_id not in owners:
                unknown.setdefault(a.device_id, a.org_id)
        if unknown and self.auto_register:
            deleted = await conn.scalars(
                select(DeviceTombstone.device_id).where(DeviceTombstone.device_id.in_(unknown))
            )
            for device_id in deleted:
                del unknown[device_id]
        if unknown and self.auto_register:
            now = datetime.now(UTC)
            orgs = sorted(set(unknown.values()))
            await conn.execute(
                self._insert(Organization).on_conflict_do_nothing(),
                [{"id": o, "name": o, "created_at": now, "updated_at": now} for o in orgs],
            )
            await conn.execute(
                self._insert(Device).on_conflict_do_nothing(),
                [
                    {
                        "id": d,
                        "org_id": o,
                        "name": d,
                        "status": DeviceState.UNKNOWN.value,
                        "tags": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for d, o in sorted(unknown.items())
                ],
            )
            owners = await self._owners(conn, ids)
        ok: list[Accepted] = []
        for a in accepted:
            owner = owners.get(a.device_id)
            if owner is None:
                dead.append(
                    DeadLetterRow.of(
                        a.source,
                        IngestReason.UNKNOWN_DEVICE,
                        f"device {a.device_id!r} is not registered",
                        org_id=a.org_id,
                        device_id=a.device_id,
                    )
                )
            elif owner != a.org_id:
                dead.append(
                    DeadLetterRow.of(
                        a.source,
                        IngestReason.WRONG_TENANT,
                        f"device {a.device_id!r} does not belong to organization {a.org_id!r}",
                        org_id=a.org_id,
                        device_id=a.device_id,
                    )
                )
            else:
                ok.append(a)
        return ok

    async def _owners(self, conn: AsyncConnection, ids: set[str]) -> dict[str, str]:
        rows = await conn.execute(select(Device.id, Device.org_id).where(Device.id.in_(ids)))
        return {r.id: r.org_id for r in rows}

    async def _store_batches(
        self, conn: AsyncConnection, batches: Sequence[Accepted], result: FlushResult
    ) -> None:
        if not batches:
            return
        unique: dict[tuple[str, int], Accepted] = {}
        repeated: Counter[str] = Counter()  # the same batch twice within this flush
        for a in batches:
            assert isinstance(a.message, DetectionBatch)
            key = (a.device_id, a.message.seq)
            if key in unique:
                repeated[a.device_id] += 1
                result.duplicates += 1
            else:
                unique[key] = a
        new = await self._insert_batches(conn, unique)
        result.duplicates += len(unique) - len(new)
        rows: list[DetectionRow] = []
        counts = RollupCounts()
        zones = ZoneCounts()
        for key in sorted(new):
            a = unique[key]
            assert isinstance(a.message, DetectionBatch)
            rows.extend(detection_rows(a.org_id, a.message))
            if self.rollups_at_ingest:
                count_batch(counts, a.org_id, a.message)
            count_zones(zones, a.org_id, a.message)
        await self.sink.insert(conn, rows)
        driver = await self._driver(conn)
        if driver is not None:
            await pg_statements.upsert_rollups(driver, counts)
        else:
            await upsert_rollups(conn, counts)
        await upsert_zone_counts(conn, driver, zones)
        result.batches_stored = len(new)
        result.detections_stored = len(rows)
        owners = {k: a.org_id for k, a in unique.items()}
        await track_progress(conn, driver, owners, new, repeated)

    async def _driver(self, conn: AsyncConnection) -> pg_statements.Driver | None:
        """The asyncpg connection under ``conn`` on PostgreSQL (set-based statements), else
        ``None`` (SQLAlchemy statements)."""
        if not is_postgres(self.dialect):
            return None
        raw = await conn.get_raw_connection()
        driver: pg_statements.Driver | None = raw.driver_connection
        return driver

    async def _insert_batches(
        self, conn: AsyncConnection, unique: dict[tuple[str, int], Accepted]
    ) -> set[tuple[str, int]]:
        """Record the batches in ``detection_batches``; the keys that were not there yet."""
        rows: list[pg_statements.BatchRow] = []
        for (device_id, seq), a in unique.items():
            msg = a.message
            assert isinstance(msg, DetectionBatch)
            rows.append(
                (
                    device_id,
                    seq,
                    a.org_id,
                    msg.stream_id,
                    msg.pipeline_version,
                    len(msg.frames),
                    sum(len(f.detections) for f in msg.frames),
                    a.received_at,
                )
            )
        driver = await self._driver(conn)
        if driver is not None:
            return await pg_statements.insert_batches(driver, sorted(rows))
        stmt = (
            self._insert(DetectionBatchRecord)
            .on_conflict_do_nothing()
            .returning(DetectionBatchRecord.device_id, DetectionBatchRecord.seq)
        )
        params = [dict(zip(pg_statements.BATCH_COLUMNS, r, strict=True)) for r in rows]
        return {(r.device_id, r.seq) for r in await conn.execute(stmt, params)}
