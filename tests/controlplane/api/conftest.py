"""API fixtures: the real application (``create_app``) on each backend, and signed-up tenants.

Each test gets a migrated database (SQLite: its own file; PostgreSQL: the session database,
so tests use unique emails and never assume empty tables) and talks HTTP to the ASGI app.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.settings import Settings
from tests.controlplane.conftest import make_settings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def api_settings(tmp_path: Path, database_url: str, mqtt_url: str, topic_prefix: str) -> Settings:
    return make_settings(
        tmp_path,
        AIOS_DATABASE_URL=database_url,
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
        AIOS_INGEST_ENABLED="false",
    )


@pytest.fixture
async def client(
    api_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[AsyncTestClient[Any]]:
    # ``engine`` migrated the database; the app builds its own engine, because the test client
    # runs the app on another event loop and asyncpg connections belong to one loop.
    app = create_app(api_settings, run_ingest=False)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@dataclass
class Account:
    """A signed-in user: its ids, tokens and the Authorization header."""

    email: str
    user_id: str
    org_id: str
    role: str
    access_token: str
    refresh_token: str
    headers: dict[str, str] = field(default_factory=dict)


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


async def login(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> Account:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200, me.text
    user = me.json()["user"]
    return Account(
        email=email,
        user_id=user["id"],
        org_id=user["org_id"],
        role=user["role"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )


async def sign_up(client: AsyncTestClient[Any], org_name: str = "Acme") -> Account:
    email = unique_email("owner")
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "full_name": "Olivia Owner",
            "organization_name": org_name,
        },
    )
    assert response.status_code == 202, response.text
    return await login(client, email)


async def add_member(client: AsyncTestClient[Any], admin: Account, role: str) -> Account:
    email = unique_email(role)
    response = await client.post(
        "/api/v1/organizations/users",
        headers=admin.headers,
        json={"email": email, "password": PASSWORD, "full_name": f"A {role}", "role": role},
    )
    assert response.status_code == 201, response.text
    return await login(client, email)


@pytest.fixture
async def owner(client: AsyncTestClient[Any]) -> Account:
    return await sign_up(client, "Org A")


@pytest.fixture
async def other_owner(client: AsyncTestClient[Any]) -> Account:
    return await sign_up(client, "Org B")
