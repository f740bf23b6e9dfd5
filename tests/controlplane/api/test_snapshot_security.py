"""Snapshot uploads under attack: bound to an event of the uploading device, identifiers matched
whole, images decoded (not just their first and last bytes), files served with ``nosniff``,
wrong device passwords throttled while a known-good device is not slowed down."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.settings import Settings
from aios.shared.topics import is_identifier
from tests.controlplane.api.conftest import Account
from tests.controlplane.api.test_dashboard import basic, enroll, insert_events


def real_jpeg(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "snapshots"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def upload(
    client: AsyncTestClient[Any], device: dict[str, Any], event_id: str, jpeg: bytes
) -> httpx.Response:
    """``device`` (as enrolled) uploads ``jpeg`` as ``event_id``'s snapshot; unchecked."""
    return await client.put(
        f"/api/v1/events/{event_id}/snapshot",
        headers=basic(device["device_id"], device["mqtt"]["password"]),
        content=jpeg,
    )


async def test_an_upload_must_name_an_event_of_the_uploading_device(
    client: AsyncTestClient[Any],
    owner: Account,
    other_owner: Account,
    engine: AsyncEngine,
    api_settings: Settings,
) -> None:
    a, b = await enroll(client, owner), await enroll(client, owner)
    stranger = await enroll(client, other_owner)
    (ev_a,) = await insert_events(engine, owner.org_id, a["device_id"], 1)
    (ev_b,) = await insert_events(engine, owner.org_id, b["device_id"], 1)
    jpeg = real_jpeg()

    for device, event_id in [(a, "no-such-event"), (a, ev_b), (stranger, ev_a)]:
        refused = await upload(client, device, event_id, jpeg)
        # "not yet": the agent may upload before its event is ingested, and retries
        assert refused.status_code == 425, refused.text
    assert stored_files(api_settings) == []
    assert (await upload(client, a, ev_a, jpeg)).status_code == 201
    assert [p.name for p in stored_files(api_settings)] == [f"{ev_a}.jpg"]


@pytest.mark.parametrize("value", ["ev1\n", "ev1\r\n", "\nev1", "ev 1", "a" * 65])
def test_identifiers_are_matched_whole(value: str) -> None:
    assert not is_identifier(value)


async def test_an_identifier_with_a_trailing_newline_is_refused(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine, api_settings: Settings
) -> None:
    device = await enroll(client, owner)
    await insert_events(engine, owner.org_id, device["device_id"], 1, id="ev1\n")
    response = await client.put(
        "/api/v1/events/ev1%0A/snapshot",
        headers=basic(device["device_id"], device["mqtt"]["password"]),
        content=real_jpeg(),
    )
    assert response.status_code == 400, response.text
    assert stored_files(api_settings) == []


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xd8\xff\xe0<html><script>alert(document.cookie)</script></html>\xff\xd9",
        b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9",
        real_jpeg()[:-200] + b"\xff\xd9",  # truncated
    ],
    ids=["html-between-markers", "noise-between-markers", "truncated"],
)
async def test_only_decodable_jpegs_are_stored(
    client: AsyncTestClient[Any],
    owner: Account,
    engine: AsyncEngine,
    api_settings: Settings,
    body: bytes,
) -> None:
    device = await enroll(client, owner)
    (event_id,) = await insert_events(engine, owner.org_id, device["device_id"], 1)
    response = await upload(client, device, event_id, body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "body"
    assert stored_files(api_settings) == []


async def test_snapshots_and_api_answers_carry_nosniff(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    device = await enroll(client, owner)
    (event_id,) = await insert_events(engine, owner.org_id, device["device_id"], 1)
    uploaded = await upload(client, device, event_id, real_jpeg())
    assert uploaded.status_code == 201, uploaded.text
    image = await client.get(f"/api/v1/dashboard/events/{event_id}/snapshot", headers=owner.headers)
    assert image.status_code == 200
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in image.headers["content-security-policy"]
    for answer in (
        await client.get("/health"),
        await client.get("/api/v1/fleet", headers=owner.headers),
        await client.get("/api/v1/fleet"),  # an error answer too
    ):
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.request.url


async def test_wrong_device_passwords_are_throttled_but_a_good_device_is_not(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    good, victim = await enroll(client, owner), await enroll(client, owner)
    (event_id,) = await insert_events(engine, owner.org_id, good["device_id"], 1)
    url = f"/api/v1/events/{event_id}/snapshot"
    good_auth = basic(good["device_id"], good["mqtt"]["password"])
    assert (await client.put(url, headers=good_auth, content=real_jpeg())).status_code == 201

    statuses = [
        (
            await client.put(url, headers=basic(victim["device_id"], "guess"), content=b"x")
        ).status_code
        for _ in range(15)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429, statuses
    throttled = await client.put(url, headers=basic(victim["device_id"], "guess"), content=b"x")
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    # the device verified before is not slowed down (its check is remembered) ...
    assert (await client.put(url, headers=good_auth, content=real_jpeg())).status_code == 201
    # ... while an unverified login from the throttled client waits, even a correct one
    victim_auth = basic(victim["device_id"], victim["mqtt"]["password"])
    assert (await client.put(url, headers=victim_auth, content=real_jpeg())).status_code == 429
