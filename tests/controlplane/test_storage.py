"""Storage strategy: rollups and events at ingest, retention/partitions, TimescaleDB SQL.

Plain PostgreSQL and SQLite run for real. The TimescaleDB path runs for real when the test
server preloads the extension (``AIOS_TEST_PG_URL`` pointing at such a server; the PostgreSQL
cases then take that path); otherwise it is checked through the SQL it emits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import TableClause, column, func, insert, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import (
    Detection,
    DetectionCount1h,
    DetectionCount1m,
    EventRecord,
    PipelineReportRecord,
)
from aios.controlplane.db.storage import timescale
from aios.controlplane.db.storage.backend import Storage, StorageKind, StoragePolicy, detect_kind
from aios.controlplane.db.storage.partitions import PARTITION_SCHEMA
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.events import event_row, merge_event
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.codec import encode
from aios.shared.messages import Event, Message, PipelineReport
from aios.shared.topics import Channel
from tests.controlplane.conftest import migrated_engine
from tests.controlplane.messages import detection_batch
from tests.controlplane.messages import inbound as _inbound

NOW = datetime.now(UTC).replace(second=30, microsecond=0)


async def _write(engine: AsyncEngine, items: list[Inbound]) -> None:
    accepted = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    assert all(isinstance(a, Accepted) for a in accepted), accepted
    await TelemetryStore(engine, auto_register=True).write(accepted, [])  # type: ignore[arg-type]


def _event(device: str, eid: str, phase: str, ts: float, severity: str = "warning") -> bytes:
    msg: Message = Event(
        id=eid,
        event_type="intrusion",
        severity=severity,  # type: ignore[arg-type]
        device_id=device,
        stream_id="cam1",
        ts=ts,
        phase=phase,  # type: ignore[arg-type]
        attributes={"phase": phase},
    )
    return encode(msg)


def _rollup(name: str, kind: StorageKind) -> TableClause:
    """A rollup table, or on TimescaleDB the continuous aggregate that stands in for it."""
    if kind is StorageKind.TIMESCALE:
        name = timescale.cagg_name(name)
    return table(name, *(column(c) for c in ("org_id", "bucket", "device_id", "label", "count")))


async def test_rollups_count_each_stored_batch_once(engine: AsyncEngine) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    ts = NOW.timestamp()
    det = [
        _inbound(org, device, Channel.DETECTIONS, detection_batch(device, s, objects=3, ts=ts + s))
        for s in range(4)
    ]
    await _write(engine, det)
    await _write(engine, det[:2])  # a redelivery: no double count
    async with engine.connect() as conn:
        kind = await conn.run_sync(detect_kind)
        m = _rollup(DetectionCount1m.__tablename__, kind).c
        h = _rollup(DetectionCount1h.__tablename__, kind).c
        minute = dict(
            (
                await conn.execute(
                    select(m.label, func.sum(m.count))
                    .where(m.device_id == device)
                    .group_by(m.label)
                )
            ).all()
        )
        hour = await conn.scalar(select(func.sum(h.count)).where(h.device_id == device))
        raw = await conn.scalar(
            select(func.count()).select_from(Detection).where(Detection.device_id == device)
        )
    assert minute == {"person": 8, "car": 4}  # objects 0, 2 are persons, 1 is a car
    assert hour == raw == 12


async def test_event_start_arriving_late_moves_the_row(engine: AsyncEngine) -> None:
    """A late ``start`` moves ``started_at`` 40 days back (across a TimescaleDB chunk)."""
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    t1 = NOW.timestamp()
    t0 = t1 - 40 * 86400
    await _write(engine, [_inbound(org, device, Channel.EVENTS, _event(device, "e", "update", t1))])
    await _write(engine, [_inbound(org, device, Channel.EVENTS, _event(device, "e", "start", t0))])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(EventRecord).where(EventRecord.device_id == device))
        ).all()
    start, last = datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1, UTC)
    assert [(r.id, r.phase, r.started_at, r.last_ts) for r in rows] == [
        ("e", "update", start, last)
    ]


STEPS = (("start", 10.0, "info"), ("update", 20.0, "warning"), ("end", 30.0, "critical"))


def test_event_merge_is_order_insensitive_and_idempotent() -> None:
    rows = [
        event_row("o", Event(id="e", event_type="loiter", severity=s, device_id="d",  # type: ignore[arg-type]
                             stream_id="c", ts=t, phase=p), NOW)  # type: ignore[arg-type]
        for p, t, s in STEPS
    ]  # fmt: skip
    forward = merge_event(merge_event(rows[0], rows[1]), rows[2])
    backward = merge_event(merge_event(rows[2], rows[1]), rows[0])
    assert forward == backward == merge_event(forward, rows[1])
    assert forward.phase == "end"
    assert forward.severity == "critical"
    assert forward.started_at == datetime.fromtimestamp(10.0, UTC)
    assert forward.ended_at == datetime.fromtimestamp(30.0, UTC)


async def test_event_lifecycle_one_row_and_reports_stored(engine: AsyncEngine) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    t0 = NOW.timestamp()
    start = _inbound(org, device, Channel.EVENTS, _event(device, "ev1", "start", t0))
    await _write(engine, [start])
    update = _inbound(org, device, Channel.EVENTS, _event(device, "ev1", "update", t0 + 5))
    end = _inbound(org, device, Channel.EVENTS, _event(device, "ev1", "end", t0 + 9, "critical"))
    other = _inbound(org, device, Channel.EVENTS, _event(device, "ev2", "instant", t0 + 1))
    await _write(engine, [end, update, other])
    await _write(engine, [start, update])  # replayed: nothing changes
    report = PipelineReport(
        device_id=device, pipeline_id="p1", version=3, status="rejected", ts=t0, error="bad"
    )
    rep = _inbound(org, device, Channel.CONFIG_REPORTED, encode(report))
    await _write(engine, [rep])
    await _write(engine, [rep])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(EventRecord).where(EventRecord.device_id == device).order_by(EventRecord.id)
            )
        ).all()
        reports = (
            await conn.execute(
                select(PipelineReportRecord).where(PipelineReportRecord.device_id == device)
            )
        ).all()
    assert [(r.id, r.phase) for r in rows] == [("ev1", "end"), ("ev2", "instant")]
    ev1 = rows[0]
    assert ev1.started_at == datetime.fromtimestamp(t0, UTC)
    assert ev1.ended_at == datetime.fromtimestamp(t0 + 9, UTC)
    assert ev1.severity == "critical"
    assert ev1.org_id == org
    assert [(r.status, r.version, r.error) for r in reports] == [("rejected", 3, "bad")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on a database of its own (maintenance deletes by age)."""
    name = f"aios_sto_{uuid.uuid4().hex[:10]}"
    admin = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'storage.db'}"
    else:
        admin = request.getfixturevalue("pg_admin_url")
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    async with migrated_engine(tmp_path, url) as engine:
        yield engine
    if admin:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def _det(device: str, seq: int, ts: datetime) -> dict[str, object]:
    return {
        "device_id": device, "seq": seq, "idx": 0, "ts": ts, "org_id": "o", "stream_id": "s",
        "frame_index": 0, "class_id": 0, "label": "person", "confidence": 0.5,
        "x1": 0.0, "y1": 0.0, "x2": 0.1, "y2": 0.1, "track_id": None,
    }  # fmt: skip


async def test_retention_and_partitions(fresh_engine: AsyncEngine) -> None:
    storage = Storage(fresh_engine, StoragePolicy(detections_retention_days=30))
    kind = await storage.kind()
    assert kind in (
        (StorageKind.SQLITE,)
        if fresh_engine.dialect.name == "sqlite"
        else (StorageKind.PARTITIONED, StorageKind.TIMESCALE)
    )
    old, new = NOW - timedelta(days=40), NOW - timedelta(hours=1)
    if kind is StorageKind.PARTITIONED:  # a partition for the old day, as if made back then
        await Storage(fresh_engine, StoragePolicy(detections_retention_days=60)).maintain(old)
    # the new row lands in the default partition, moved out when its day's partition is made
    async with fresh_engine.begin() as conn:
        await conn.execute(insert(Detection), [_det("d", 1, old), _det("d", 2, new)])
        await conn.execute(
            insert(DetectionCount1m),
            [
                {
                    "org_id": "o",
                    "bucket": b,
                    "device_id": "d",
                    "stream_id": "s",
                    "label": "person",
                    "count": 1,
                }
                for b in (old, new)
            ],
        )
    report = await storage.maintain(NOW)
    async with fresh_engine.connect() as conn:
        seqs = (await conn.execute(select(Detection.seq).order_by(Detection.seq))).scalars().all()
        buckets = (await conn.execute(select(DetectionCount1m.bucket))).scalars().all()
        if kind is StorageKind.PARTITIONED:
            parts = (
                (
                    await conn.execute(
                        text(
                            "SELECT c.relname FROM pg_inherits i"
                            " JOIN pg_class c ON c.oid = i.inhrelid"
                            " WHERE i.inhparent = 'detections'::regclass ORDER BY 1"
                        )
                    )
                )
                .scalars()
                .all()
            )
    assert list(seqs) == [2]
    assert list(buckets) == [new]
    if kind is StorageKind.TIMESCALE:
        assert report.partitions_dropped >= 1  # the old day's chunk
        jobs_sql = text(
            "SELECT job_id, hypertable_name, proc_name, config FROM timescaledb_information.jobs"
            " WHERE hypertable_schema = current_schema() ORDER BY job_id"
        )
        async with fresh_engine.connect() as conn:
            jobs = (await conn.execute(jobs_sql)).all()
        assert {(j.hypertable_name, j.proc_name) for j in jobs} == {
            ("detections", "policy_compression"),
            ("detections", "policy_retention"),
            ("events", "policy_compression"),
            ("events", "policy_retention"),
            ("detection_counts_1m_cagg", "policy_refresh_continuous_aggregate"),
            ("detection_counts_1m_cagg", "policy_retention"),
            ("detection_counts_1h_cagg", "policy_refresh_continuous_aggregate"),
            ("detection_counts_1h_cagg", "policy_retention"),
        }
        await storage.maintain(NOW)  # unchanged settings: the same jobs
        await Storage(fresh_engine, StoragePolicy(detections_retention_days=14)).maintain(NOW)
        async with fresh_engine.connect() as conn:
            after = (await conn.execute(jobs_sql)).all()
        before = {(j.job_id, j.hypertable_name, j.proc_name) for j in jobs}
        changed = {(j[1], j[2]) for j in after if (j.job_id, j[1], j[2]) not in before}
        assert changed == {
            ("detections", "policy_retention"),
            ("detection_counts_1m_cagg", "policy_retention"),
        }
        assert all(j.config["drop_after"] == "14 days" for j in after if (j[1], j[2]) in changed)
    if kind is StorageKind.PARTITIONED:
        assert report.partitions_dropped == 5  # the old day -1 .. +3
        days = [NOW.date() + timedelta(days=d) for d in range(-1, 4)]
        assert parts == [f"detections_{d:%Y%m%d}" for d in days] + ["detections_default"]
        async with fresh_engine.connect() as conn:
            schema = await conn.scalar(
                text(
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE c.relname = 'detections_default'"
                )
            )
        assert schema == PARTITION_SCHEMA


def test_timescale_sql_follows_the_policy() -> None:
    policy = timescale.TimescalePolicy(
        detections_retention_days=14, events_retention_days=90, compress_after_days=3
    )
    sql = "\n".join(timescale.setup_sql(policy))
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in sql
    assert "create_hypertable('detections', 'ts'" in sql
    assert "create_hypertable('events', 'started_at'" in sql
    assert "PRIMARY KEY (device_id, id, started_at)" in sql  # unique keys include time
    assert "add_compression_policy('detections', compress_after => INTERVAL '3 days'" in sql
    assert "add_retention_policy('detections', drop_after => INTERVAL '14 days'" in sql
    assert "add_retention_policy('events', drop_after => INTERVAL '90 days'" in sql
    for view, width in (
        ("detection_counts_1m_cagg", "1 minute"),
        ("detection_counts_1h_cagg", "1 hour"),
    ):
        assert f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} WITH (timescaledb.continuous" in sql
        assert f"time_bucket(INTERVAL '{width}', ts)" in sql
        assert f"add_continuous_aggregate_policy('{view}'" in sql
    # hypertables exist before their policies, caggs before their retention
    statements = timescale.setup_sql(policy)
    first = {s.split("(")[0]: i for i, s in reversed(list(enumerate(statements)))}
    assert first["SELECT create_hypertable"] < first["SELECT add_compression_policy"]
    assert sql.count("WITH NO DATA") == 2  # may run inside the migration's transaction
