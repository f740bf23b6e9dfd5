"""Registration, login, token rotation, /me and organization users, through HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from argon2 import extract_parameters
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import User
from tests.controlplane.api.conftest import (
    PASSWORD,
    Account,
    add_member,
    login,
    sign_up,
    unique_email,
)


async def test_register_creates_org_and_owner(client: AsyncTestClient[Any]) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email.upper(),
            "password": PASSWORD,
            "full_name": "Ann",
            "organization_name": "Acme",
        },
    )
    assert response.status_code == 202, response.text
    assert "password" not in response.text
    assert "hash" not in response.text
    me = await login(client, email)
    body = (await client.get("/api/v1/auth/me", headers=me.headers)).json()
    assert body["user"]["role"] == "owner"
    assert body["user"]["email"] == email
    assert body["organization"]["name"] == "Acme"
    assert body["user"]["org_id"] == body["organization"]["id"]


async def test_password_is_stored_as_owasp_argon2id(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    async with engine.connect() as conn:
        stored = (
            await conn.execute(select(User.password_hash).where(User.id == owner.user_id))
        ).scalar_one()
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert PASSWORD not in stored


async def test_login_me_and_wrong_password(client: AsyncTestClient[Any], owner: Account) -> None:
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["organization"]["id"] == owner.org_id

    bad = await client.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": "nope-nope-nope"}
    )
    assert bad.status_code == 401
    missing = await client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": PASSWORD}
    )
    assert missing.status_code == 401
    assert bad.json()["message"] == missing.json()["message"]


async def test_me_requires_a_token(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_refresh_rotates_and_detects_reuse(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != owner.refresh_token
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 200

    # The spent token presented again: refused, and the whole family is revoked.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert reuse.status_code == 401
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 401


async def test_logout_revokes_refresh_token(client: AsyncTestClient[Any], owner: Account) -> None:
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": owner.refresh_token})
    assert out.status_code == 204
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert again.status_code == 401


async def test_login_failures_slow_down_the_caller(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    codes = []
    for _ in range(8):
        r = await client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": "wrong-password"}
        )
        codes.append(r.status_code)
    assert codes[:3] == [401, 401, 401], codes
    assert 429 in codes, codes
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1


async def update_user(
    client: AsyncTestClient[Any], by: Account, user: Account, body: dict[str, Any]
) -> httpx.Response:
    """``by`` changes ``user`` (role, name, active); the response, unchecked."""
    return await client.patch(
        f"/api/v1/organizations/users/{user.user_id}", headers=by.headers, json=body
    )


async def test_admin_manages_users_and_roles(client: AsyncTestClient[Any], owner: Account) -> None:
    admin = await add_member(client, owner, "admin")
    viewer = await add_member(client, admin, "viewer")
    listing = await client.get("/api/v1/organizations/users", headers=admin.headers)
    assert listing.status_code == 200
    emails = {u["email"] for u in listing.json()["items"]}
    assert {owner.email, admin.email, viewer.email} <= emails
    assert listing.json()["total"] == 3

    promoted = await update_user(client, admin, viewer, {"role": "operator"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "operator"

    # An admin cannot create or touch an owner.
    grab = await update_user(client, admin, viewer, {"role": "owner"})
    assert grab.status_code == 403
    demote = await update_user(client, admin, owner, {"role": "viewer"})
    assert demote.status_code == 403
    # The last owner cannot demote themselves.
    self_demote = await update_user(client, owner, owner, {"role": "admin"})
    assert self_demote.status_code == 409

    gone = await client.delete(
        f"/api/v1/organizations/users/{viewer.user_id}", headers=admin.headers
    )
    assert gone.status_code == 204
    assert (
        await client.get(f"/api/v1/organizations/users/{viewer.user_id}", headers=admin.headers)
    ).status_code == 404


async def test_disabled_user_cannot_log_in(client: AsyncTestClient[Any], owner: Account) -> None:
    member = await add_member(client, owner, "viewer")
    r = await update_user(client, owner, member, {"is_active": False})
    assert r.status_code == 200
    again = await client.post(
        "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD}
    )
    assert again.status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": member.refresh_token}
    )
    assert refresh.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD, "full_name": "A", "organization_name": "O"}, "email"),
        (
            {
                "email": "not-an-email",
                "password": PASSWORD,
                "full_name": "A",
                "organization_name": "O",
            },
            "email",
        ),
        (
            {"email": "a@b.co", "password": "short", "full_name": "A", "organization_name": "O"},
            "password",
        ),
        (
            {
                "email": "a@b.co",
                "password": PASSWORD,
                "full_name": "A" * 201,
                "organization_name": "O",
            },
            "full_name",
        ),
        (
            {"email": "a@b.co", "password": PASSWORD, "full_name": "A", "organization_name": 12},
            "organization_name",
        ),
        (
            {
                "email": "a@b.co",
                "password": PASSWORD,
                "full_name": "A",
                "organization_name": "O",
                "x": 1,
            },
            "x",
        ),
    ],
)
async def test_register_validation_names_the_field(
    client: AsyncTestClient[Any], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code in (400, 422), response.text
    assert response.json()["field"] == field


async def test_login_with_a_fresh_org_is_independent(client: AsyncTestClient[Any]) -> None:
    a = await sign_up(client, "One")
    b = await sign_up(client, "Two")
    assert a.org_id != b.org_id
    again = await login(client, a.email)
    assert again.org_id == a.org_id
