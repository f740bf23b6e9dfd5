"""The flush's set-based statements on PostgreSQL: one round trip each, whatever the flush size.

Each statement takes whole columns as arrays (``unnest``), so its text never changes with the
number of rows: asyncpg prepares it once per connection and later flushes send only the
arrays. They run on the flush's own asyncpg connection, inside its transaction, next to the
``COPY`` of the detection rows (:class:`~aios.controlplane.telemetry.sinks.PostgresCopySink`).
SQLite runs the equivalent SQLAlchemy statements instead (see
:class:`~aios.controlplane.telemetry.store.TelemetryStore`).

- :func:`insert_batches`: ``detection_batches`` ``ON CONFLICT DO NOTHING RETURNING``: which
  ``(device_id, seq)`` are new;
- :func:`lock_ingest_state`: creates the missing ``ingest_state`` rows and returns all of them
  locked (an ``ON CONFLICT DO UPDATE`` that changes nothing locks and returns the latest committed
  row, as ``SELECT ... FOR UPDATE`` would); :func:`save_ingest_state` writes them back;
- :func:`upsert_rollups`: both rollups (per minute, per hour) in one statement.

Rows are passed sorted by key, so concurrent ingest replicas lock them in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from aios.controlplane.telemetry.rollups import RollupCounts, RollupKey
from aios.controlplane.telemetry.sequence import SeqProgress


class Driver(Protocol):
    """The part of an asyncpg connection used here."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def execute(self, query: str, *args: Any) -> str: ...


BATCH_COLUMNS = (
    "device_id", "seq", "org_id", "stream_id", "pipeline_version", "frames", "objects",
    "received_at",
)  # fmt: skip
BatchRow = tuple[str, int, str, str, int, int, int, datetime]  # in BATCH_COLUMNS order

INSERT_BATCHES = """
INSERT INTO detection_batches
    (device_id, seq, org_id, stream_id, pipeline_version, frames, objects, received_at)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::int[],
                     $7::int[], $8::timestamptz[])
ON CONFLICT DO NOTHING
RETURNING device_id, seq
"""

LOCK_INGEST_STATE = """
INSERT INTO ingest_state AS s
    (device_id, org_id, first_seq, contiguous_seq, max_seq, received, duplicates, gaps,
     updated_at)
SELECT d, o, -1, -1, -1, 0, 0, '[]'::jsonb, $3
FROM unnest($1::text[], $2::text[]) AS v(d, o)
ORDER BY d
ON CONFLICT (device_id) DO UPDATE SET updated_at = s.updated_at
RETURNING device_id, first_seq, contiguous_seq, max_seq, received, duplicates, gaps::text
"""

SAVE_INGEST_STATE = """
UPDATE ingest_state AS s
SET first_seq = v.first_seq, contiguous_seq = v.contiguous_seq, max_seq = v.max_seq,
    received = v.received, duplicates = v.duplicates, gaps = v.gaps::jsonb, updated_at = $8
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
            $7::text[])
    AS v(device_id, first_seq, contiguous_seq, max_seq, received, duplicates, gaps)
WHERE s.device_id = v.device_id
"""

_ROLLUP_INSERT = """
INSERT INTO {table} AS t (org_id, bucket, device_id, stream_id, label, count)
SELECT * FROM unnest(${a}::text[], ${b}::timestamptz[], ${c}::text[], ${d}::text[],
                     ${e}::text[], ${f}::bigint[])
ON CONFLICT (org_id, bucket, device_id, stream_id, label)
DO UPDATE SET count = t.count + excluded.count
"""

UPSERT_ROLLUPS = (
    "WITH minute AS ("
    + _ROLLUP_INSERT.format(table="detection_counts_1m", a=1, b=2, c=3, d=4, e=5, f=6)
    + ")"
    + _ROLLUP_INSERT.format(table="detection_counts_1h", a=7, b=8, c=9, d=10, e=11, f=12)
)


def _columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    return cols


async def insert_batches(driver: Driver, rows: Sequence[BatchRow]) -> set[tuple[str, int]]:
    """Insert ``detection_batches`` rows; the keys that were not there yet."""
    if not rows:
        return set()
    found = await driver.fetch(INSERT_BATCHES, *_columns(rows, 8))
    return {(r[0], r[1]) for r in found}


async def lock_ingest_state(
    driver: Driver, devices: dict[str, str], now: datetime
) -> dict[str, SeqProgress]:
    """The completeness of ``devices`` (device -> organization), created if new, locked."""
    ids = sorted(devices)
    found = await driver.fetch(LOCK_INGEST_STATE, ids, [devices[d] for d in ids], now)
    return {
        r[0]: SeqProgress(
            first_seq=r[1],
            contiguous_seq=r[2],
            max_seq=r[3],
            received=r[4],
            duplicates=r[5],
            gaps=[list(g) for g in json.loads(r[6])],
        )
        for r in found
    }


async def save_ingest_state(
    driver: Driver, progress: dict[str, SeqProgress], now: datetime
) -> None:
    rows = [
        (d, p.first_seq, p.contiguous_seq, p.max_seq, p.received, p.duplicates, json.dumps(p.gaps))
        for d, p in sorted(progress.items())
    ]
    if rows:
        await driver.execute(SAVE_INGEST_STATE, *_columns(rows, 7), now)


def _rollup_rows(counter: dict[RollupKey, int]) -> list[list[Any]]:
    return _columns(
        (
            (org, datetime.fromtimestamp(bucket, UTC), device, stream, label, n)
            for (org, bucket, device, stream, label), n in sorted(counter.items())
        ),
        6,
    )


async def upsert_rollups(driver: Driver, counts: RollupCounts) -> None:
    """Add ``counts`` to ``detection_counts_1m`` and ``_1h`` (one statement)."""
    if counts:
        await driver.execute(
            UPSERT_ROLLUPS, *_rollup_rows(counts.minute), *_rollup_rows(counts.hour)
        )
