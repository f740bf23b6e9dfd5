"""Dashboard events (filters, keyset pagination, tenant isolation) and snapshot uploads."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import EventRecord
from tests.controlplane.api.conftest import Account
from tests.controlplane.api.test_fleet import HARDWARE, create_device


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


JPEG = _jpeg()
T0 = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)


async def insert_events(
    engine: AsyncEngine, org_id: str, device_id: str, count: int, **extra: Any
) -> list[str]:
    rows = []
    for i in range(count):
        ts = T0 + timedelta(minutes=i)
        rows.append(
            {
                "device_id": device_id,
                "id": f"{device_id[:8]}-ev{i}",
                "org_id": org_id,
                "stream_id": "front",
                "event_type": "intrusion" if i % 2 else "loitering",
                "severity": "critical" if i % 3 == 0 else "warning",
                "phase": "instant",
                "started_at": ts,
                "last_ts": ts,
                "received_at": ts,
                "track_ids": [i],
                "attributes": {"count": i},
                **extra,
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(EventRecord), rows)
    return [r["id"] for r in rows]


async def test_events_filters_and_keyset_pages(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    mine = await create_device(client, owner, "cam", [])
    theirs = await create_device(client, other_owner, "cam", [])
    ids = await insert_events(engine, owner.org_id, mine, 7)
    await insert_events(engine, other_owner.org_id, theirs, 3)

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/api/v1/dashboard/events", headers=owner.headers, params=params)
        ).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once, none of the other org's

    intrusions = (
        await client.get(
            "/api/v1/dashboard/events", headers=owner.headers, params={"event_type": "intrusion"}
        )
    ).json()
    assert {e["event_type"] for e in intrusions["items"]} == {"intrusion"}
    assert len(intrusions["items"]) == 3
    window = {
        "since": (T0 + timedelta(minutes=2)).isoformat(),
        "until": (T0 + timedelta(minutes=4)).isoformat(),
    }
    ranged = (
        await client.get("/api/v1/dashboard/events", headers=owner.headers, params=window)
    ).json()
    assert [e["id"] for e in ranged["items"]] == [ids[3], ids[2]]
    critical = (
        await client.get(
            "/api/v1/dashboard/events", headers=owner.headers, params={"severity": "critical"}
        )
    ).json()
    assert len(critical["items"]) == 3

    leak = (
        await client.get(
            "/api/v1/dashboard/events", headers=other_owner.headers, params={"device_id": mine}
        )
    ).json()
    assert leak["items"] == []
    assert (
        await client.get(f"/api/v1/dashboard/events/{ids[0]}", headers=other_owner.headers)
    ).status_code == 404
    detail = await client.get(f"/api/v1/dashboard/events/{ids[0]}", headers=owner.headers)
    assert detail.status_code == 200
    assert detail.json()["attributes"] == {"count": 0}
    bad_cursor = await client.get(
        "/api/v1/dashboard/events", headers=owner.headers, params={"cursor": "!!"}
    )
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["field"] == "cursor"
    # a well-formed cursor of the detections listing (time, device, seq, idx) is not an events one
    foreign = base64.urlsafe_b64encode(msgspec.msgpack.encode([1, "d", 2, 3])).decode()
    wrong_key = await client.get(
        "/api/v1/dashboard/events", headers=owner.headers, params={"cursor": foreign}
    )
    assert wrong_key.status_code == 400
    assert wrong_key.json()["field"] == "cursor"


async def enroll(client: AsyncTestClient[Any], owner: Account) -> dict[str, Any]:
    token = (
        await client.post("/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={})
    ).json()["token"]
    response = await client.post(
        "/api/v1/fleet/enroll", json={"token": token, "hardware": HARDWARE}
    )
    assert response.status_code == 201
    return dict(response.json())


def basic(device_id: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{device_id}:{password}".encode()).decode()
    return {
        "Authorization": f"Basic {raw}",
        "Content-Type": "image/jpeg",
        "X-AIOS-Device": device_id,
    }


async def test_snapshot_upload_and_download(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    device = await enroll(client, owner)
    device_id, password = device["device_id"], device["mqtt"]["password"]
    (event_id,) = await insert_events(engine, owner.org_id, device_id, 1)

    url = f"/api/v1/events/{event_id}/snapshot"
    stored = await client.put(url, headers=basic(device_id, password), content=JPEG)
    assert stored.status_code == 201, stored.text
    assert stored.json() == {"key": f"snapshots/{device_id}/{event_id}.jpg", "size": len(JPEG)}

    detail = (
        await client.get(f"/api/v1/dashboard/events/{event_id}", headers=owner.headers)
    ).json()
    assert detail["snapshot_url"] is not None
    image = await client.get(detail["snapshot_url"], headers=owner.headers)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content == JPEG
    assert (
        await client.get(detail["snapshot_url"], headers=other_owner.headers)
    ).status_code == 404
    assert (await client.get(detail["snapshot_url"])).status_code == 401


async def test_snapshot_upload_is_checked(client: AsyncTestClient[Any], owner: Account) -> None:
    device = await enroll(client, owner)
    device_id, password = device["device_id"], device["mqtt"]["password"]
    url = "/api/v1/events/ev1/snapshot"
    assert (await client.put(url, content=JPEG)).status_code == 401
    assert (
        await client.put(url, headers=basic(device_id, "wrong"), content=JPEG)
    ).status_code == 401
    spoof = {**basic(device_id, password), "X-AIOS-Device": "someone-else"}
    assert (await client.put(url, headers=spoof, content=JPEG)).status_code == 401
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    not_jpeg = await client.put(url, headers=basic(device_id, password), content=png)
    assert not_jpeg.status_code == 400
    assert not_jpeg.json()["field"] == "body"
    huge = JPEG[:-2] + b"0" * (3 * 1024 * 1024) + b"\xff\xd9"
    assert (
        await client.put(url, headers=basic(device_id, password), content=huge)
    ).status_code == 413
    traversal = await client.put(
        "/api/v1/events/..%2F..%2Fx/snapshot", headers=basic(device_id, password), content=JPEG
    )
    assert traversal.status_code in (400, 404)
    dots = await client.put(
        "/api/v1/events/../snapshot", headers=basic(device_id, password), content=JPEG
    )
    assert dots.status_code in (400, 404)
    dot = await client.put(
        "/api/v1/events/.hidden/snapshot", headers=basic(device_id, password), content=JPEG
    )
    assert dot.status_code == 400


@pytest.mark.parametrize("name", ["device_id", "stream_id", "event_type"])
async def test_events_filters_refuse_oversize_identifiers(
    client: AsyncTestClient[Any], owner: Account, name: str
) -> None:
    response = await client.get(
        "/api/v1/dashboard/events", params={name: "x" * 65}, headers=owner.headers
    )
    assert response.status_code == 400, response.text
    assert name in response.text
    fine = await client.get(
        "/api/v1/dashboard/events", params={name: "x" * 64}, headers=owner.headers
    )
    assert fine.status_code == 200, fine.text
