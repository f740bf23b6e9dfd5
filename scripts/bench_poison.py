"""What one poison message costs the ingest: a clean flush against the same flush with one row
the database refuses (bisected, the bad message dead-lettered, the rest stored).

    uv run python scripts/bench_poison.py [--database-url URL] [--flush N] [--runs K]

``--database-url`` is an asyncpg-style PostgreSQL server URL (a fresh database is created,
migrated and dropped) or ``sqlite`` (a temporary file). The poison is a detection label with a
NUL character on PostgreSQL (SQLSTATE 22021) and a class id beyond 64 bits on SQLite, built
directly (the contract would reject both first). Prints one JSON object: medians over the runs
of the clean flush's and the poisoned flush's write time (ms), the number of transactions the
bisection used, and how many messages were stored and dead-lettered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.records import Accepted
from aios.controlplane.telemetry.store import TelemetryStore
from aios.controlplane.telemetry.writer import FlushWriter
from aios.shared.codec import encode
from aios.shared.messages import Detection, DetectionBatch, FrameDetections
from aios.shared.topics import Channel, build_topic
from scripts.bench_database import DEFAULT_SERVER, fresh_database, sqlalchemy_url


class CountingStore(TelemetryStore):
    transactions = 0

    async def write(self, accepted, dead):  # type: ignore[no-untyped-def]
        self.transactions += 1
        return await super().write(accepted, dead)


def _batch(
    org: str, device: str, seq: int, *, label: str = "person", class_id: int = 0
) -> Accepted:
    dets = [
        Detection(class_id=class_id, label=label, confidence=0.5, xyxy=(0.1, 0.1, 0.2, 0.2))
        for _ in range(5)
    ]
    frame = FrameDetections(ts=time.time(), frame_index=seq, width=640, height=480, detections=dets)
    msg = DetectionBatch(
        device_id=device, stream_id="cam", pipeline_version=1, seq=seq, frames=[frame]
    )
    topic = build_topic(org, device, Channel.DETECTIONS)
    item = Inbound(topic=topic, payload=encode(msg), qos=1, mid=seq, received_at=time.time())
    at = datetime.fromtimestamp(item.received_at, UTC)
    return Accepted(org_id=org, device_id=device, message=msg, received_at=at, source=item)


async def _run(url: str, flush: int, runs: int) -> dict[str, object]:
    clean_ms: list[float] = []
    poisoned_ms: list[float] = []
    transactions: list[int] = []
    stored = refused = 0
    engine = create_engine(
        Settings.from_env({"AIOS_DATABASE_URL": url, "AIOS_SECRET_KEY": "x" * 32})
    )
    await migrate.upgrade(engine)
    postgres = engine.dialect.name == "postgresql"
    try:
        for _ in range(runs):
            org, device = f"o-{uuid.uuid4().hex[:6]}", f"d-{uuid.uuid4().hex[:6]}"
            store = CountingStore(engine, auto_register=True)
            writer = FlushWriter(store, stopping=asyncio.Event())
            good = [_batch(org, device, s) for s in range(flush)]
            started = time.perf_counter()
            await writer.write(good, [])
            clean_ms.append((time.perf_counter() - started) * 1000)
            poison = (
                _batch(org, device, 10**6, label="bad\x00")
                if postgres
                else _batch(org, device, 10**6, class_id=2**70)
            )
            mixed = [_batch(org, device, flush + s) for s in range(flush - 1)]
            mixed.insert(len(mixed) // 2, poison)
            store.transactions = 0
            started = time.perf_counter()
            written = await writer.write(mixed, [])
            poisoned_ms.append((time.perf_counter() - started) * 1000)
            transactions.append(store.transactions)
            stored, refused = written.result.batches_stored, written.refused
    finally:
        await engine.dispose()
    return {
        "backend": engine.dialect.name,
        "flush_messages": flush,
        "clean_flush_ms_p50": round(statistics.median(clean_ms), 1),
        "poisoned_flush_ms_p50": round(statistics.median(poisoned_ms), 1),
        "bisect_transactions": int(statistics.median(transactions)),
        "stored": stored,
        "dead_lettered": refused,
        "runs": runs,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_SERVER)
    parser.add_argument("--flush", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.database_url == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            print(json.dumps(await _run(url, args.flush, args.runs)))
        return
    async with fresh_database(args.database_url, "aios_bench_poison") as url:
        print(json.dumps(await _run(sqlalchemy_url(url), args.flush, args.runs)))


if __name__ == "__main__":
    asyncio.run(main())
