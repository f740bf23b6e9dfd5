"""What a wrong-password flood on the device endpoints costs the control plane.

One control plane (the real app under uvicorn, SQLite in a temporary folder, in a thread of this
process) and one HTTP client sending snapshot uploads with a wrong device password as fast as
it can (``--concurrency`` requests in flight) for ``--seconds``, while ``/health`` is timed
every 100 ms; the flood uses the user name of a real device, which uploaded once before (as a
working device does). Then that device uploads ``--good`` snapshots in a row, from the
flooding address.

Prints one JSON object: the answers of the flood by status, ``argon2_checks`` it caused and
per second, ``cpu_share`` (CPU seconds of this process, server and client, per wall second:
share of one core),
``health_ms`` (median and max latency during the flood), and for the correct device the argon2
checks its uploads needed (0: its success is remembered, the flood does not slow it down).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import logging
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from litestar.di import Provide
from PIL import Image

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import EventRecord
from aios.controlplane.fleet.device_logins import DeviceLoginGuard
from aios.controlplane.settings import Settings


def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "Content-Type": "image/jpeg"}


def _wait_started(server: uvicorn.Server) -> None:
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, format="JPEG")
    return out.getvalue()


async def run(seconds: float, concurrency: int, good: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {
                "AIOS_DATA_DIR": tmp,
                "AIOS_SECRET_KEY": "bench-" + uuid.uuid4().hex,
                "AIOS_MQTT_URL": "mqtt://127.0.0.1:1",
                "AIOS_INGEST_ENABLED": "false",
                "AIOS_JOBS_ENABLED": "false",
            }
        )
        engine = create_engine(settings)
        await migrate.upgrade(engine)
        app = create_app(settings, engine=engine)
        provider = app.dependencies["device_logins"]
        guard = provider.dependency() if isinstance(provider, Provide) else None
        assert isinstance(guard, DeviceLoginGuard)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        await asyncio.to_thread(_wait_started, server)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            email = f"{uuid.uuid4().hex[:8]}@example.com"
            account = {"email": email, "password": "correct horse battery"}
            await client.post(
                "/api/v1/auth/register",
                json={**account, "full_name": "Bench", "organization_name": "Bench"},
            )
            login = await client.post("/api/v1/auth/login", json=account)
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            token = (await client.post("/api/v1/fleet/enrollment-tokens", json={})).json()
            device = (
                await client.post(
                    "/api/v1/fleet/enroll",
                    json={"token": token["token"], "hardware": {"hostname": "bench"}},
                )
            ).json()
            del client.headers["Authorization"]
            now = datetime.now(UTC)
            async with engine.begin() as conn:
                await conn.execute(
                    EventRecord.__table__.insert(),  # type: ignore[attr-defined]
                    [
                        {
                            "device_id": device["device_id"],
                            "id": "ev-1",
                            "org_id": device["org_id"],
                            "stream_id": "cam",
                            "event_type": "bench",
                            "severity": "info",
                            "phase": "instant",
                            "started_at": now,
                            "last_ts": now,
                            "received_at": now,
                        }
                    ],
                )
            url = "/api/v1/events/ev-1/snapshot"
            body = _jpeg()
            right = _basic(device["device_id"], device["mqtt"]["password"])
            assert (await client.put(url, headers=right, content=body)).status_code == 201
            statuses: Counter[int] = Counter()
            health_ms: list[float] = []
            deadline = time.monotonic() + seconds

            async def flood() -> None:
                wrong = _basic(device["device_id"], "guess-" + uuid.uuid4().hex)
                while time.monotonic() < deadline:
                    statuses[(await client.put(url, headers=wrong, content=body)).status_code] += 1

            async def probe_health() -> None:
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    await client.get("/health")
                    health_ms.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.1)

            checks_before = guard.argon2_checks
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.gather(probe_health(), *(flood() for _ in range(concurrency)))
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            flood_checks = guard.argon2_checks - checks_before

            checks_before = guard.argon2_checks
            good_statuses: Counter[int] = Counter()
            for _ in range(good):
                answer = await client.put(url, headers=right, content=body)
                good_statuses[answer.status_code] += 1
            good_checks = guard.argon2_checks - checks_before
        server.should_exit = True
        thread.join(10)
        await engine.dispose()
    return {
        "flood_seconds": round(wall, 2),
        "flood_answers": dict(statuses),
        "argon2_checks": flood_checks,
        "argon2_checks_per_s": round(flood_checks / wall, 2),
        "cpu_share": round(cpu / wall, 3),
        "health_ms": {
            "median": round(statistics.median(health_ms), 1),
            "max": round(max(health_ms), 1),
            "samples": len(health_ms),
        },
        "good_device": {"answers": dict(good_statuses), "argon2_checks": good_checks},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--good", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(json.dumps(asyncio.run(run(args.seconds, args.concurrency, args.good)), indent=1))


if __name__ == "__main__":
    main()
