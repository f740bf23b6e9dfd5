"""The EMQX HTTP auth hook through the real app: enrolled devices against the credentials table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.brokers.controllers import HOOK_SECRET_HEADER
from aios.shared.topics import Channel, build_topic, device_client_id
from tests.controlplane.api.conftest import Account, sign_up
from tests.controlplane.conftest import make_settings

SECRET = "hook-secret-for-tests"
HOOK = {HOOK_SECRET_HEADER: SECRET}


@pytest.fixture
async def hook_client(
    tmp_path: Path, database_url: str, engine: AsyncEngine
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=database_url,
        AIOS_MQTT_URL="mqtt://127.0.0.1:1",
        AIOS_EMQX_HOOK_SECRET=SECRET,
        AIOS_INGEST_ENABLED="false",
        AIOS_JOBS_ENABLED="false",
    )
    async with AsyncTestClient(app=create_app(settings, run_ingest=False)) as client:
        yield client


async def test_emqx_hook_checks_enrolled_devices(hook_client: AsyncTestClient[Any]) -> None:
    owner: Account = await sign_up(hook_client, "Org EMQX")
    issued = await hook_client.post(
        "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={}
    )
    enrolled = await hook_client.post(
        "/api/v1/fleet/enroll",
        json={"token": issued.json()["token"], "hardware": {"hostname": "h"}},
    )
    assert enrolled.status_code == 201, enrolled.text
    body = enrolled.json()
    org, device = body["org_id"], body["device_id"]
    login = {
        "username": body["mqtt"]["username"],
        "password": body["mqtt"]["password"],
        "clientid": device_client_id(org, device),
    }

    async def authn(**changes: str) -> str:
        r = await hook_client.post(
            "/api/v1/brokers/emqx/authn", headers=HOOK, json={**login, **changes}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["result"])

    async def authz(topic: str, action: str = "publish") -> str:
        r = await hook_client.post(
            "/api/v1/brokers/emqx/authz",
            headers=HOOK,
            json={"username": login["username"], "topic": topic, "action": action},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["result"])

    assert await authn() == "allow"
    assert await authn(password="wrong") == "deny"
    assert await authn(clientid="aios:someone:else") == "deny"
    assert await authz(build_topic(org, device, Channel.DETECTIONS)) == "allow"
    assert await authz(build_topic(org, "other", Channel.DETECTIONS)) == "deny"
    assert await authz(build_topic(org, device, Channel.CONFIG_DESIRED), "subscribe") == "allow"

    no_secret = await hook_client.post("/api/v1/brokers/emqx/authn", json=login)
    assert no_secret.status_code == 401

    deleted = await hook_client.delete(f"/api/v1/fleet/{device}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    assert await authn() == "deny"
    assert await authz(build_topic(org, device, Channel.DETECTIONS)) == "deny"


async def test_emqx_hook_throttles_failed_device_logins(hook_client: AsyncTestClient[Any]) -> None:
    owner: Account = await sign_up(hook_client, "Org EMQX")

    async def enroll() -> dict[str, str]:
        issued = await hook_client.post(
            "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={}
        )
        enrolled = await hook_client.post(
            "/api/v1/fleet/enroll",
            json={"token": issued.json()["token"], "hardware": {"hostname": "h"}},
        )
        body = enrolled.json()
        return {
            "username": body["mqtt"]["username"],
            "password": body["mqtt"]["password"],
            "clientid": device_client_id(body["org_id"], body["device_id"]),
        }

    async def authn(login: dict[str, str], **changes: str) -> str:
        r = await hook_client.post(
            "/api/v1/brokers/emqx/authn", headers=HOOK, json={**login, **changes}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["result"])

    known, victim, fresh = await enroll(), await enroll(), await enroll()
    assert await authn(known, peerhost="10.0.0.9") == "allow"  # remembered from now on
    for _ in range(10):
        assert await authn(victim, password="guess", peerhost="10.0.0.9") == "deny"
    # the guessing address is throttled for logins that are not remembered ...
    assert await authn(fresh, peerhost="10.0.0.9") == "deny"
    assert await authn(known, peerhost="10.0.0.9") == "allow"
    # ... and another address is not
    assert await authn(fresh, peerhost="10.0.0.10") == "allow"
