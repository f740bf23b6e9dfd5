"""Fleet: device CRUD, filters, summary, tags, enrollment tokens and enrollment."""

from __future__ import annotations

import asyncio
from typing import Any

from argon2 import PasswordHasher
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device, DeviceCredential, EnrollmentToken
from aios.controlplane.settings import Settings
from tests.controlplane.api.conftest import Account

HARDWARE = {"hostname": "jetson-01", "arch": "aarch64", "os": "Ubuntu 22.04", "cpu_count": 6}


async def create_device(
    client: AsyncTestClient[Any], who: Account, name: str, tags: list[str]
) -> str:
    r = await client.post("/api/v1/fleet", headers=who.headers, json={"name": name, "tags": tags})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_device_crud_filters_and_tags(client: AsyncTestClient[Any], owner: Account) -> None:
    lobby = await create_device(client, owner, "Lobby cam", ["site:paris", "indoor"])
    dock = await create_device(client, owner, "Loading dock", ["site:paris", "outdoor"])
    await create_device(client, owner, "Garage", ["site:lyon"])

    everything = (await client.get("/api/v1/fleet", headers=owner.headers)).json()
    assert everything["total"] == 3
    paris = (
        await client.get("/api/v1/fleet", headers=owner.headers, params={"tag": "site:paris"})
    ).json()
    assert {d["id"] for d in paris["items"]} == {lobby, dock}
    found = (
        await client.get("/api/v1/fleet", headers=owner.headers, params={"search": "DOCK"})
    ).json()
    assert [d["id"] for d in found["items"]] == [dock]
    paged = (
        await client.get("/api/v1/fleet", headers=owner.headers, params={"limit": 2, "offset": 2})
    ).json()
    assert paged["total"] == 3
    assert len(paged["items"]) == 1

    renamed = await client.patch(
        f"/api/v1/fleet/{dock}", headers=owner.headers, json={"name": "Dock 2"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Dock 2"
    assert renamed.json()["tags"] == ["site:paris", "outdoor"]

    status = await client.put(
        f"/api/v1/fleet/{dock}/status", headers=owner.headers, json={"status": "maintenance"}
    )
    assert status.status_code == 200
    only = (
        await client.get("/api/v1/fleet", headers=owner.headers, params={"status": "maintenance"})
    ).json()
    assert [d["id"] for d in only["items"]] == [dock]

    summary = (await client.get("/api/v1/fleet/summary", headers=owner.headers)).json()
    assert summary["total"] == 3
    assert summary["by_status"] == {"unknown": 2, "maintenance": 1}
    tags = (await client.get("/api/v1/fleet/tags", headers=owner.headers)).json()
    assert {"tag": "site:paris", "devices": 2} in tags

    assert (await client.delete(f"/api/v1/fleet/{lobby}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"/api/v1/fleet/{lobby}", headers=owner.headers)).status_code == 404


async def test_summary_reports_unhealthy_streams(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    device_id = await create_device(client, owner, "cam", [])
    heartbeat = {
        "streams": [
            {"stream_id": "front", "state": "streaming"},
            {"stream_id": "back", "state": "failed", "error": "rtsp timeout"},
        ]
    }
    async with engine.begin() as conn:
        await conn.execute(
            update(Device).where(Device.id == device_id).values(last_heartbeat=heartbeat)
        )
    summary = (await client.get("/api/v1/fleet/summary", headers=owner.headers)).json()
    assert summary["streams_by_state"] == {"streaming": 1, "failed": 1}
    assert summary["unhealthy_streams"] == [
        {"device_id": device_id, "stream_id": "back", "state": "failed", "error": "rtsp timeout"}
    ]


async def test_enrollment_single_use(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine, api_settings: Settings
) -> None:
    issued = await client.post(
        "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={"tags": ["site:paris"]}
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    token_id = issued.json()["enrollment_token"]["id"]
    listed = await client.get("/api/v1/fleet/enrollment-tokens", headers=owner.headers)
    assert token not in listed.text  # shown once, never listed

    enrolled = await client.post(
        "/api/v1/fleet/enroll", json={"token": token, "hardware": HARDWARE}
    )
    assert enrolled.status_code == 201, enrolled.text
    body = enrolled.json()
    assert body["org_id"] == owner.org_id
    assert body["mqtt"]["topic_prefix"] == api_settings.mqtt_topic_prefix
    assert body["mqtt"]["username"] == f"{body['device_id']}@{owner.org_id}"
    assert body["mqtt"]["url"].startswith("mqtt://")
    assert "@" not in body["mqtt"]["url"]

    device = (await client.get(f"/api/v1/fleet/{body['device_id']}", headers=owner.headers)).json()
    assert device["name"] == "jetson-01"
    assert device["tags"] == ["site:paris"]

    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(EnrollmentToken.token_hash).where(EnrollmentToken.id == token_id)
            )
        ).scalar_one()
        credential = (
            await conn.execute(
                select(DeviceCredential).where(DeviceCredential.device_id == body["device_id"])
            )
        ).one()
    assert token not in stored
    assert body["mqtt"]["password"] not in credential.password_hash
    assert PasswordHasher().verify(credential.password_hash, body["mqtt"]["password"])
    assert credential.hardware["arch"] == "aarch64"

    again = await client.post("/api/v1/fleet/enroll", json={"token": token, "hardware": HARDWARE})
    assert again.status_code == 401


async def test_enrollment_multi_use_cannot_exceed_max_uses(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    issued = await client.post(
        "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={"max_uses": 2}
    )
    token = issued.json()["token"]
    results = await asyncio.gather(
        *(
            client.post("/api/v1/fleet/enroll", json={"token": token, "hardware": HARDWARE})
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in results) == [201, 201, 401, 401]


async def test_revoked_and_unknown_tokens_are_refused(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    issued = await client.post(
        "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={"max_uses": None}
    )
    token = issued.json()["token"]
    token_id = issued.json()["enrollment_token"]["id"]
    assert (
        await client.delete(f"/api/v1/fleet/enrollment-tokens/{token_id}", headers=owner.headers)
    ).status_code == 204
    revoked = await client.post("/api/v1/fleet/enroll", json={"token": token, "hardware": HARDWARE})
    assert revoked.status_code == 401
    unknown = await client.post(
        "/api/v1/fleet/enroll", json={"token": "aios_enr_nope", "hardware": HARDWARE}
    )
    assert unknown.status_code == 401


async def test_expired_token_is_refused(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    issued = await client.post(
        "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={"expires_in_s": 60}
    )
    token_id = issued.json()["enrollment_token"]["id"]
    async with engine.begin() as conn:
        from datetime import UTC, datetime, timedelta

        await conn.execute(
            update(EnrollmentToken)
            .where(EnrollmentToken.id == token_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    r = await client.post(
        "/api/v1/fleet/enroll", json={"token": issued.json()["token"], "hardware": HARDWARE}
    )
    assert r.status_code == 401


async def test_summary_counts_an_offline_devices_cameras_as_offline(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    """Its last heartbeat said "streaming", but the device is offline: nothing streams."""
    online = await create_device(client, owner, "up", [])
    offline = await create_device(client, owner, "down", [])
    heartbeat = {"streams": [{"stream_id": "front", "state": "streaming"}]}
    async with engine.begin() as conn:
        for device_id, status in ((online, "online"), (offline, "offline")):
            await conn.execute(
                update(Device)
                .where(Device.id == device_id)
                .values(last_heartbeat=heartbeat, status=status)
            )
    summary = (await client.get("/api/v1/fleet/summary", headers=owner.headers)).json()
    assert summary["streams_by_state"] == {"streaming": 1, "offline": 1}
    assert summary["unhealthy_streams"] == [
        {"device_id": offline, "stream_id": "front", "state": "offline", "error": "device offline"}
    ]
