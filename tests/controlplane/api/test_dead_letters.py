"""Dead letters are visible to their organization only, with reason, device, time and a bounded
excerpt of the payload, and counted by reason."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import DeadLetter
from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.dead_letters import EXCERPT_BYTES
from aios.controlplane.telemetry.records import DeadLetterRow, DeadReason, IngestReason
from aios.shared.codec import RejectReason
from tests.controlplane.api.conftest import Account


def _letter(org: str | None, device: str, reason: DeadReason, payload: bytes) -> dict[str, Any]:
    topic = f"aios/v1/{org}/{device}/det"
    item = Inbound(topic=topic, payload=payload, qos=1, mid=1, received_at=time.time())
    row = DeadLetterRow.of(item, reason, f"why {reason.value}", org_id=org, device_id=device)
    return row.as_params()


async def test_dead_letters_of_the_callers_organization_only(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(DeadLetter),
            [
                _letter(owner.org_id, "cam-1", RejectReason.NOT_JSON, b"{not json"),
                _letter(owner.org_id, "cam-1", IngestReason.STORAGE_REFUSED, b"x" * 3000),
                _letter(owner.org_id, "cam-2", RejectReason.NOT_JSON, b"\xff\xfe"),
                _letter(other_owner.org_id, "cam-9", RejectReason.TOO_DEEP, b"[" * 100),
                _letter(None, "cam-0", IngestReason.BAD_TOPIC, b"?"),
            ],
        )
    assert (await client.get("/api/v1/telemetry/dead-letters")).status_code == 401
    r = await client.get("/api/v1/telemetry/dead-letters", headers=owner.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["counts"] == {"not_json": 2, "storage_refused": 1}
    assert [i["device_id"] for i in page["items"]] == ["cam-2", "cam-1", "cam-1"]  # newest first
    refused = page["items"][1]
    assert refused["reason"] == "storage_refused"
    assert refused["detail"] == "why storage_refused"
    assert refused["payload_size"] == 3000
    assert refused["payload_excerpt"] == "x" * EXCERPT_BYTES
    assert refused["received_at"]

    r = await client.get(
        "/api/v1/telemetry/dead-letters",
        params={"reason": "not_json", "device_id": "cam-1"},
        headers=owner.headers,
    )
    assert [i["payload_excerpt"] for i in r.json()["items"]] == ["{not json"]
    other = (await client.get("/api/v1/telemetry/dead-letters", headers=other_owner.headers)).json()
    assert other["counts"] == {"too_deep": 1}
    assert [i["device_id"] for i in other["items"]] == ["cam-9"]
