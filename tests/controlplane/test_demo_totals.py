"""`make demo`'s closing line counts everything the control plane stored for the demo's device,
not the newest page of ``/dashboard/detections`` (at most 200 rows)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from litestar.testing import TestClient
from scripts.demo import stored_counts

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import make_settings
from tests.controlplane.messages import detection_batch

BATCHES = 120
OBJECTS = 3  # person, car, person per batch: 360 detections, more than one page of 200


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _store(settings: Settings, org_id: str, device_id: str, seqs: range) -> None:
    engine = create_engine(settings)
    try:
        now = time.time()
        accepted = [
            classify(
                Inbound(
                    topic=build_topic(org_id, device_id, Channel.DETECTIONS),
                    payload=detection_batch(device_id, s, objects=OBJECTS, ts=now - 60 + s / 10),
                    qos=1,
                    mid=s,
                    received_at=now,
                ),
                prefix="aios",
                max_bytes=1 << 20,
            )
            for s in seqs
        ]
        rows = [a for a in accepted if isinstance(a, Accepted)]
        assert len(rows) == len(seqs)
        await TelemetryStore(engine, auto_register=True).write(rows, [])
    finally:
        await engine.dispose()


def test_demo_totals_count_every_stored_detection(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=database_url,
        AIOS_MQTT_URL="mqtt://127.0.0.1:1",
        AIOS_INGEST_ENABLED="0",
        AIOS_JOBS_ENABLED="0",
    )
    asyncio.run(_migrate(settings))
    with TestClient(create_app(settings)) as http:
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        reg = http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": "correct horse battery",
                  "full_name": "Demo", "organization_name": "Demo"},
        )  # fmt: skip
        assert reg.status_code == 202, reg.text
        login = http.post(
            "/api/v1/auth/login", json={"email": email, "password": "correct horse battery"}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        org_id = str(http.get("/api/v1/auth/me").json()["organization"]["id"])
        device_id = "demo-" + uuid.uuid4().hex[:8]
        # batch 7 never arrives: the totals say one is missing
        asyncio.run(_store(settings, org_id, device_id, range(7)))
        asyncio.run(_store(settings, org_id, device_id, range(8, BATCHES)))

        page = http.get("/api/v1/dashboard/detections", params={"limit": 200}).json()
        assert len(page["items"]) == 200  # what the demo used to count from

        stored = stored_counts(http, device_id)
    assert stored.detections == (BATCHES - 1) * OBJECTS
    assert stored.by_label == {"person": (BATCHES - 1) * 2, "car": BATCHES - 1}
    assert (stored.batches, stored.missing_batches) == (BATCHES - 1, 1)
    assert stored.describe().startswith(f"Stored {(BATCHES - 1) * OBJECTS} detections (")
