"""Native range partitioning of ``detections`` by day (plain PostgreSQL, no TimescaleDB).

The parent table ``public.detections`` keeps the ORM's name, columns, primary key
``(device_id, seq, idx, ts)`` (it includes the partition key, as PostgreSQL requires) and
indexes, so ``COPY detections`` and every query work unchanged. Partitions live in their own
schema (:data:`PARTITION_SCHEMA`), one per UTC day (``detections_YYYYMMDD``), plus a default
partition that catches anything outside them (a device with a wrong clock), so an insert never
fails for want of a partition. :func:`ensure_partitions` creates them ahead of time;
:func:`drop_expired` drops whole partitions older than the retention (and deletes expired rows
from the default partition). Everything here runs on a synchronous connection (migrations call
it directly, the async code through ``run_sync``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection

PARTITION_SCHEMA = "aios_partitions"
PARENT = "detections"
DEFAULT_PARTITION = f"{PARTITION_SCHEMA}.{PARENT}_default"
_NAME = re.compile(rf"{PARENT}_(\d{{8}})")


def partition_name(day: date) -> str:
    return f"{PARENT}_{day:%Y%m%d}"


def create_partition_sql(day: date) -> str:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return (
        f'CREATE TABLE IF NOT EXISTS {PARTITION_SCHEMA}."{partition_name(day)}" '
        f"PARTITION OF {PARENT} FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def convert_to_partitioned_sql() -> list[str]:
    """Statements turning the plain ``detections`` table into a partitioned one (data kept)."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}",
        "ALTER TABLE detections RENAME TO detections_unpartitioned",
        "ALTER TABLE detections_unpartitioned RENAME CONSTRAINT pk_detections"
        " TO pk_detections_unpartitioned",
        "ALTER INDEX ix_detections_org_id_ts RENAME TO ix_detections_unpartitioned_org_id_ts",
        "ALTER INDEX ix_detections_device_id_ts RENAME TO ix_detections_unpartitioned_device_ts",
        "CREATE TABLE detections (LIKE detections_unpartitioned INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (ts)",
        "ALTER TABLE detections ADD CONSTRAINT pk_detections PRIMARY KEY (device_id, seq, idx, ts)",
        "CREATE INDEX ix_detections_org_id_ts ON detections (org_id, ts)",
        "CREATE INDEX ix_detections_device_id_ts ON detections (device_id, ts)",
        f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF detections DEFAULT",
    ]


def convert_to_plain_sql() -> list[str]:
    """The reverse of :func:`convert_to_partitioned_sql` (downgrade)."""
    return [
        "CREATE TABLE detections_plain (LIKE detections INCLUDING DEFAULTS)",
        "INSERT INTO detections_plain SELECT * FROM detections",
        "DROP TABLE detections",
        f"DROP SCHEMA IF EXISTS {PARTITION_SCHEMA} CASCADE",
        "ALTER TABLE detections_plain RENAME TO detections",
        "ALTER TABLE detections ADD CONSTRAINT pk_detections PRIMARY KEY (device_id, seq, idx, ts)",
        "CREATE INDEX ix_detections_org_id_ts ON detections (org_id, ts)",
        "CREATE INDEX ix_detections_device_id_ts ON detections (device_id, ts)",
    ]


def is_partitioned(conn: Connection) -> bool:
    row = conn.exec_driver_sql(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname = 'detections'"
    ).first()
    return row is not None and row[0] == "p"


def existing_days(conn: Connection) -> set[date]:
    """The days that have a partition."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE n.nspname = '{PARTITION_SCHEMA}'"
        f" AND i.inhparent = '{PARENT}'::regclass"
    )
    days: set[date] = set()
    for (name,) in rows:
        match = _NAME.fullmatch(name)
        if match:
            days.add(datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date())
    return days


def ensure_partitions(conn: Connection, now: datetime, *, ahead_days: int, since: date) -> int:
    """Create the daily partitions from ``since`` to ``ahead_days`` after ``now``; how many."""
    have = existing_days(conn)
    created = 0
    day = since
    last = now.astimezone(UTC).date() + timedelta(days=ahead_days)
    while day <= last:
        if day not in have:
            # A partition cannot be created over rows already in the default partition: move
            # them out first (rare: only rows that arrived before their day's partition).
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            end = start + timedelta(days=1)
            span = f"ts >= '{start.isoformat()}' AND ts < '{end.isoformat()}'"
            stray = conn.exec_driver_sql(
                f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE {span})"
            ).scalar()
            if stray:
                conn.exec_driver_sql(f"CREATE TEMP TABLE _aios_moved (LIKE {PARENT})")
                conn.exec_driver_sql(
                    f"WITH m AS (DELETE FROM {DEFAULT_PARTITION} WHERE {span} RETURNING *)"
                    " INSERT INTO _aios_moved SELECT * FROM m"
                )
            conn.exec_driver_sql(create_partition_sql(day))
            if stray:
                conn.exec_driver_sql(f"INSERT INTO {PARENT} SELECT * FROM _aios_moved")
                conn.exec_driver_sql("DROP TABLE _aios_moved")
            created += 1
        day += timedelta(days=1)
    return created


def drop_expired(conn: Connection, cutoff: datetime) -> int:
    """Drop every daily partition entirely older than ``cutoff``; how many were dropped."""
    dropped = 0
    for day in sorted(existing_days(conn)):
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        if end <= cutoff:
            conn.exec_driver_sql(f'DROP TABLE {PARTITION_SCHEMA}."{partition_name(day)}"')
            dropped += 1
    conn.exec_driver_sql(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts < '{cutoff.isoformat()}'")
    return dropped
