"""Ingest end to end: real Mosquitto (MQTT 5, shared subscription) -> real database.

Each test uses its own topic prefix, so concurrent runs never see each other's messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import DeadLetter, Detection, Device, IngestState
from aios.controlplane.telemetry.ingest import IngestService
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import Publisher, eventually
from tests.controlplane.messages import detection_batch, heartbeat

pytestmark = [pytest.mark.mqtt]


async def _scalar(engine: AsyncEngine, stmt: object) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(stmt)).scalar()  # type: ignore[call-overload]


async def test_batches_stored_once_gaps_tracked_bad_input_dead_lettered(
    engine: AsyncEngine,
    ingest: IngestService,
    mosquitto_publisher: Publisher,
    topic_prefix: str,
) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    det_topic = build_topic(org, device, Channel.DETECTIONS, prefix=topic_prefix)
    for seq in (0, 1, 1, 3):  # seq 1 twice (a redelivery), seq 2 missing
        mosquitto_publisher.publish(det_topic, detection_batch(device, seq, objects=3))
    mosquitto_publisher.publish(det_topic, b"{not json")
    mosquitto_publisher.publish(det_topic, detection_batch("someone-else", 9))
    mosquitto_publisher.publish(
        build_topic(org, device, Channel.HEARTBEAT, prefix=topic_prefix), heartbeat(device)
    )

    async def dead_letters() -> dict[str, int] | None:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(DeadLetter.reason, func.count())
                .where(DeadLetter.org_id == org)
                .group_by(DeadLetter.reason)
            )
            found = {r[0]: r[1] for r in rows}
        return found if sum(found.values()) >= 2 else None

    assert await eventually(dead_letters) == {"not_json": 1, "device_mismatch": 1}

    def received(n: int) -> Callable[[], Awaitable[IngestState | None]]:
        """The device's ingest state once ``n`` batches were received."""

        async def state() -> IngestState | None:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(select(IngestState).where(IngestState.device_id == device))
                ).first()
            return row if row is not None and row.received == n else None  # type: ignore[return-value]

        return state

    st = await eventually(received(3))
    assert (st.contiguous_seq, st.max_seq, st.duplicates, st.gaps) == (1, 3, 1, [[2, 2]])
    count = await _scalar(
        engine, select(func.count()).select_from(Detection).where(Detection.device_id == device)
    )
    assert count == 9  # 3 batches x 3 objects, the duplicate stored once

    async def seen() -> bool:
        async with engine.connect() as conn:
            row = (await conn.execute(select(Device).where(Device.id == device))).first()
        return row is not None and row.last_seen_at is not None

    await eventually(seen)  # the heartbeat updated the auto-registered device

    # ingest keeps working after the bad input: the missing batch fills the gap
    mosquitto_publisher.publish(det_topic, detection_batch(device, 2, objects=1))

    st = await eventually(received(4))
    assert (st.contiguous_seq, st.gaps) == (3, [])
    assert ingest.stats.write_errors == 0


async def test_wrong_tenant_is_dead_lettered(
    engine: AsyncEngine,
    ingest: IngestService,
    mosquitto_publisher: Publisher,
    topic_prefix: str,
) -> None:
    org, other, device = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("org", "other", "dev"))
    mosquitto_publisher.publish(
        build_topic(org, device, Channel.DETECTIONS, prefix=topic_prefix),
        detection_batch(device, 0),
    )
    # the same device id under another organization's topic
    mosquitto_publisher.publish(
        build_topic(other, device, Channel.DETECTIONS, prefix=topic_prefix),
        detection_batch(device, 1),
    )

    async def wrong_tenant() -> object:
        return await _scalar(
            engine,
            select(func.count()).where(
                DeadLetter.org_id == other, DeadLetter.reason == "wrong_tenant"
            ),
        )

    assert await eventually(wrong_tenant) == 1
    count = await _scalar(
        engine, select(func.count()).select_from(Detection).where(Detection.device_id == device)
    )
    assert count == 2  # only the batch under its own organization
