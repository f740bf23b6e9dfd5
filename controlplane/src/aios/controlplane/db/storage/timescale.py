"""The TimescaleDB path (2.x): hypertables, compression, retention, continuous aggregates.

Pure SQL builders (unit-tested); :mod:`.backend` runs them. Written from the TimescaleDB 2.x
documentation:

- ``create_hypertable(relation, time_column, chunk_time_interval => ..., if_not_exists => TRUE,
  migrate_data => TRUE)`` (the 2.x signature, still accepted by 2.13+ beside ``by_range``);
- ``ALTER TABLE ... SET (timescaledb.compress, timescaledb.compress_segmentby = ...,
  timescaledb.compress_orderby = ...)`` then ``add_compression_policy(relation,
  compress_after => INTERVAL ..., if_not_exists => TRUE)``;
- ``add_retention_policy(relation, drop_after => INTERVAL ..., if_not_exists => TRUE)``;
  changing a setting removes the policy first (``remove_*_policy(relation, if_exists => TRUE)``);
- ``CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous, timescaledb.materialized_only =
  false) AS SELECT time_bucket(...) ... GROUP BY ... WITH NO DATA`` (``WITH NO DATA`` so that it
  may run inside the migration's transaction) and ``add_continuous_aggregate_policy(view,
  start_offset => ..., end_offset => ..., schedule_interval => ...)``. ``materialized_only =
  false`` (real-time aggregation) makes the latest, not yet materialized buckets visible.

A hypertable's unique constraints must include its time column: ``events`` (keyed
``(device_id, id)`` elsewhere) gets the primary key ``(device_id, id, started_at)`` here; the
ingest merges an event's lifecycle by ``(device_id, id)`` without ``ON CONFLICT``, so it works
unchanged.
"""

from __future__ import annotations

import msgspec

EXTENSION = "timescaledb"
CAGG_SUFFIX = "_cagg"

ROLLUPS: tuple[tuple[str, str], ...] = (
    ("detection_counts_1m", "1 minute"),
    ("detection_counts_1h", "1 hour"),
)


class TimescalePolicy(msgspec.Struct, frozen=True, kw_only=True):
    detections_retention_days: int = 30
    events_retention_days: int = 365
    compress_after_days: int = 7
    chunk_days: int = 1


def cagg_name(rollup_table: str) -> str:
    """The continuous aggregate standing in for a rollup table (same columns)."""
    return rollup_table + CAGG_SUFFIX


def hypertable_sql(policy: TimescalePolicy) -> list[str]:
    """Make ``detections`` and ``events`` hypertables (data migrated in place)."""
    chunk = f"INTERVAL '{policy.chunk_days} days'"
    return [
        f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}",
        "SELECT create_hypertable('detections', 'ts', "
        f"chunk_time_interval => {chunk}, if_not_exists => TRUE, migrate_data => TRUE)",
        "ALTER TABLE events DROP CONSTRAINT pk_events",
        "ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (device_id, id, started_at)",
        "SELECT create_hypertable('events', 'started_at', "
        "chunk_time_interval => INTERVAL '30 days', if_not_exists => TRUE, migrate_data => TRUE)",
    ]


def continuous_aggregate_sql() -> list[str]:
    """Per-minute and per-hour detection counts by org/device/stream/label, kept fresh."""
    statements: list[str] = []
    for table, width in ROLLUPS:
        view = cagg_name(table)
        statements += [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} WITH (timescaledb.continuous, "
            "timescaledb.materialized_only = false) AS "
            f"SELECT org_id, time_bucket(INTERVAL '{width}', ts) AS bucket, device_id, "
            "stream_id, label, count(*) AS count FROM detections "
            "GROUP BY org_id, time_bucket(INTERVAL '" + width + "', ts), device_id, stream_id, "
            "label WITH NO DATA",
            f"SELECT add_continuous_aggregate_policy('{view}', "
            f"start_offset => INTERVAL '{'3 hours' if width == '1 minute' else '3 days'}', "
            f"end_offset => INTERVAL '{width}', "
            f"schedule_interval => INTERVAL '{width}', if_not_exists => TRUE)",
        ]
    return statements


def policy_sql(policy: TimescalePolicy) -> list[str]:
    """(Re)apply compression and retention: idempotent, run at migration and on setting change."""
    det_keep = f"INTERVAL '{policy.detections_retention_days} days'"
    evt_keep = f"INTERVAL '{policy.events_retention_days} days'"
    compress = f"INTERVAL '{policy.compress_after_days} days'"
    statements = [
        "ALTER TABLE detections SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'org_id, device_id', "
        "timescaledb.compress_orderby = 'ts DESC, seq DESC, idx DESC')",
        "ALTER TABLE events SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'org_id', "
        "timescaledb.compress_orderby = 'started_at DESC')",
    ]
    for relation, keep, comp in (
        ("detections", det_keep, compress),
        ("events", evt_keep, f"INTERVAL '{max(policy.compress_after_days, 30)} days'"),
    ):
        statements += [
            f"SELECT remove_compression_policy('{relation}', if_exists => TRUE)",
            f"SELECT add_compression_policy('{relation}', compress_after => {comp}, "
            "if_not_exists => TRUE)",
            f"SELECT remove_retention_policy('{relation}', if_exists => TRUE)",
            f"SELECT add_retention_policy('{relation}', drop_after => {keep}, "
            "if_not_exists => TRUE)",
        ]
    for table, keep in (("detection_counts_1m", det_keep), ("detection_counts_1h", evt_keep)):
        view = cagg_name(table)
        statements += [
            f"SELECT remove_retention_policy('{view}', if_exists => TRUE)",
            f"SELECT add_retention_policy('{view}', drop_after => {keep}, if_not_exists => TRUE)",
        ]
    return statements


def setup_sql(policy: TimescalePolicy) -> list[str]:
    """Everything the migration runs on a TimescaleDB database, in order."""
    return hypertable_sql(policy) + continuous_aggregate_sql() + policy_sql(policy)


def teardown_sql() -> list[str]:
    """Downgrade: drop the continuous aggregates (the hypertables go with their tables)."""
    return [f"DROP MATERIALIZED VIEW IF EXISTS {cagg_name(t)}" for t, _ in ROLLUPS]
