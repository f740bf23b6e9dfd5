"""Detection counts per zone, per minute and per hour, maintained at ingest on every backend.

:func:`count_zones` adds one batch's zone-tagged detections to a :class:`ZoneCounts` (pure; a
detection counts once in each of its zones, none when it carries no zone);
:func:`upsert_zone_counts` adds them to ``detection_zone_counts_1m`` / ``_1h`` in the flush's
transaction: one ``unnest`` statement on PostgreSQL (prepared once, whatever the flush size), an
``INSERT ... ON CONFLICT DO UPDATE`` executemany elsewhere. Keys are sorted so concurrent ingest
replicas lock rows in the same order. Only newly stored batches are counted (the store calls this
next to the detection rollups), so a redelivered batch never counts twice. TimescaleDB keeps
these tables too (see :mod:`aios.controlplane.db.models.rollups`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.models import DetectionZoneCount1h, DetectionZoneCount1m
from aios.controlplane.db.storage.dialect import conflict_insert
from aios.controlplane.telemetry.pg_statements import Driver
from aios.controlplane.telemetry.records import zone_ids
from aios.controlplane.telemetry.rollups import BucketCounts
from aios.shared.messages import DetectionBatch

ZoneKey = tuple[str, int, str, str, str, str]  # org, bucket (epoch s), device, stream, zone, label
KEY_COLUMNS = ("org_id", "bucket", "device_id", "stream_id", "zone_id", "label")


ZoneCounts = BucketCounts[ZoneKey]


def count_zones(counts: ZoneCounts, org_id: str, batch: DetectionBatch) -> None:
    device, stream = batch.device_id, batch.stream_id
    for frame in batch.frames:
        m = int(frame.ts // 60) * 60
        h = m - m % 3600
        for det in frame.detections:
            for zone in zone_ids(det.zones):
                counts.minute[(org_id, m, device, stream, zone, det.label)] += 1
                counts.hour[(org_id, h, device, stream, zone, det.label)] += 1


_PG_INSERT = """
INSERT INTO {table} AS t (org_id, bucket, device_id, stream_id, zone_id, label, count)
SELECT * FROM unnest(${a}::text[], ${b}::timestamptz[], ${c}::text[], ${d}::text[],
                     ${e}::text[], ${f}::text[], ${g}::bigint[])
ON CONFLICT (org_id, bucket, device_id, stream_id, zone_id, label)
DO UPDATE SET count = t.count + excluded.count
"""

PG_UPSERT_ZONE_COUNTS = (
    "WITH minute AS ("
    + _PG_INSERT.format(table="detection_zone_counts_1m", a=1, b=2, c=3, d=4, e=5, f=6, g=7)
    + ")"
    + _PG_INSERT.format(table="detection_zone_counts_1h", a=8, b=9, c=10, d=11, e=12, f=13, g=14)
)


def _rows(counter: Counter[ZoneKey]) -> list[tuple[str, datetime, str, str, str, str, int]]:
    return [
        (org, datetime.fromtimestamp(bucket, UTC), device, stream, zone, label, n)
        for (org, bucket, device, stream, zone, label), n in sorted(counter.items())
    ]


def _columns(counter: Counter[ZoneKey]) -> list[list[Any]]:
    return [list(col) for col in zip(*_rows(counter), strict=True)]


async def upsert_zone_counts(
    conn: AsyncConnection, driver: Driver | None, counts: ZoneCounts
) -> None:
    """Add ``counts`` to both zone rollups; ``driver``: the flush's asyncpg connection on
    PostgreSQL (one set-based statement), ``None`` elsewhere (SQLAlchemy executemany)."""
    if not counts:
        return
    if driver is not None:
        await driver.execute(
            PG_UPSERT_ZONE_COUNTS, *_columns(counts.minute), *_columns(counts.hour)
        )
        return
    for model, counter in (
        (DetectionZoneCount1m, counts.minute),
        (DetectionZoneCount1h, counts.hour),
    ):
        stmt: Any = conflict_insert(conn.dialect.name, model)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS), set_={"count": model.count + stmt.excluded.count}
        )
        await conn.execute(
            stmt, [dict(zip((*KEY_COLUMNS, "count"), row, strict=True)) for row in _rows(counter)]
        )
