"""Webhook deliveries against a real HTTP server: signatures, retries, cooldown, filters."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Organization, Webhook, WebhookDelivery
from aios.controlplane.notifications.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDispatcher,
    verify_signature,
)
from aios.controlplane.notifications.outbox import enqueue
from aios.controlplane.notifications.schemas import Notification
from tests.controlplane.notifications.http_receiver import JoiningHTTPServer

SECRET = "s3cret-" + "x" * 20
LOCAL_RECEIVERS = ("127.0.0.1/32",)
"""The receivers here listen on loopback, which the egress policy refuses unless allowed."""


class Receiver:
    """An HTTP server that checks signatures and fails the first ``fail_first`` requests."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not verify_signature(SECRET, body, self.headers.get(SIGNATURE_HEADER, "")):
                    receiver.bad_signatures += 1
                receiver.requests.append(
                    {"body": json.loads(body), "ts": self.headers.get(TIMESTAMP_HEADER)}
                )
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = JoiningHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


async def add_webhook(engine: AsyncEngine, url: str, **filters: list[str]) -> tuple[str, str]:
    org, hook = "org-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Organization).values(id=org, name=org, created_at=now, updated_at=now)
        )
        await conn.execute(
            insert(Webhook).values(
                id=hook, org_id=org, name="ops", url=url, secret=SECRET, enabled=True,
                event_types=filters.get("event_types", []),
                severities=filters.get("severities", []),
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return org, hook


def note(org: str, event_type: str, subject: str, severity: str = "warning") -> Notification:
    return Notification(
        org_id=org,
        event_type=event_type,
        severity=severity,  # type: ignore[arg-type]
        subject=subject,
        data={"device_id": subject},
        created_at=datetime.now(UTC),
    )


async def test_delivery_is_signed_and_retried_with_backoff_until_it_succeeds(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    org, hook = await add_webhook(engine, receiver.url)
    async with engine.begin() as conn:
        assert await enqueue(conn, [note(org, "device_offline", "cam-1")], cooldown_s=60) == 1
    dispatcher = WebhookDispatcher(
        timeout_s=5, max_attempts=5, retry_base_s=0.2, allowed=LOCAL_RECEIVERS
    )
    try:
        for _ in range(40):
            async with engine.begin() as conn:
                await dispatcher.deliver_due(conn)
            if len(receiver.requests) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.close()
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook))
        ).one()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 204)
    assert len(receiver.requests) == 3  # two 503s, then delivered; never sent again
    assert receiver.bad_signatures == 0
    assert receiver.requests[0]["body"]["type"] == "device_offline"
    assert receiver.requests[0]["body"] == receiver.requests[2]["body"]  # same signed body


async def test_a_delivery_that_keeps_failing_is_given_up(engine: AsyncEngine) -> None:
    bad = Receiver(fail_first=100)
    try:
        org, hook = await add_webhook(engine, bad.url)
        async with engine.begin() as conn:
            await enqueue(conn, [note(org, "device_offline", "cam-1")], cooldown_s=60)
        dispatcher = WebhookDispatcher(
            timeout_s=5, max_attempts=3, retry_base_s=0.05, allowed=LOCAL_RECEIVERS
        )
        for _ in range(40):
            async with engine.begin() as conn:
                await dispatcher.deliver_due(conn)
            await asyncio.sleep(0.05)
        await dispatcher.close()
    finally:
        bad.close()
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook))
        ).one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 503")
    assert len(bad.requests) == 3


async def test_cooldown_and_filters_decide_what_is_sent(engine: AsyncEngine) -> None:
    org, hook = await add_webhook(
        engine, "http://127.0.0.1:9/never", event_types=["device_offline"], severities=["warning"]
    )
    notes = [
        note(org, "device_offline", "cam-1"),
        note(org, "device_offline", "cam-1"),  # the same device flapping: suppressed
        note(org, "device_offline", "cam-2"),  # another device: sent
        note(org, "device_online", "cam-1", "info"),  # filtered out by type
    ]
    async with engine.begin() as conn:
        assert await enqueue(conn, notes, cooldown_s=300) == 2
        assert await enqueue(conn, [note(org, "device_offline", "cam-1")], cooldown_s=300) == 0
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(WebhookDelivery.cooldown_key, WebhookDelivery.status)
                .where(WebhookDelivery.webhook_id == hook).order_by(WebhookDelivery.created_at)
            )
        ).all()  # fmt: skip
    assert sorted(rows) == sorted(
        [
            ("device_offline:cam-1", "pending"),
            ("device_offline:cam-1", "suppressed"),
            ("device_offline:cam-2", "pending"),
            ("device_offline:cam-1", "suppressed"),
        ]
    )
