"""The TimescaleDB path (2.x): hypertables, compression, retention, continuous aggregates.

Pure SQL builders (unit-tested); :mod:`.backend` runs them. Checked for real against
TimescaleDB 2.28 on PostgreSQL 15 (see ``docs/storage.md``):

- ``create_hypertable(relation, time_column, chunk_time_interval => ...,
  create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE)`` (the 2.x
  signature, still accepted by 2.13+ beside ``by_range``; the ORM's own indexes suffice, and a
  default ``(time DESC)`` index would be one more index to write and a schema drift);
- ``ALTER TABLE ... SET (timescaledb.compress, timescaledb.compress_segmentby = ...,
  timescaledb.compress_orderby = ...)`` then ``add_compression_policy(relation,
  compress_after => INTERVAL ..., if_not_exists => TRUE)``;
- ``add_retention_policy(relation, drop_after => INTERVAL ..., if_not_exists => TRUE)``;
  changing a setting removes the policy first (``remove_*_policy(relation, if_exists => TRUE)``;
  ``add_*`` with ``if_not_exists`` only warns and keeps the old setting): maintenance replaces a
  policy only when ``timescaledb_information.jobs`` shows another setting, and drops the chunks
  past retention itself (``drop_chunks``) rather than waiting for the daily policy;
- ``CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous, timescaledb.materialized_only =
  false) AS SELECT time_bucket(...) ... GROUP BY ... WITH NO DATA`` (``WITH NO DATA`` so that it
  may run inside the migration's transaction) and ``add_continuous_aggregate_policy(view,
  start_offset => ..., end_offset => ..., schedule_interval => ...)``. ``materialized_only =
  false`` (real-time aggregation) makes the latest, not yet materialized buckets visible.

A hypertable's unique constraints must include its time column: ``events`` (keyed
``(device_id, id)`` elsewhere) gets the primary key ``(device_id, id, started_at)`` here; the
ingest merges an event's lifecycle by ``(device_id, id)`` without ``ON CONFLICT``, under an
advisory lock per key, and moves a row whose ``started_at`` changes by delete and insert (an
``UPDATE`` cannot move a row to another chunk).
"""

from __future__ import annotations

import msgspec

EXTENSION = "timescaledb"
CAGG_SUFFIX = "_cagg"

# rollup table, bucket width, refresh window start. A refresh policy only materializes changes
# inside its window: rows arriving later than that (a device back from a long outage, a broker
# that held messages while ingest was down) would never reach the aggregate, so the windows are
# generous; refreshing them is cheap, as only the invalidated buckets are recomputed.
ROLLUPS: tuple[tuple[str, str, str], ...] = (
    ("detection_counts_1m", "1 minute", "1 day"),
    ("detection_counts_1h", "1 hour", "7 days"),
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
        f"chunk_time_interval => {chunk}, create_default_indexes => FALSE, "
        "if_not_exists => TRUE, migrate_data => TRUE)",
        "ALTER TABLE events DROP CONSTRAINT pk_events",
        "ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (device_id, id, started_at)",
        "SELECT create_hypertable('events', 'started_at', "
        "chunk_time_interval => INTERVAL '30 days', create_default_indexes => FALSE, "
        "if_not_exists => TRUE, migrate_data => TRUE)",
    ]


def continuous_aggregate_sql() -> list[str]:
    """Per-minute and per-hour detection counts by org/device/stream/label, kept fresh."""
    statements: list[str] = []
    for table, width, window in ROLLUPS:
        view = cagg_name(table)
        statements += [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} WITH (timescaledb.continuous, "
            "timescaledb.materialized_only = false) AS "
            f"SELECT org_id, time_bucket(INTERVAL '{width}', ts) AS bucket, device_id, "
            "stream_id, label, count(*) AS count FROM detections "
            "GROUP BY org_id, time_bucket(INTERVAL '" + width + "', ts), device_id, stream_id, "
            "label WITH NO DATA",
            f"SELECT add_continuous_aggregate_policy('{view}', "
            f"start_offset => INTERVAL '{window}', "
            f"end_offset => INTERVAL '{width}', "
            f"schedule_interval => INTERVAL '{width}', if_not_exists => TRUE)",
        ]
    return statements


COMPRESSION_SQL: tuple[str, ...] = (
    "ALTER TABLE detections SET (timescaledb.compress, "
    "timescaledb.compress_segmentby = 'org_id, device_id', "
    "timescaledb.compress_orderby = 'ts DESC, seq DESC, idx DESC')",
    "ALTER TABLE events SET (timescaledb.compress, "
    "timescaledb.compress_segmentby = 'org_id', "
    "timescaledb.compress_orderby = 'started_at DESC')",
)


class Job(msgspec.Struct, frozen=True):
    """One background policy: its relation, kind and interval setting."""

    relation: str
    kind: str  # "compression" or "retention"
    days: int

    @property
    def proc(self) -> str:
        return f"policy_{self.kind}"

    @property
    def key(self) -> str:
        return "compress_after" if self.kind == "compression" else "drop_after"

    def sql(self) -> list[str]:
        """Replace this relation's policy of this kind (``add_*`` alone keeps an old setting)."""
        return [
            f"SELECT remove_{self.kind}_policy('{self.relation}', if_exists => TRUE)",
            f"SELECT add_{self.kind}_policy('{self.relation}', "
            f"{self.key} => INTERVAL '{self.days} days', if_not_exists => TRUE)",
        ]


def policy_jobs(policy: TimescalePolicy) -> list[Job]:
    det, evt = policy.detections_retention_days, policy.events_retention_days
    return [
        Job("detections", "compression", policy.compress_after_days),
        Job("detections", "retention", det),
        Job("events", "compression", max(policy.compress_after_days, 30)),
        Job("events", "retention", evt),
        Job(cagg_name("detection_counts_1m"), "retention", det),
        Job(cagg_name("detection_counts_1h"), "retention", evt),
    ]


def policy_sql(policy: TimescalePolicy) -> list[str]:
    """Compression settings, then compression and retention policies (the migration's part)."""
    return list(COMPRESSION_SQL) + [sql for job in policy_jobs(policy) for sql in job.sql()]


def job_matches_sql(job: Job) -> str:
    """A query answering one row when ``job`` is already scheduled with its setting."""
    return (
        "SELECT 1 FROM timescaledb_information.jobs"
        f" WHERE hypertable_schema = current_schema() AND hypertable_name = '{job.relation}'"
        f" AND proc_name = '{job.proc}'"
        f" AND (config ->> '{job.key}')::interval = INTERVAL '{job.days} days'"
    )


def drop_chunks_sql(det_cutoff: str, evt_cutoff: str) -> list[str]:
    """Drop the chunks wholly older than the cutoffs now (the policies do it daily)."""
    return [
        f"SELECT drop_chunks('{relation}', older_than => TIMESTAMPTZ '{cutoff}')"
        for relation, cutoff in (
            ("detections", det_cutoff),
            ("events", evt_cutoff),
            (cagg_name("detection_counts_1m"), det_cutoff),
            (cagg_name("detection_counts_1h"), evt_cutoff),
        )
    ]


def setup_sql(policy: TimescalePolicy) -> list[str]:
    """Everything the migration runs on a TimescaleDB database, in order."""
    return hypertable_sql(policy) + continuous_aggregate_sql() + policy_sql(policy)


def teardown_sql() -> list[str]:
    """Downgrade: drop the continuous aggregates (the hypertables go with their tables)."""
    return [f"DROP MATERIALIZED VIEW IF EXISTS {cagg_name(t)}" for t, _, _ in ROLLUPS]
