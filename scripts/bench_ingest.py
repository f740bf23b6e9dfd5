"""Benchmark the ingest: a fleet simulator through real Mosquitto into real PostgreSQL.

    uv run python -m scripts.bench_ingest --json [--database-url URL] [--mqtt-url URL]
        [--seconds N] [--rate R] [--devices D] [--runs K]

Set-up, the same as in production:

- a fresh database on the server of ``--database-url`` (asyncpg style; created, migrated and
  dropped after);
- the broker: by default a *private* Mosquitto (``/usr/sbin/mosquitto -c <tmp conf>`` on a free
  port) with the settings recommended in ``docker/mosquitto/mosquitto.conf`` (no 1,000-message
  queue limit, a large in-flight window), so that a system broker's defaults don't distort the
  result; ``--mqtt-url mqtt://host:port`` uses an existing broker instead;
- the ingest is the real ``aios ingest`` command in its own process (MQTT 5 shared
  subscription, manual acks after commit, default batch size and 200 ms flush interval);
- publishers are separate processes (paho, QoS 1) whose payloads are all encoded before the
  timed phase, so neither their CPU nor the GIL is shared with the ingest.

Prints one JSON object (medians over ``--runs`` runs, each on a fresh database and ingest):

- ``stored_per_s``: detections stored per second while D devices publish ``DetectionBatch``
  messages (5 frames x 20 objects) at ``--throughput-rate`` messages/s, from the first publish
  to the moment the bench sees the last batch committed;
- ``raw_copy_per_s``: the same rows loaded by asyncpg ``copy_records_to_table`` (same run, same
  database, a table with the same columns, key and indexes, same batch size); ``ratio_vs_copy``;
- ``orm_per_s``: per-row ORM inserts (``session.add`` + ``flush`` per row); ``ratio_vs_orm``;
- ``latency_p50_ms`` / ``latency_p99_ms``: publish-to-commit at ``--rate`` messages/s (1 frame
  x 5 objects each). Method: message ``i`` is scheduled at ``t0 + i / rate`` and that scheduled
  time is written into its payload (the frame's ``ts``) before the timed phase; the publisher
  sends it at that time (a publisher that falls behind makes the latency worse, never better).
  The commit time is when the bench first sees the batch's ``(device_id, seq)`` row in
  ``detection_batches`` (written in the same transaction as the detections), polling every
  ``--poll-ms`` (default 10 ms) from its own connection: the figure is an upper bound, by at most
  one polling interval plus one query. All processes share one clock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import Detection
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.records import DETECTION_COLUMNS, detection_rows
from aios.shared.codec import encode
from aios.shared.messages import Detection as WireDetection
from aios.shared.messages import DetectionBatch, FrameDetections
from aios.shared.topics import Channel, build_topic
from scripts.bench_database import database_bench_parser, fresh_database, sqlalchemy_url
from scripts.bench_mqtt import Publishers, private_broker, publish_all
from scripts.figures import print_json

LABELS = ("person", "car", "truck", "bicycle", "dog")
ORG = "benchorg"
LATENCY_SEQ = 1_000_000


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


async def stored(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(sum(objects), 0) FROM detection_batches"))


async def wait_stored(conn: asyncpg.Connection, detections: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (n := await stored(conn)) < detections:
        if time.monotonic() > deadline:
            raise RuntimeError(f"stored {n} of {detections} in {timeout} s")
        await asyncio.sleep(0.01)
    return time.time()


def start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    aios = Path(sys.executable).with_name("aios")
    cmd = [str(aios)] if aios.exists() else [sys.executable, "-m", "aios.controlplane.cli"]
    with log.open("wb") as out:
        return subprocess.Popen([*cmd, "ingest"], env={**os.environ, **env}, stderr=out)


async def run(args: argparse.Namespace, mqtt_url: str, workdir: Path) -> dict[str, float]:
    async with fresh_database(args.database_url) as db_url:
        return await run_on(args, db_url, mqtt_url, workdir)


async def run_on(
    args: argparse.Namespace, db_url: str, mqtt_url: str, workdir: Path
) -> dict[str, float]:
    env = {
        "AIOS_DATA_DIR": str(workdir),
        "AIOS_SECRET_KEY": "bench",
        "AIOS_DATABASE_URL": sqlalchemy_url(db_url),
        "AIOS_MQTT_URL": mqtt_url,
        "AIOS_MQTT_TOPIC_PREFIX": f"aiosbench/{uuid.uuid4().hex[:10]}",
        "AIOS_MQTT_CLIENT_ID": "bench-ingest-" + uuid.uuid4().hex[:8],
        "AIOS_AUTO_REGISTER_DEVICES": "true",
        "AIOS_LOG_LEVEL": "WARNING",
        "AIOS_INGEST_BATCH_SIZE": str(args.batch_size),
        "AIOS_INGEST_FLUSH_INTERVAL_MS": str(args.flush_ms),
        "AIOS_INGEST_QUEUE_SIZE": "20000",
    }
    settings = Settings.from_env(env)
    engine = create_engine(settings)
    ingest: subprocess.Popen[bytes] | None = None
    try:
        await migrate.upgrade(engine)
        ingest = start_ingest(env, workdir / f"ingest-{db_url.rsplit('/', 1)[1]}.log")
        conn = await asyncpg.connect(db_url)
        try:
            return await measure(args, settings, conn, db_url, mqtt_url)
        finally:
            await conn.close()
    finally:
        if ingest is not None:
            ingest.terminate()
            ingest.wait(30)
        await engine.dispose()


async def measure(
    args: argparse.Namespace, settings: Settings, conn: asyncpg.Connection, db_url: str,
    mqtt_url: str,
) -> dict[str, float]:  # fmt: skip
    parts = urlsplit(mqtt_url)
    mqtt = (parts.hostname or "127.0.0.1", parts.port or 1883)
    prefix = settings.mqtt_topic_prefix
    devices = [f"dev{d:04d}" for d in range(args.devices)]
    topics = {d: build_topic(ORG, d, Channel.DETECTIONS, prefix=prefix) for d in devices}
    # warm-up: the ingest subscribes (its session is new: wait until it takes messages), and
    # the devices get registered
    warm = [(topics[d], encode(batch(d, 0, time.time(), 1, 1))) for d in devices]
    deadline = time.monotonic() + 30
    while await stored(conn) < len(devices):
        if time.monotonic() > deadline:
            raise RuntimeError("the ingest stored nothing in 30 s (see its log in the data dir)")
        await asyncio.to_thread(publish_all, mqtt, warm)
        await asyncio.sleep(1)

    pubs = Publishers(mqtt, args.publishers)
    try:
        return await timed(args, conn, settings, pubs, devices, topics)
    finally:
        pubs.close()


async def timed(
    args: argparse.Namespace, conn: asyncpg.Connection, settings: Settings, pubs: Publishers,
    devices: list[str], topics: dict[str, str],
) -> dict[str, float]:  # fmt: skip
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
            msgs.append((topics[d], encode(b)))
    total = len(msgs) * frames * objects
    before = await stored(conn)
    shards = [msgs[i :: args.publishers] for i in range(args.publishers)]
    t0 = time.time() + 0.5  # the publishers are connected and idle until t0
    pubs.start(shards, args.throughput_rate / args.publishers, t0)
    t1 = await wait_stored(conn, before + total, 120)
    await asyncio.to_thread(pubs.join, len(shards))
    stored_per_s = total / (t1 - t0)

    # 2. raw COPY of the same rows
    rows = [r for b in wire for r in detection_rows(ORG, b)]
    await conn.execute("CREATE TABLE bench_copy (LIKE detections INCLUDING ALL)")
    c0 = time.perf_counter()
    for i in range(0, len(rows), args.batch_size * frames * objects):
        async with conn.transaction():
            await conn.copy_records_to_table(
                "bench_copy",
                records=rows[i : i + args.batch_size * frames * objects],
                columns=DETECTION_COLUMNS,
            )
    raw_copy_per_s = len(rows) / (time.perf_counter() - c0)
    await conn.execute("DROP TABLE bench_copy")

    # 3. per-row ORM baseline
    orm_rows = [
        r for b in wire[: max(1, 2000 // (frames * objects))] for r in detection_rows("ormorg", b)
    ]
    engine = create_engine(settings)
    try:
        async with AsyncSession(engine) as session:
            c0 = time.perf_counter()
            for r in orm_rows:
                values = dict(zip(DETECTION_COLUMNS, r, strict=True))
                values["device_id"] = "orm-" + str(values["device_id"])
                session.add(Detection(**values))
                await session.flush()
            await session.commit()
            orm_per_s = len(orm_rows) / (time.perf_counter() - c0)
    finally:
        await engine.dispose()

    # 4. latency at --rate messages/s: payloads stamped with their scheduled publish time
    n = int(args.rate * args.latency_seconds)
    t0 = time.time() + 2.0  # encoding and handing over 10k payloads takes < 1 s here
    sent: dict[tuple[str, int], float] = {}
    lat_msgs: list[tuple[str, bytes]] = []
    for i in range(n):
        d = devices[i % len(devices)]
        seq = LATENCY_SEQ + i // len(devices)
        ts = t0 + i / args.rate
        sent[(d, seq)] = ts
        lat_msgs.append((topics[d], encode(batch(d, seq, ts, 1, 5))))
    pubs.start([lat_msgs], args.rate, t0)
    commits: dict[tuple[str, int], float] = {}
    low = LATENCY_SEQ  # every seq below it is committed already
    deadline = time.monotonic() + 120 + args.latency_seconds
    while len(commits) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"latency: {len(commits)} of {n} committed")
        found = await conn.fetch(
            "SELECT device_id, seq FROM detection_batches WHERE seq >= $1", low
        )
        seen = time.time()
        for r in found:
            commits.setdefault((r["device_id"], r["seq"]), seen)
        pending = [seq for key in sent if key not in commits for seq in (key[1],)]
        low = min(pending, default=low)
        await asyncio.sleep(args.poll_ms / 1000)
    await asyncio.to_thread(pubs.join, 1)
    lat = sorted((commits[k] - t) * 1000 for k, t in sent.items())
    return {
        "stored_per_s": stored_per_s,
        "raw_copy_per_s": raw_copy_per_s,
        "orm_per_s": orm_per_s,
        "latency_p50_ms": statistics.median(lat),
        "latency_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "latency_max_ms": lat[-1],
        "latency_messages": float(len(lat)),
        "throughput_messages": float(len(msgs)),
        "detections": float(total),
    }


def summarize(
    runs: list[dict[str, float]], args: argparse.Namespace, broker: str
) -> dict[str, object]:
    def med(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))

    stored_per_s, copy, orm = med("stored_per_s"), med("raw_copy_per_s"), med("orm_per_s")
    return {
        "stored_per_s": round(stored_per_s),
        "raw_copy_per_s": round(copy),
        "ratio_vs_copy": round(
            float(
                statistics.median(
                    float(r["stored_per_s"]) / float(r["raw_copy_per_s"]) for r in runs
                )
            ),
            3,
        ),
        "orm_per_s": round(orm),
        "ratio_vs_orm": round(
            float(
                statistics.median(float(r["stored_per_s"]) / float(r["orm_per_s"]) for r in runs)
            ),
            1,
        ),
        "latency_p50_ms": round(med("latency_p50_ms"), 1),
        "latency_p99_ms": round(med("latency_p99_ms"), 1),
        "latency_max_ms": round(med("latency_max_ms"), 1),
        "latency_p99_ms_runs": [round(r["latency_p99_ms"], 1) for r in runs],
        "latency_rate_msgs_per_s": args.rate,
        "latency_messages": int(runs[0]["latency_messages"]),
        "throughput_messages": int(runs[0]["throughput_messages"]),
        "detections": int(runs[0]["detections"]),
        "devices": args.devices,
        "batch_size": args.batch_size,
        "flush_ms": args.flush_ms,
        "runs": len(runs),
        "broker": broker,
        "ingest": "aios ingest (own process)",
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        workdir = Path(tmp)
        broker_proc = None
        mqtt_url = args.mqtt_url
        if mqtt_url == "private":
            broker_proc, mqtt_url = private_broker(workdir)
        try:
            runs = [await run(args, mqtt_url, workdir) for _ in range(args.runs)]
        finally:
            if broker_proc is not None:
                broker_proc.terminate()
                broker_proc.wait(10)
        broker = "private mosquitto (recommended config)" if broker_proc else mqtt_url
        return summarize(runs, args, broker)


def main() -> int:
    parser = database_bench_parser(__doc__)
    parser.add_argument(
        "--mqtt-url",
        default="private",
        help="'private' (default: start a Mosquitto with the recommended config) or mqtt://h:p",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput workload size")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument(
        "--throughput-rate", type=float, default=1000.0, help="messages/s offered (100 det each)"
    )
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--flush-ms", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="report the median of this many")
    args = parser.parse_args()
    print_json(asyncio.run(main_async(args)), as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
