"""Detection counts per minute and per hour, maintained at ingest (plain PostgreSQL, SQLite).

:func:`count_batch` adds one batch's detections to a :class:`RollupCounts` (pure);
:func:`upsert_rollups` writes them in the flush's transaction with
``INSERT ... ON CONFLICT DO UPDATE SET count = count + excluded.count``, keys sorted so that
concurrent ingest replicas lock rows in the same order (no deadlock). Only newly stored batches
are counted, so a redelivered batch never counts twice. With TimescaleDB the continuous
aggregates do this instead and the store skips it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.models import DetectionCount1h, DetectionCount1m
from aios.controlplane.db.storage.dialect import conflict_insert
from aios.shared.messages import DetectionBatch

RollupKey = tuple[str, int, str, str, str]  # org, bucket (epoch s), device, stream, label


K = TypeVar("K", bound=tuple[object, ...])


class BucketCounts(Generic[K]):
    """Counts per minute and per hour bucket, keyed by ``K`` (organization, bucket, ...)."""

    __slots__ = ("hour", "minute")

    def __init__(self) -> None:
        self.minute: Counter[K] = Counter()
        self.hour: Counter[K] = Counter()

    def __bool__(self) -> bool:
        return bool(self.minute)


RollupCounts = BucketCounts[RollupKey]


def count_batch(counts: RollupCounts, org_id: str, batch: DetectionBatch) -> None:
    minute, hour = counts.minute, counts.hour
    device, stream = batch.device_id, batch.stream_id
    for frame in batch.frames:
        if not frame.detections:
            continue
        m = int(frame.ts // 60) * 60
        h = m - m % 3600
        for label, n in Counter(d.label for d in frame.detections).items():
            minute[(org_id, m, device, stream, label)] += n
            hour[(org_id, h, device, stream, label)] += n


async def upsert_rollups(conn: AsyncConnection, counts: RollupCounts) -> None:
    if not counts:
        return
    dialect = conn.dialect.name
    for model, counter in ((DetectionCount1m, counts.minute), (DetectionCount1h, counts.hour)):
        stmt: Any = conflict_insert(dialect, model)
        stmt = stmt.on_conflict_do_update(
            index_elements=["org_id", "bucket", "device_id", "stream_id", "label"],
            set_={"count": model.count + stmt.excluded.count},
        )
        await conn.execute(
            stmt,
            [
                {
                    "org_id": k[0],
                    "bucket": datetime.fromtimestamp(k[1], UTC),
                    "device_id": k[2],
                    "stream_id": k[3],
                    "label": k[4],
                    "count": n,
                }
                for k, n in sorted(counter.items())
            ],
        )
