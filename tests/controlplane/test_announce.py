"""What the ingest tells others about stored events and reports, in the flush's transaction:
``new_event`` live messages for the WebSocket, webhook deliveries (filtered, with a cooldown
per subject) for events that start or happen, and deployment targets moved by reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import LiveMessageRecord, Webhook, WebhookDelivery
from aios.shared.codec import encode
from aios.shared.messages import PipelineReport
from aios.shared.topics import Channel
from tests.controlplane.messages import inbound as _inbound
from tests.controlplane.test_storage import NOW, _event, _write


async def _live(engine: AsyncEngine, org: str) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(LiveMessageRecord.message)
            .where(LiveMessageRecord.org_id == org)
            .order_by(LiveMessageRecord.id)
        )
        return [(m["type"], m["event_id"], m["phase"]) for (m,) in rows]


async def _deliveries(engine: AsyncEngine, org: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(WebhookDelivery.payload, WebhookDelivery.status)
            .where(WebhookDelivery.org_id == org)
            .order_by(WebhookDelivery.created_at)
        )
        return [(p["data"]["event_id"], s) for p, s in rows]


async def test_events_reach_the_live_feed_and_matching_webhooks(engine: AsyncEngine) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    t0 = NOW.timestamp()
    # The first event registers the device and its organization (dev auto-registration).
    await _write(
        engine, [_inbound(org, device, Channel.EVENTS, _event(device, "e0", "instant", t0))]
    )
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Webhook),
            [
                {
                    "id": "hook-" + uuid.uuid4().hex[:8],
                    "org_id": org,
                    "name": "ops",
                    "url": "http://127.0.0.1:9/hook",
                    "secret": "s" * 32,
                    "event_types": ["intrusion"],
                    "severities": [],
                    "enabled": True,
                    "created_at": now,
                    "updated_at": now,
                },
                {
                    "id": "hook-" + uuid.uuid4().hex[:8],
                    "org_id": org,
                    "name": "other",
                    "url": "http://127.0.0.1:9/other",
                    "secret": "s" * 32,
                    "event_types": ["loitering"],
                    "severities": [],
                    "enabled": True,
                    "created_at": now,
                    "updated_at": now,
                },
            ],
        )
    start = _inbound(org, device, Channel.EVENTS, _event(device, "e1", "start", t0 + 1))
    await _write(engine, [start])
    await _write(
        engine, [_inbound(org, device, Channel.EVENTS, _event(device, "e1", "update", t0 + 2))]
    )
    await _write(engine, [start])  # redelivered: stored already, announced once
    # Another episode of the same rule on the same device within the cooldown: suppressed.
    await _write(
        engine, [_inbound(org, device, Channel.EVENTS, _event(device, "e2", "start", t0 + 3))]
    )

    assert await _live(engine, org) == [
        ("new_event", "e0", "instant"),
        ("new_event", "e1", "start"),
        ("new_event", "e1", "update"),
        ("new_event", "e2", "start"),
    ]
    # Only the 'intrusion' webhook matches; updates are not notified; e2 falls in the cooldown.
    assert await _deliveries(engine, org) == [("e1", "pending"), ("e2", "suppressed")]


async def test_a_report_without_a_deployment_is_stored_and_moves_nothing(
    engine: AsyncEngine,
) -> None:
    org, device = "org-" + uuid.uuid4().hex[:8], "dev-" + uuid.uuid4().hex[:8]
    report = PipelineReport(
        device_id=device, pipeline_id="p1", version=2, status="applied", ts=NOW.timestamp()
    )
    await _write(engine, [_inbound(org, device, Channel.CONFIG_REPORTED, encode(report))])
    assert await _live(engine, org) == []
