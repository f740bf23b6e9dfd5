"""The storage error policy, proven on the storage layer itself (both backends).

The contract now rejects these values before they reach a database; here they are built
directly as structs (no validation), so the test shows that a row the database refuses costs one
``storage_refused`` dead letter with the database's reason, while the good messages of the same
flush (same device, other organizations) are stored, and nothing stalls. A database that cannot
be reached is "unavailable" (retried), never a dead letter.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.models import (
    DeadLetter,
    DetectionBatchRecord,
    EventRecord,
    IngestState,
)
from aios.controlplane.db.storage.failures import translate
from aios.controlplane.errors import BatchRefusedError, DatabaseUnavailableError
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, IngestMessage
from aios.controlplane.telemetry.store import TelemetryStore
from aios.controlplane.telemetry.writer import FlushWriter, WriteStoppedError
from aios.shared.codec import encode
from aios.shared.messages import Detection, DetectionBatch, Event, FrameDetections
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import make_settings

NOW = time.time()


def _accepted(org: str, msg: IngestMessage, channel: Channel) -> Accepted:
    item = Inbound(
        topic=build_topic(org, msg.device_id, channel),
        payload=encode(msg),
        qos=1,
        mid=1,
        received_at=time.time(),
    )
    return Accepted(
        org_id=org,
        device_id=msg.device_id,
        message=msg,
        received_at=datetime.fromtimestamp(item.received_at, UTC),
        source=item,
    )


def _batch(org: str, device: str, seq: int, *, label: str = "person", class_id: int = 0,
           ts: float = NOW) -> Accepted:  # fmt: skip
    det = Detection(class_id=class_id, label=label, confidence=0.5, xyxy=(0.1, 0.1, 0.2, 0.2))
    frame = FrameDetections(ts=ts, frame_index=seq, width=640, height=480, detections=[det])
    msg = DetectionBatch(
        device_id=device, stream_id="cam", pipeline_version=1, seq=seq, frames=[frame]
    )
    return _accepted(org, msg, Channel.DETECTIONS)


def _event(org: str, device: str, eid: str, *, rule_id: str = "r1", ts: float = NOW) -> Accepted:
    msg = Event(
        id=eid, event_type="intrusion", severity="warning", device_id=device, stream_id="cam",
        ts=ts, rule_id=rule_id,
    )  # fmt: skip
    return _accepted(org, msg, Channel.EVENTS)


def _poison(backend: str, org: str, device: str) -> list[Accepted]:
    """Messages each backend refuses (the database or its driver, and Python's datetime)."""
    common = [_batch(org, device, 2, ts=1e300), _event(org, device, "bad-ts", ts=1e300)]
    if backend == "postgresql":
        return [
            *common,
            _batch(org, device, 4, label="per\x00son"),  # NUL: 22021
            _batch(org, device, 5, class_id=2**40),  # int4 out of range
            _event(org, device, "long-rule", rule_id="r" * 500),  # varchar(128): 22001
        ]
    return [*common, _batch(org, device, 4, class_id=2**70)]  # beyond SQLite's INTEGER


async def test_poison_costs_one_dead_letter_each_and_good_traffic_is_stored(
    engine: AsyncEngine,
) -> None:
    run = uuid.uuid4().hex[:8]
    org_a, org_b = f"a-{run}", f"b-{run}"
    dev_a, dev_b = f"da-{run}", f"db-{run}"
    store = TelemetryStore(engine, auto_register=True)
    writer = FlushWriter(store, stopping=asyncio.Event())
    poison = _poison(engine.dialect.name, org_a, dev_a)
    good = [
        _batch(org_a, dev_a, 1),
        _batch(org_a, dev_a, 3),
        _batch(org_b, dev_b, 1),
        _event(org_b, dev_b, "ok-b"),
        _event(org_a, dev_a, "ok-a"),
    ]
    flush = [good[0], poison[0], good[1], good[2], *poison[1:], good[3], good[4]]
    async with asyncio.timeout(60):  # never a stall
        written = await writer.write(flush, [])
    assert written.refused == len(poison)
    assert written.result.dead_letters["storage_refused"] == len(poison)
    assert {id(a) for a in written.stored} == {id(a) for a in good}
    assert written.result.batches_stored == 3

    async with engine.connect() as conn:
        batches = {
            (r.device_id, r.seq)
            for r in await conn.execute(
                select(DetectionBatchRecord.device_id, DetectionBatchRecord.seq).where(
                    DetectionBatchRecord.device_id.in_([dev_a, dev_b])
                )
            )
        }
        found = await conn.execute(
            select(EventRecord.id).where(EventRecord.org_id.in_([org_a, org_b]))
        )
        events = set(found.scalars())
        letters = (
            await conn.execute(
                select(DeadLetter.reason, DeadLetter.detail, DeadLetter.device_id)
                .add_columns(DeadLetter.org_id)
                .where(DeadLetter.org_id == org_a)
            )
        ).all()
    assert batches == {(dev_a, 1), (dev_a, 3), (dev_b, 1)}
    assert events == {"ok-a", "ok-b"}
    assert len(letters) == len(poison)
    for reason, detail, device, org in letters:
        assert (reason, device, org) == ("storage_refused", dev_a, org_a)
        assert "INSERT" not in detail  # the database's reason, not the SQL
        assert "SELECT" not in detail
        assert str(2**40) not in detail  # nor a parameter value
        assert str(2**70) not in detail

    # the same flush again (a redelivery): stored once, the poison dead-lettered again
    again = await writer.write(flush, [])
    assert again.result.batches_stored == 0
    assert again.result.duplicates == 3


async def test_an_unreachable_database_is_unavailable_not_bad(
    tmp_path: Path, free_port: int
) -> None:
    engine = create_engine(
        make_settings(
            tmp_path,
            AIOS_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port}/nothing",
        )
    )
    try:
        store = TelemetryStore(engine, auto_register=True)
        with pytest.raises(DatabaseUnavailableError):
            await store.write([_batch("o", "d", 1)], [])
        stopping = asyncio.Event()
        errors: list[DatabaseUnavailableError] = []

        def seen(exc: DatabaseUnavailableError) -> None:
            errors.append(exc)
            if len(errors) == 3:
                stopping.set()

        writer = FlushWriter(store, stopping=stopping, on_unavailable=seen, max_backoff_s=0.05)
        with pytest.raises(WriteStoppedError):
            await writer.write([_batch("o", "d", 1)], [])
        assert len(errors) == 3  # retried, never dead-lettered
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OverflowError("timestamp out of range for platform time_t"), BatchRefusedError),
        (ValueError("year 10000 is out of range"), BatchRefusedError),
        (OSError("connection refused"), DatabaseUnavailableError),
        (ConnectionResetError(), DatabaseUnavailableError),
        (TimeoutError(), DatabaseUnavailableError),
        (RuntimeError("never seen before"), DatabaseUnavailableError),
    ],
)
def test_translation_table(exc: Exception, kind: type[Exception]) -> None:
    assert isinstance(translate(exc), kind)


async def test_a_refused_batch_is_settled_so_the_agent_stops_sending_it(
    engine: AsyncEngine,
) -> None:
    """A batch the database refuses reached the control plane: its seq counts as received in the
    device's completeness (what the end-to-end acknowledgement confirms), else the agent would
    send it again every round, forever, each time making a new dead letter."""
    run = uuid.uuid4().hex[:8]
    org, device = f"s-{run}", f"ds-{run}"
    store = TelemetryStore(engine, auto_register=True)
    writer = FlushWriter(store, stopping=asyncio.Event())
    poison = [
        p
        for p in _poison(engine.dialect.name, org, device)
        if isinstance(p.message, DetectionBatch)
    ]
    seqs = [p.message.seq for p in poison if isinstance(p.message, DetectionBatch)]
    flush = [_batch(org, device, 1), *poison, _batch(org, device, 3)]
    written = await writer.write(flush, [])
    assert {id(a) for a in written.settled} == {id(a) for a in poison}
    async with engine.connect() as conn:
        state = (
            await conn.execute(
                select(IngestState.received, IngestState.gaps).where(
                    IngestState.device_id == device
                )
            )
        ).one()
    assert state.received == 2 + len(seqs)
    stored_or_settled = {1, 3, *seqs}
    missing = {s for lo, hi in state.gaps for s in range(lo, hi + 1)}
    assert missing == set(range(1, max(stored_or_settled) + 1)) - stored_or_settled
