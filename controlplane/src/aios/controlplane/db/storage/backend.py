"""The one storage interface: which backend a database is, and its periodic maintenance.

:func:`detect_kind` answers ``timescale`` (the extension is installed in this database,
per ``pg_extension``: a server that merely offers it counts as plain PostgreSQL),
``partitioned`` (plain PostgreSQL) or ``sqlite``. :class:`Storage` holds the retention settings
and runs :meth:`Storage.maintain` (called by the maintenance job, the benchmarks and tests):

- ``timescale``: detections and events are hypertables; their retention (and the continuous
  aggregates' that replace the rollup tables) is a TimescaleDB policy, and ``maintain`` also drops
  the chunks past retention at once (``drop_chunks``) and replaces a policy whose setting changed;
- ``partitioned``: daily partitions of detections created ahead and dropped for retention;
  rollup tables maintained at ingest, expired rows and events deleted;
- ``sqlite``: expired detections, rollup rows and events deleted.

The 1-minute rollups are kept as long as detections, the 1-hour rollups as long as events; the
zone rollups (``detection_zone_counts_*``) are tables on every backend, expired by delete;
heartbeat history (``heartbeat_samples``) and its hourly rollup (``heartbeat_rollups_1h``) have
retentions of their own (``AIOS_HEARTBEAT_RETENTION_DAYS``,
``AIOS_HEARTBEAT_ROLLUP_DAYS``).
"""

from __future__ import annotations

import enum
import logging
import weakref
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Connection, Engine, delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.models import (
    Detection,
    DetectionCount1h,
    DetectionCount1m,
    DetectionZoneCount1h,
    DetectionZoneCount1m,
    EventRecord,
    HeartbeatRollup1h,
    HeartbeatSample,
)
from aios.controlplane.db.scoped_session import system_connection, system_transaction
from aios.controlplane.db.storage import partitions, timescale
from aios.controlplane.tenancy import STORAGE

log = logging.getLogger(__name__)


class StorageKind(str, enum.Enum):
    TIMESCALE = "timescale"
    PARTITIONED = "partitioned"
    SQLITE = "sqlite"


def timescale_installed(conn: Connection) -> str | None:
    """The installed TimescaleDB version in this database, if any."""
    row = conn.exec_driver_sql(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).first()
    return None if row is None else str(row[0])


def timescale_available(conn: Connection) -> bool:
    """Whether ``CREATE EXTENSION timescaledb`` can succeed here: the server has the extension's
    files *and* preloads its library.

    Both are needed. With the files installed but the library not in
    ``shared_preload_libraries``, ``CREATE EXTENSION`` raises FATAL (not ERROR): it ends the
    connection, so a savepoint cannot catch it. The preloaded loader defines the
    ``timescaledb.disable_load`` setting, which ``pg_settings`` lists (it never lists a mere
    placeholder) to every user, unlike ``shared_preload_libraries`` itself.
    """
    row = conn.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        " AND EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.disable_load')"
    ).first()
    return row is not None


def detect_kind(conn: Connection) -> StorageKind:
    if conn.dialect.name != "postgresql":
        return StorageKind.SQLITE
    return StorageKind.TIMESCALE if timescale_installed(conn) else StorageKind.PARTITIONED


# engine -> its database's kind; weak, so a disposed and dropped engine leaves no entry
_KINDS: weakref.WeakKeyDictionary[Engine, StorageKind] = weakref.WeakKeyDictionary()


async def cached_kind(conn: AsyncConnection) -> StorageKind:
    """:func:`detect_kind`, asked once per engine rather than once per request.

    The kind only changes when migration ``0003_storage`` runs (before anything reads
    detections), so hot read paths such as the dashboard analytics use this one.
    """
    engine = conn.sync_engine
    kind = _KINDS.get(engine)
    if kind is None:
        kind = _KINDS[engine] = await conn.run_sync(detect_kind)
    return kind


class StoragePolicy(msgspec.Struct, frozen=True, kw_only=True):
    detections_retention_days: int = 30
    events_retention_days: int = 365
    compress_after_days: int = 7
    partitions_ahead_days: int = 3
    heartbeat_retention_days: int = 7
    """How long heartbeat history (``heartbeat_samples``) is kept: its own retention."""
    heartbeat_rollup_retention_days: int = 90
    """How long the hourly heartbeat rollup (``heartbeat_rollups_1h``) is kept."""

    def timescale(self) -> timescale.TimescalePolicy:
        return timescale.TimescalePolicy(
            detections_retention_days=self.detections_retention_days,
            events_retention_days=self.events_retention_days,
            compress_after_days=self.compress_after_days,
        )


class MaintenanceReport(msgspec.Struct, frozen=True, kw_only=True):
    kind: StorageKind
    partitions_created: int = 0
    partitions_dropped: int = 0
    rows_deleted: int = 0


class Storage:
    """Retention and partition maintenance for one database (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, policy: StoragePolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or StoragePolicy()

    async def kind(self) -> StorageKind:
        async with system_connection(self.engine, STORAGE) as conn:
            return await conn.run_sync(detect_kind)

    async def maintain(self, now: datetime | None = None) -> MaintenanceReport:
        """Create partitions ahead, drop or delete what is past retention. Idempotent."""
        moment = now or datetime.now(UTC)
        async with system_transaction(self.engine, STORAGE) as conn:
            report = await conn.run_sync(lambda sync: self.maintain_sync(sync, moment))
        log.info("storage maintenance: %s", report)
        return report

    def maintain_sync(self, conn: Connection, now: datetime) -> MaintenanceReport:
        kind = detect_kind(conn)
        det_cutoff = now - timedelta(days=self.policy.detections_retention_days)
        evt_cutoff = now - timedelta(days=self.policy.events_retention_days)
        created = dropped = deleted = 0
        if kind is StorageKind.TIMESCALE:
            # Policies are replaced only when a setting changed (replacing one starts a new job
            # and loses its history); chunks past retention are dropped now, as elsewhere.
            for job in timescale.policy_jobs(self.policy.timescale()):
                if conn.exec_driver_sql(timescale.job_matches_sql(job)).first() is None:
                    for sql in job.sql():
                        conn.exec_driver_sql(sql)
            for sql in timescale.drop_chunks_sql(det_cutoff.isoformat(), evt_cutoff.isoformat()):
                dropped += len(conn.exec_driver_sql(sql).all())
            # the detection_counts_* tables are unused (continuous aggregates replace them)
        elif kind is StorageKind.PARTITIONED:
            created = partitions.ensure_partitions(
                conn,
                now,
                ahead_days=self.policy.partitions_ahead_days,
                since=max(det_cutoff.date(), now.date() - timedelta(days=1)),
            )
            dropped = partitions.drop_expired(conn, det_cutoff)
        else:
            deleted += conn.execute(delete(Detection).where(Detection.ts < det_cutoff)).rowcount
        hb_cutoff = now - timedelta(days=self.policy.heartbeat_retention_days)
        hb_1h_cutoff = now - timedelta(days=self.policy.heartbeat_rollup_retention_days)
        # rollup tables (unused on TimescaleDB but for the zone rollups, tables everywhere) and
        # the heartbeat history, each past its own retention
        for time_column, cutoff in (
            (DetectionCount1m.bucket, det_cutoff),
            (DetectionCount1h.bucket, evt_cutoff),
            (DetectionZoneCount1m.bucket, det_cutoff),
            (DetectionZoneCount1h.bucket, evt_cutoff),
            (HeartbeatSample.ts, hb_cutoff),
            (HeartbeatRollup1h.ts, hb_1h_cutoff),
        ):
            table = time_column.class_
            deleted += conn.execute(delete(table).where(time_column < cutoff)).rowcount
        if kind is not StorageKind.TIMESCALE:
            deleted += conn.execute(
                delete(EventRecord).where(EventRecord.started_at < evt_cutoff)
            ).rowcount
        return MaintenanceReport(
            kind=kind, partitions_created=created, partitions_dropped=dropped, rows_deleted=deleted
        )
