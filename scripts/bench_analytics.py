"""Benchmark ``GET /api/v1/dashboard/analytics`` (24 h by class) over many detections.

    uv run python scripts/bench_analytics.py --json [--database-url URL] [--rows N]
        [--days D] [--repeat K]

Method:

1. a fresh PostgreSQL database on the server of ``--database-url`` (asyncpg style; dropped
   after), migrated with :func:`aios.controlplane.db.migrate.upgrade` (plain PostgreSQL: daily
   partitions of ``detections``; the partitions for the loaded days are created first);
2. N detections spread evenly over the last D days (default 10,000,000 over 7 days; 4
   organizations x 10 devices x 2 streams, 5 labels, batches of 20 objects), generated on the
   server by one ``INSERT ... SELECT generate_series``;
3. their rollups, ``detection_counts_1m`` and ``_1h``, by one ``INSERT ... SELECT ... GROUP BY``
   each from the raw table: the same rows the ingest would have upserted (UTC minute/hour of
   each detection's ``ts``, per organization, device, stream and label); then ``ANALYZE``;
4. K times (after one warm-up) each: the endpoint's own query function
   (:func:`aios.controlplane.telemetry.analytics.detection_analytics`, organization-scoped, 24 h,
   bucket ``1h``, group by label; it also counts events, as the endpoint does), and the same
   answer computed from raw detections (``count(*) ... GROUP BY date_trunc('hour', ts), label``
   over the organization's last 24 h); both answers are checked equal.

Prints one JSON object: ``rows``, ``p99_ms`` (rollups), ``naive_p99_ms`` (raw), ``speedup``
(their ratio), ``answers_equal``, ``load_s``, medians too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.storage import partitions
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.analytics import AnalyticsQuery, GroupBy, detection_analytics
from aios.controlplane.tenancy import OrgScope
from scripts.bench_database import database_bench_parser, fresh_database, sqlalchemy_url
from scripts.figures import print_json

ORGS, DEVICES_PER_ORG, STREAMS, BATCH = 4, 10, 2, 20
LABELS = ("person", "car", "truck", "bicycle", "dog")

LOAD_SQL = """
INSERT INTO detections (device_id, seq, idx, ts, org_id, stream_id, frame_index, class_id,
                        label, confidence, x1, y1, x2, y2, track_id)
SELECT 'dev' || (i % $2), (i / $2) / {batch}, (i / $2) % {batch},
       $3::timestamptz + (i::float8 / $1) * $4::interval,
       'org' || ((i % $2) % {orgs}),
       'cam' || (((i / $2) / {batch}) % {streams}),
       (i / $2) / {batch}, c, (ARRAY['person','car','truck','bicycle','dog'])[c + 1],
       0.5, 0.1, 0.1, 0.2, 0.3, i % 1000
FROM generate_series(0::bigint, $1 - 1) AS i,
     LATERAL (SELECT ((i * 7 + i / 13) % 5)::int AS c) AS k
"""

ROLLUP_SQL = """
INSERT INTO {table} (org_id, bucket, device_id, stream_id, label, count)
SELECT org_id, date_trunc('{unit}', ts), device_id, stream_id, label, count(*)
FROM detections GROUP BY 1, 2, 3, 4, 5
"""

NAIVE_SQL = """
SELECT date_trunc('hour', ts) AS bucket, label, count(*) AS n
FROM detections WHERE org_id = $1 AND ts >= $2 AND ts < $3
GROUP BY 1, 2
"""


def p99(samples: list[float]) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


async def load(conn: asyncpg.Connection, rows: int, days: int, end: datetime) -> float:
    start = end - timedelta(days=days)
    t0 = time.perf_counter()
    await conn.execute("SET TIME ZONE 'UTC'")
    await conn.execute(
        LOAD_SQL.format(batch=BATCH, orgs=ORGS, streams=STREAMS),
        rows,
        ORGS * DEVICES_PER_ORG,
        start,
        timedelta(days=days),
    )
    for table, unit in (("detection_counts_1m", "minute"), ("detection_counts_1h", "hour")):
        await conn.execute(ROLLUP_SQL.format(table=table, unit=unit))
    await conn.execute("ANALYZE")
    return time.perf_counter() - t0


async def run(args: argparse.Namespace) -> dict[str, object]:
    async with fresh_database(args.database_url) as db_url:
        return await run_on(args, db_url)


async def run_on(args: argparse.Namespace, db_url: str) -> dict[str, object]:
    settings = Settings.from_env(
        {
            "AIOS_DATA_DIR": tempfile.mkdtemp(),
            "AIOS_SECRET_KEY": "bench",
            "AIOS_DATABASE_URL": sqlalchemy_url(db_url),
        }
    )
    engine = create_engine(settings)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as c:
            await c.run_sync(
                lambda sync: (
                    partitions.ensure_partitions(
                        sync, end, ahead_days=1, since=(end - timedelta(days=args.days + 1)).date()
                    )
                    if partitions.is_partitioned(sync)
                    else 0
                )
            )
        raw = await asyncpg.connect(db_url)
        try:
            load_s = await load(raw, args.rows, args.days, end)
            return {**await measure(args, engine, raw, end), "load_s": round(load_s, 1)}
        finally:
            await raw.close()
    finally:
        await engine.dispose()


async def measure(
    args: argparse.Namespace, engine: object, raw: asyncpg.Connection, end: datetime
) -> dict[str, object]:
    org = "org1"
    since, until = end - timedelta(hours=24), end
    query = AnalyticsQuery(since=since, until=until, bucket="1h", group_by=GroupBy.LABEL)
    scope = OrgScope.single(org)
    fast: list[float] = []
    naive: list[float] = []
    answer: dict[str, dict[datetime, int]] = {}
    expected: dict[str, dict[datetime, int]] = defaultdict(dict)
    async with AsyncSession(engine) as session:  # type: ignore[arg-type]
        for i in range(args.repeat + 1):
            t0 = time.perf_counter()
            result = await detection_analytics(session, scope, query)
            await session.rollback()
            if i:
                fast.append((time.perf_counter() - t0) * 1000)
            answer = {s.key: {p.t: p.count for p in s.points} for s in result.series}
    for i in range(args.naive_repeat + 1):
        t0 = time.perf_counter()
        rows = await raw.fetch(NAIVE_SQL, org, since, until)
        if i:
            naive.append((time.perf_counter() - t0) * 1000)
    for r in rows:
        b = r["bucket"] if r["bucket"].tzinfo else r["bucket"].replace(tzinfo=UTC)
        expected[r["label"]][b.astimezone(UTC)] = int(r["n"])
    answer_utc = {k: {t.astimezone(UTC): n for t, n in v.items()} for k, v in answer.items()}
    equal = answer_utc == dict(expected)
    if not equal:
        raise RuntimeError("the rollup answer differs from the raw answer")
    total = await raw.fetchval("SELECT count(*) FROM detections")
    return {
        "rows": int(total),
        "p99_ms": round(p99(fast), 2),
        "naive_p99_ms": round(p99(naive), 1),
        "speedup": round(p99(naive) / p99(fast), 1),
        "p50_ms": round(statistics.median(fast), 2),
        "naive_p50_ms": round(statistics.median(naive), 1),
        "answers_equal": equal,
        "series": len(answer),
        "detections_in_window": sum(sum(v.values()) for v in answer.values()),
        "repeat": len(fast),
        "naive_repeat": len(naive),
        "days": args.days,
        "cpus": os.cpu_count(),
    }


def main() -> int:
    parser = database_bench_parser(__doc__)
    parser.add_argument("--mqtt-url", default=None, help="unused (no broker involved)")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200, help="requests timed (rollups)")
    parser.add_argument("--naive-repeat", type=int, default=20, help="raw queries timed")
    args = parser.parse_args()
    print_json(asyncio.run(run(args)), as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
