"""Fleet benchmark: N simulated devices heartbeating through Mosquitto into one control plane.

The control plane (ingest + presence + jobs, exactly what ``aios serve`` runs, without HTTP) runs
as a child process of this script (``--serve``), so its CPU is measured alone with psutil: the
simulator's publishing threads are not counted. A few paho clients publish heartbeats on behalf
of all devices (the broker does not care which connection publishes a topic; 10,000 connections
would measure the machine, not the control plane), spread evenly over each interval.

Phases: warm-up (every device is seen once and published online), a measured steady state
(``--seconds``), then every tenth device stops: half of them with an ``offline`` status (what
the broker publishes as the last will), half silently. After the presence timeout plus the
debounce, every device's recorded presence (``device_presence``) must be: stopped ones
``offline``, the others ``online``.

Prints one JSON object: ``devices``, ``cpu_share`` (CPU seconds of the control-plane process per
wall second in the steady state: share of one core), ``presence_correct``, and details.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import msgspec
import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import insert, select

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import Device, DevicePresence, Organization
from aios.controlplane.runtime import Runtime
from aios.controlplane.settings import Settings
from aios.shared.messages import DeviceStatus, Heartbeat
from aios.shared.topics import Channel, build_topic

INTERVAL_S = 10
MISSED = 3
DEBOUNCE_MS = 5000
PUBLISHERS = 4


def serve() -> None:
    """The child: one control-plane runtime until SIGTERM."""

    async def main() -> None:
        settings = Settings.from_env(os.environ)
        runtime = Runtime(settings, create_engine(settings), ingest=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await runtime.start()
        print("ready", flush=True)
        await stop.wait()
        await runtime.stop()

    asyncio.run(main())


class Fleet:
    """Publishes heartbeats for ``devices`` from a few paho clients, each in its own thread."""

    def __init__(self, mqtt_url: str, prefix: str, org: str, devices: list[str]) -> None:
        parts = urlsplit(mqtt_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
        self.prefix, self.org, self.devices = prefix, org, devices
        self.stopped: set[str] = set()
        self.sent = 0
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: list[paho.Client] = []

    def start(self) -> None:
        for i in range(PUBLISHERS):
            client = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"bench-fleet-{uuid.uuid4().hex[:8]}",
                protocol=paho.MQTTv5,
            )
            client.max_queued_messages_set(0)
            client.connect(self.host, self.port)
            client.loop_start()
            self._clients.append(client)
            share = self.devices[i::PUBLISHERS]
            thread = threading.Thread(target=self._run, args=(client, share), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, client: paho.Client, devices: list[str]) -> None:
        topics = {
            d: build_topic(self.org, d, Channel.HEARTBEAT, prefix=self.prefix) for d in devices
        }
        start = time.monotonic()
        gap = INTERVAL_S / max(1, len(devices))
        n = 0
        while not self._halt.is_set():
            device = devices[n % len(devices)]
            due = start + n * gap
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            n += 1
            if device in self.stopped:
                continue
            hb = Heartbeat(
                device_id=device, ts=time.time(), uptime_s=float(n), agent_version="bench"
            )
            client.publish(topics[device], msgspec.json.encode(hb), qos=0)
            self.sent += 1

    def stop_devices(self, devices: list[str], with_last_will: list[str]) -> None:
        self.stopped.update(devices)
        client = self._clients[0]
        for d in with_last_will:
            topic = build_topic(self.org, d, Channel.STATUS, prefix=self.prefix)
            msg = DeviceStatus(device_id=d, state="offline", ts=time.time(), reason="last_will")
            client.publish(topic, msgspec.json.encode(msg), qos=1, retain=False)

    def close(self) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for client in self._clients:
            client.disconnect()
            client.loop_stop()


async def prepare(database_url: str, org: str, devices: list[str]) -> None:
    settings = Settings.from_env(
        {"AIOS_DATABASE_URL": database_url, "AIOS_SECRET_KEY": "bench", "AIOS_DATA_DIR": "/tmp"}
    )
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Organization).values(id=org, name=org, created_at=now, updated_at=now)
        )
        await conn.execute(
            insert(Device),
            [{"id": d, "org_id": org, "name": d, "status": "unknown", "tags": [],
              "created_at": now, "updated_at": now} for d in devices],
        )  # fmt: skip
    await engine.dispose()


async def presence_states(database_url: str, org: str) -> dict[str, str]:
    settings = Settings.from_env(
        {"AIOS_DATABASE_URL": database_url, "AIOS_SECRET_KEY": "bench", "AIOS_DATA_DIR": "/tmp"}
    )
    engine = create_engine(settings)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(DevicePresence.device_id, DevicePresence.state).where(
                DevicePresence.org_id == org
            )
        )
        states = {r.device_id: r.state for r in rows}
    await engine.dispose()
    return states


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def run(args: argparse.Namespace) -> dict[str, object]:
    database_url = args.database_url
    own_db = None
    if not database_url:
        own_db = f"aios_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(admin(args.pg_admin_url, f'CREATE DATABASE "{own_db}"'))
        base = args.pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        database_url = f"{base}/{own_db}"
    tag = uuid.uuid4().hex[:8]
    org, prefix = f"bench-{tag}", f"aiosbench/{tag}"
    devices = [f"dev-{tag}-{i:05d}" for i in range(args.devices)]
    child = None
    fleet = None
    try:
        asyncio.run(prepare(database_url, org, devices))
        env = dict(os.environ)
        env.update(
            AIOS_DATABASE_URL=database_url,
            AIOS_MQTT_URL=args.mqtt_url,
            AIOS_MQTT_TOPIC_PREFIX=prefix,
            AIOS_MQTT_CLIENT_ID=f"bench-ingest-{tag}",
            AIOS_SECRET_KEY="bench-" + tag,
            AIOS_DATA_DIR=f"/tmp/aios-bench-{tag}",
            AIOS_HEARTBEAT_INTERVAL_S=str(INTERVAL_S),
            AIOS_PRESENCE_MISSED_HEARTBEATS=str(MISSED),
            AIOS_PRESENCE_DEBOUNCE_MS=str(DEBOUNCE_MS),
            AIOS_LOG_LEVEL="WARNING",
        )
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve"], env=env, stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the control plane did not start")
        time.sleep(2)  # MQTT connected and subscribed
        proc = psutil.Process(child.pid)
        fleet = Fleet(args.mqtt_url, prefix, org, devices)
        fleet.start()
        time.sleep(args.warmup)
        cpu0, wall0, sent0 = cpu_seconds(proc), time.monotonic(), fleet.sent
        time.sleep(args.seconds)
        cpu1, wall1, sent1 = cpu_seconds(proc), time.monotonic(), fleet.sent
        stopped = devices[::10]
        fleet.stop_devices(stopped, with_last_will=stopped[::2])
        time.sleep(INTERVAL_S * MISSED + DEBOUNCE_MS / 1000 + 5)
        states = asyncio.run(presence_states(database_url, org))
    finally:
        if fleet is not None:
            fleet.close()
        if child is not None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
        if own_db is not None:
            asyncio.run(
                admin(args.pg_admin_url, f'DROP DATABASE IF EXISTS "{own_db}" WITH (FORCE)')
            )
    stopped_set = set(stopped)
    wrong = [d for d in devices if states.get(d) != ("offline" if d in stopped_set else "online")]
    return {
        "devices": args.devices,
        "cpu_share": round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "presence_correct": not wrong,
        "heartbeats_per_s": round((sent1 - sent0) / (wall1 - wall0), 1),
        "measured_s": round(wall1 - wall0, 1),
        "stopped": len(stopped),
        "stopped_with_last_will": len(stopped[::2]),
        "wrong_states": len(wrong),
        "heartbeat_interval_s": INTERVAL_S,
        "offline_after_s": INTERVAL_S * MISSED,
        "debounce_ms": DEBOUNCE_MS,
        "measured": "control-plane child process (ingest + presence + jobs), psutil user+system",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured steady state")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--database-url", default="", help="default: a fresh PostgreSQL database")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
