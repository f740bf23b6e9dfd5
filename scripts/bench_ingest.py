"""Benchmark the ingest: a fleet simulator through real Mosquitto into real PostgreSQL.

    uv run python scripts/bench_ingest.py --json [--database-url URL] [--mqtt-url URL]
        [--seconds N] [--rate R] [--devices D]

A fresh database is created (and dropped after) on the server of ``--database-url`` (asyncpg
style, default the local server); the real :class:`IngestService` subscribes under a unique
topic prefix. Prints one JSON object:

- ``stored_per_s``: detections stored per second while D devices publish pre-encoded
  ``DetectionBatch`` messages (5 frames x 20 objects) as fast as Mosquitto takes them, from the
  first publish to the commit of the last batch;
- ``raw_copy_per_s``: the same rows loaded by asyncpg ``copy_records_to_table`` (same run, same
  database, a table with the same columns, key and indexes); ``ratio_vs_copy``;
- ``orm_per_s``: per-row ORM inserts (``session.add`` + ``flush`` per row); ``ratio_vs_orm``;
- ``latency_p50_ms`` / ``latency_p99_ms``: publish-to-commit at ``--rate`` messages/s (1 frame
  x 5 objects each; the publish time is the frame's ``ts``, the commit time is taken by an
  ingest observer after the flush committed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import Detection
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.ingest import IngestService
from aios.controlplane.telemetry.records import DETECTION_COLUMNS, Accepted, detection_rows
from aios.shared.codec import encode
from aios.shared.messages import Detection as WireDetection
from aios.shared.messages import DetectionBatch, FrameDetections
from aios.shared.topics import Channel, build_topic

LABELS = ("person", "car", "truck", "bicycle", "dog")


def batch(device: str, seq: int, ts: float, frames: int, objects: int) -> DetectionBatch:
    return DetectionBatch(
        device_id=device,
        stream_id="cam1",
        pipeline_version=1,
        seq=seq,
        frames=[
            FrameDetections(
                ts=ts + f * 0.04,
                frame_index=seq * frames + f,
                width=1280,
                height=720,
                detections=[
                    WireDetection(
                        class_id=i % 5,
                        label=LABELS[i % 5],
                        confidence=0.5 + (i % 50) / 100,
                        xyxy=(0.1, 0.1, 0.2 + i / 1000, 0.3),
                        track_id=i,
                    )
                    for i in range(objects)
                ],
            )
            for f in range(frames)
        ],
    )


def publisher(mqtt: tuple[str, int]) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id="bench-pub-" + uuid.uuid4().hex[:8],
        protocol=paho.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(*mqtt)
    client.loop_start()
    return client


def publish_all(mqtt: tuple[str, int], messages: list[tuple[str, bytes]], rate: float) -> None:
    """Publish with QoS 1; paced at ``rate`` messages/s (0: as fast as possible)."""
    client = publisher(mqtt)
    start = time.perf_counter()
    infos = []
    for i, (topic, payload) in enumerate(messages):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()


async def wait_for(ingest: IngestService, detections: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while ingest.stats.detections_stored < detections:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"stored {ingest.stats.detections_stored} of {detections} in {timeout} s"
            )
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def run(args: argparse.Namespace) -> dict[str, object]:
    admin = args.database_url
    name = f"aios_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    db_url = admin.rsplit("/", 1)[0] + f"/{name}"
    parts = urlsplit(args.mqtt_url)
    mqtt = (parts.hostname or "127.0.0.1", parts.port or 1883)
    prefix = f"aiosbench/{uuid.uuid4().hex[:10]}"
    settings = Settings.from_env(
        {
            "AIOS_DATA_DIR": tempfile.mkdtemp(),
            "AIOS_SECRET_KEY": "bench",
            "AIOS_DATABASE_URL": db_url.replace("postgresql://", "postgresql+asyncpg://", 1),
            "AIOS_MQTT_URL": args.mqtt_url,
            "AIOS_MQTT_TOPIC_PREFIX": prefix,
            "AIOS_MQTT_CLIENT_ID": "bench-ingest-" + uuid.uuid4().hex[:8],
            "AIOS_INGEST_BATCH_SIZE": str(args.batch_size),
            "AIOS_INGEST_FLUSH_INTERVAL_MS": str(args.flush_ms),
            "AIOS_INGEST_QUEUE_SIZE": "20000",
        }
    )
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        return await measure(args, settings, engine, db_url, mqtt, prefix)
    finally:
        await engine.dispose()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def measure(
    args: argparse.Namespace,
    settings: Settings,
    engine: AsyncEngine,
    db_url: str,
    mqtt: tuple[str, int],
    prefix: str,
) -> dict[str, object]:
    commits: dict[tuple[str, int], float] = {}

    def observe(accepted: object) -> None:
        now = time.time()
        for a in accepted:  # type: ignore[attr-defined]
            if isinstance(a, Accepted) and isinstance(a.message, DetectionBatch):
                commits.setdefault((a.device_id, a.message.seq), now)

    ingest = IngestService(settings, engine)
    ingest.observers.append(observe)
    await ingest.start()
    if not await ingest.subscriber.wait_connected(10):
        raise RuntimeError("ingest did not connect")
    org = "benchorg"
    devices = [f"dev{d:04d}" for d in range(args.devices)]
    # warm-up: registers the devices
    warm = [(build_topic(org, d, Channel.DETECTIONS, prefix=prefix),
             encode(batch(d, 0, time.time(), 1, 1))) for d in devices]  # fmt: skip
    await asyncio.to_thread(publish_all, mqtt, warm, 0)
    await wait_for(ingest, len(devices), 30)

    # 1. throughput
    frames, objects = 5, 20
    per_device = max(1, int(args.seconds * args.throughput_rate / len(devices)))
    msgs: list[tuple[str, bytes]] = []
    wire: list[DetectionBatch] = []
    now = time.time()
    for s in range(1, per_device + 1):
        for d in devices:
            b = batch(d, s, now + s * 0.2, frames, objects)
            wire.append(b)
            msgs.append((build_topic(org, d, Channel.DETECTIONS, prefix=prefix), encode(b)))
    total = len(msgs) * frames * objects
    before = ingest.stats.detections_stored
    shards = [msgs[i :: args.publishers] for i in range(args.publishers)]
    t0 = time.perf_counter()
    pace = args.throughput_rate / args.publishers  # Mosquitto drops past max_queued_messages
    threads = [threading.Thread(target=publish_all, args=(mqtt, sh, pace)) for sh in shards]
    for t in threads:
        t.start()
    t1 = await wait_for(ingest, before + total, 120)
    for t in threads:
        t.join()
    stored_per_s = total / (t1 - t0)

    # 2. raw COPY of the same rows
    rows = [r for b in wire for r in detection_rows(org, b)]
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("CREATE TABLE bench_copy (LIKE detections INCLUDING ALL)")
        t0 = time.perf_counter()
        for i in range(0, len(rows), args.batch_size * frames * objects):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "bench_copy",
                    records=rows[i : i + args.batch_size * frames * objects],
                    columns=DETECTION_COLUMNS,
                )
        raw_copy_per_s = len(rows) / (time.perf_counter() - t0)
    finally:
        await conn.close()

    # 3. per-row ORM baseline
    orm_rows = [
        r for b in wire[: max(1, 2000 // (frames * objects))] for r in detection_rows("ormorg", b)
    ]
    async with AsyncSession(engine) as session:
        t0 = time.perf_counter()
        for r in orm_rows:
            values = dict(zip(DETECTION_COLUMNS, r, strict=True))
            values["device_id"] = "orm-" + str(values["device_id"])
            session.add(Detection(**values))
            await session.flush()
        await session.commit()
        orm_per_s = len(orm_rows) / (time.perf_counter() - t0)

    # 4. latency at --rate messages/s (ts in the payload = publish time, re-stamped when sent)
    commits.clear()
    n = int(args.rate * args.latency_seconds)
    client = publisher(mqtt)
    sent: dict[tuple[str, int], float] = {}
    before = ingest.stats.detections_stored

    def paced() -> None:
        start = time.perf_counter()
        infos = []
        for i in range(n):
            delay = start + i / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            d = devices[i % len(devices)]
            seq = 1_000_000 + i // len(devices)
            ts = time.time()
            sent[(d, seq)] = ts
            payload = encode(batch(d, seq, ts, 1, 5))
            infos.append(
                client.publish(build_topic(org, d, Channel.DETECTIONS, prefix=prefix), payload, 1)
            )
        for info in infos:
            info.wait_for_publish(timeout=60)

    await asyncio.to_thread(paced)
    await wait_for(ingest, before + n * 5, 120)
    client.disconnect()
    client.loop_stop()
    await ingest.stop()
    lat = sorted((commits[k] - t) * 1000 for k, t in sent.items() if k in commits)
    return {
        "stored_per_s": round(stored_per_s),
        "raw_copy_per_s": round(raw_copy_per_s),
        "ratio_vs_copy": round(stored_per_s / raw_copy_per_s, 3),
        "orm_per_s": round(orm_per_s),
        "ratio_vs_orm": round(stored_per_s / orm_per_s, 1),
        "latency_p50_ms": round(statistics.median(lat), 1),
        "latency_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
        "latency_rate_msgs_per_s": args.rate,
        "latency_messages": len(lat),
        "throughput_messages": len(msgs),
        "detections": total,
        "devices": len(devices),
        "batch_size": args.batch_size,
        "cpus": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("AIOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="asyncpg URL of a maintenance database on the server (a fresh one is created)",
    )
    parser.add_argument(
        "--mqtt-url", default=os.environ.get("AIOS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput workload size")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s for latency")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument(
        "--throughput-rate", type=float, default=500.0, help="messages/s offered (100 det each)"
    )
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--flush-ms", type=int, default=200)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
