"""Two ingest replicas writing the same devices at once lose no count and store nothing twice.

A redelivery may reach another replica (a shared subscription), so both can write the same
``(device_id, seq)`` concurrently: the batch and its detections must be stored once, every
completeness counter must add up, and the rollups must match the stored detections. Real
PostgreSQL: row locks (not SQLite's whole-database lock) are what is under test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import (
    Detection,
    DetectionCount1h,
    DetectionCount1m,
    IngestState,
)
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import make_settings
from tests.controlplane.messages import detection_batch

OBJECTS = 3


def _flush(org: str, devices: list[str], seqs: list[int]) -> list[Accepted]:
    items = [
        Inbound(
            topic=build_topic(org, d, Channel.DETECTIONS),
            payload=detection_batch(d, s, objects=OBJECTS, ts=time.time() - 60 * s),
            qos=1,
            mid=s,
            received_at=time.time(),
        )
        for s in seqs
        for d in devices
    ]
    accepted = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    assert all(isinstance(a, Accepted) for a in accepted)
    return accepted  # type: ignore[return-value]


@pytest.mark.postgres
async def test_concurrent_replicas_store_once_and_count_everything(
    pg_sqlalchemy_url: str, tmp_path: Path
) -> None:
    engine = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=pg_sqlalchemy_url))
    try:
        await migrate.upgrade(engine)
        run = uuid.uuid4().hex[:8]
        org, devices = f"org-{run}", [f"dev-{run}-{i}" for i in range(4)]
        # replica A: even seqs, replica B: odd seqs; both also get 10..14 (redelivered to both)
        a_seqs = [s for s in range(20) if s % 2 == 0 or 10 <= s < 15]
        b_seqs = [s for s in range(20) if s % 2 == 1 or 10 <= s < 15]

        async def replica(seqs: list[int]) -> int:
            store = TelemetryStore(engine, auto_register=True)
            duplicates = 0
            for i in range(0, len(seqs), 3):  # several flushes, interleaving with the other's
                duplicates += (
                    await store.write(_flush(org, devices, seqs[i : i + 3]), [])
                ).duplicates
            return duplicates

        dups = await asyncio.gather(replica(a_seqs), replica(b_seqs))
        assert sum(dups) == 5 * len(devices)  # 10..14 once too many per device

        async with engine.connect() as conn:
            states = (
                await conn.execute(
                    select(
                        IngestState.received,
                        IngestState.duplicates,
                        IngestState.contiguous_seq,
                        IngestState.gaps,
                    ).where(IngestState.device_id.in_(devices))
                )
            ).all()
            assert [tuple(s) for s in states] == [(20, 5, 19, [])] * len(devices)
            stored = await conn.scalar(
                select(func.count()).select_from(Detection).where(Detection.org_id == org)
            )
            assert stored == 20 * len(devices) * OBJECTS
            for rollup in (DetectionCount1m, DetectionCount1h):
                counted = await conn.scalar(
                    select(func.sum(rollup.count)).where(rollup.org_id == org)
                )
                assert counted == stored
    finally:
        await engine.dispose()
