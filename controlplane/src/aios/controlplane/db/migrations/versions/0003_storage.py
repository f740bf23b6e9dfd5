"""Storage strategy: events, pipeline reports, detection rollups; partitions or hypertables.

On PostgreSQL with TimescaleDB available, ``detections`` and ``events`` become hypertables with
compression, retention and continuous aggregates (:mod:`aios.controlplane.db.storage.timescale`);
on plain PostgreSQL ``detections`` becomes a table partitioned by day (data kept;
:mod:`aios.controlplane.db.storage.partitions`); SQLite gets the tables only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col
from aios.controlplane.db.storage import partitions, timescale
from aios.controlplane.db.storage.backend import (
    StoragePolicy,
    timescale_available,
    timescale_installed,
)

revision: str = "0003_storage"
down_revision: str | None = "0002_accounts_fleet_pipelines"

log = logging.getLogger("alembic.runtime.migration")


def _rollup(name: str) -> None:
    op.create_table(
        name,
        col.string("org_id"),
        sa.Column("bucket", col.UTC_DATETIME, nullable=False),
        col.string("device_id"),
        col.string("stream_id"),
        col.string("label", 256),
        sa.Column("count", sa.BigInteger(), nullable=False),
        col.primary_key(name, "org_id", "bucket", "device_id", "stream_id", "label"),
    )


def upgrade() -> None:
    _rollup("detection_counts_1m")
    _rollup("detection_counts_1h")
    op.create_table(
        "events",
        *col.required(sa.String(64), "device_id", "id", "org_id", "stream_id", "event_type"),
        *col.required(sa.String(16), "severity", "phase"),
        sa.Column("started_at", col.UTC_DATETIME, nullable=False),
        sa.Column("last_ts", col.UTC_DATETIME, nullable=False),
        sa.Column("ended_at", col.UTC_DATETIME, nullable=True),
        *col.optional(sa.String(128), "rule_id", "zone_id", "line_id"),
        sa.Column("track_ids", col.JSON, nullable=False),
        sa.Column("attributes", col.JSON, nullable=False),
        col.string("snapshot", 512, nullable=True),
        sa.Column("pipeline_version", sa.Integer(), nullable=True),
        sa.Column("received_at", col.UTC_DATETIME, nullable=False),
        col.primary_key("events", "device_id", "id"),
    )
    op.create_index("ix_events_org_id_started_at", "events", ["org_id", "started_at"])
    op.create_index("ix_events_device_id_started_at", "events", ["device_id", "started_at"])
    op.create_table(
        "pipeline_reports",
        col.string("device_id"),
        col.string("pipeline_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        col.string("status", 16),
        sa.Column("ts", col.UTC_DATETIME, nullable=False),
        col.string("org_id"),
        col.string("deployment_id", nullable=True),
        sa.Column("active_version", sa.Integer(), nullable=True),
        col.string("error", 2048, nullable=True),
        *col.optional(sa.String(128), "node", "field"),
        sa.Column("received_at", col.UTC_DATETIME, nullable=False),
        col.primary_key("pipeline_reports", "device_id", "pipeline_id", "version", "status", "ts"),
    )
    op.create_index(
        "ix_pipeline_reports_org_id_received_at", "pipeline_reports", ["org_id", "received_at"]
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if _enable_timescale(bind):
        for sql in timescale.setup_sql(StoragePolicy().timescale()):
            bind.exec_driver_sql(sql)
        return
    _partition_detections(bind)


def _enable_timescale(bind: sa.Connection) -> bool:
    """Whether TimescaleDB is (or could just be made) installed in this database."""
    if timescale_installed(bind):
        return True
    if not timescale_available(bind):
        return False
    try:  # fails unless the server preloads the library: then plain partitioning
        with bind.begin_nested():
            bind.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {timescale.EXTENSION}")
    except sa.exc.DBAPIError as exc:
        log.warning("TimescaleDB is available but cannot be enabled (%s): partitioning", exc)
        return False
    return True


def _partition_detections(bind: sa.Connection) -> None:
    for sql in partitions.convert_to_partitioned_sql():
        bind.exec_driver_sql(sql)
    now = datetime.now(UTC)
    oldest = bind.exec_driver_sql("SELECT min(ts) FROM detections_unpartitioned").scalar()
    keep_from = (now - timedelta(days=StoragePolicy().detections_retention_days)).date()
    since = max(oldest.date(), keep_from) if oldest is not None else now.date()
    partitions.ensure_partitions(
        bind, now, ahead_days=StoragePolicy().partitions_ahead_days, since=since
    )
    bind.exec_driver_sql("INSERT INTO detections SELECT * FROM detections_unpartitioned")
    bind.exec_driver_sql("DROP TABLE detections_unpartitioned")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        if timescale_installed(bind):
            for sql in timescale.teardown_sql():
                bind.exec_driver_sql(sql)
        elif partitions.is_partitioned(bind):
            for sql in partitions.convert_to_plain_sql():
                bind.exec_driver_sql(sql)
    col.drop_tables("pipeline_reports", "events", "detection_counts_1h", "detection_counts_1m")
