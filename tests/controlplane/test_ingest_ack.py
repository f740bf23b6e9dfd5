"""The end-to-end acknowledgement: after each commit the ingest tells the device what is
stored (``ack`` channel), and completeness counts the tail the agent reported.

Real Mosquitto (MQTT 5, shared subscription) and each database backend.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aios.controlplane.telemetry.completeness import Completeness, device_completeness
from aios.controlplane.telemetry.ingest import IngestService
from aios.controlplane.tenancy import OrgScope
from aios.shared.codec import encode
from aios.shared.messages import Event, Heartbeat, IngestAck, SeqAck
from aios.shared.topics import Channel, build_topic
from tests.agent.mqtt_capture import Collector
from tests.controlplane.conftest import Publisher, eventually
from tests.controlplane.messages import detection_batch

pytestmark = [pytest.mark.mqtt]


@pytest.fixture
def acks(mqtt_url: str, topic_prefix: str) -> Iterator[Collector]:
    collector = Collector(mqtt_url, f"{topic_prefix}/v1/+/+/ack")
    yield collector
    collector.close()


def event(device: str, seq: int) -> bytes:
    return encode(
        Event(
            id=f"e{seq}",
            event_type="intrusion",
            severity="warning",
            device_id=device,
            stream_id="cam1",
            ts=1_700_000_000.0 + seq,
            seq=seq,
        )
    )


async def test_each_commit_is_acknowledged_with_what_is_stored(
    engine: AsyncEngine,
    ingest: IngestService,
    mosquitto_publisher: Publisher,
    acks: Collector,
    topic_prefix: str,
) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]

    def topic(channel: Channel) -> str:
        return build_topic(org, device, channel, prefix=topic_prefix)

    for seq in (0, 1, 3, 4):  # batch 2 lost on the way
        mosquitto_publisher.publish(topic(Channel.DETECTIONS), detection_batch(device, seq))
    for seq in (0, 2):  # event 1 lost
        mosquitto_publisher.publish(topic(Channel.EVENTS), event(device, seq))
    mosquitto_publisher.publish(  # the agent produced batches up to 6, events up to 3
        topic(Channel.HEARTBEAT),
        encode(
            Heartbeat(
                device_id=device,
                ts=1_700_000_000.0,
                uptime_s=1.0,
                agent_version="t",
                last_seq=6,
                last_event_seq=3,
            )
        ),
        qos=0,
    )

    def latest() -> IngestAck | None:
        found = [a for a in acks.of_type(IngestAck) if a.device_id == device]
        done = [
            a
            for a in found
            if a.detections is not None
            and a.detections.upto == 4
            and a.events is not None
            and a.events.upto == 2
        ]
        return done[-1] if done else None

    assert await asyncio.to_thread(acks.wait_for, lambda: latest() is not None, 15), acks.of_type(
        IngestAck
    )
    ack = latest()
    assert ack is not None
    assert ack.detections == SeqAck(first=0, contiguous=1, upto=4, missing=[(2, 2)])
    assert ack.events == SeqAck(first=0, contiguous=0, upto=2, missing=[(1, 1)])
    assert [ack.detections.stored(s) for s in range(6)] == [1, 1, 0, 1, 1, 0]

    async def tail() -> Completeness | None:
        async with AsyncSession(engine) as session:
            c = await device_completeness(session, OrgScope.single(org), device)
        return c if c.latest_seq == 6 and c.events and c.events.latest_seq == 3 else None

    c = await eventually(tail)
    assert c.missing == [[2, 2], [5, 6]], "a gap below the highest stored, and the tail above"
    assert c.missing_count == 3
    assert c.events is not None
    assert (c.events.received, c.events.missing, c.events.missing_count) == (2, [[1, 1], [3, 3]], 2)

    # the lost ones sent again (the agent's resend): stored once, acknowledged as complete
    mosquitto_publisher.publish(topic(Channel.DETECTIONS), detection_batch(device, 2))
    mosquitto_publisher.publish(topic(Channel.DETECTIONS), detection_batch(device, 2))
    mosquitto_publisher.publish(topic(Channel.EVENTS), event(device, 1))

    def complete() -> bool:
        return any(
            a.device_id == device
            and a.detections == SeqAck(first=0, contiguous=4, upto=4)
            and a.events == SeqAck(first=0, contiguous=2, upto=2)
            for a in acks.of_type(IngestAck)
        )

    assert await asyncio.to_thread(acks.wait_for, complete, 15), acks.of_type(IngestAck)[-3:]
