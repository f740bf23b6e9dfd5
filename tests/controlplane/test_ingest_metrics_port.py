"""``aios ingest`` (no HTTP API of its own) serves its metrics on ``AIOS_METRICS_PORT``:
the real command against real Mosquitto, scraped over HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from tests.controlplane.conftest import make_settings
from tests.prometheus_text import Scrape

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.mqtt]


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _migrate(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=database_url))
    await migrate.upgrade(engine)
    await engine.dispose()


def test_aios_ingest_serves_metrics_on_its_port(
    tmp_path: Path, mqtt_url: str, topic_prefix: str
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'aios.db'}"
    asyncio.run(_migrate(database_url, tmp_path))
    port = unused_port()
    env = {
        **os.environ,
        "AIOS_DATA_DIR": str(tmp_path / "data"),
        "AIOS_SECRET_KEY": "test-" + uuid.uuid4().hex,
        "AIOS_DATABASE_URL": database_url,
        "AIOS_MQTT_URL": mqtt_url,
        "AIOS_MQTT_TOPIC_PREFIX": topic_prefix,
        "AIOS_MQTT_CLIENT_ID": "metrics-ingest-" + uuid.uuid4().hex[:8],
        "AIOS_METRICS_PORT": str(port),
    }
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([BIN / "aios", "ingest"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        scrape: Scrape | None = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                scrape = Scrape(r.text)
                if scrape.value("aios_ingest_mqtt_connected") == 1:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert scrape is not None, log.read_text()
        assert scrape.value("aios_ingest_mqtt_connected") == 1, log.read_text()
        assert scrape.value("aios_ingest_received_messages_total") == 0
        assert scrape.value("aios_ingest_queue_capacity") == 10000
        assert "aios_live_clients" not in scrape.sample_names()  # no WebSocket here
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode == 0, log.read_text()
