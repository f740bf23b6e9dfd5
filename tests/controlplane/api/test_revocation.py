"""Access ends when it should: role changes, deactivation, deletion, logout and revoked token
families take effect on the very next request, and a refresh token is spent exactly once even
when eight requests present it together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.settings import Settings
from tests.controlplane.api.conftest import Account, add_member, sign_up, unique_email
from tests.controlplane.api.live import serve

Client = AsyncTestClient[Any]


async def _demote(client: Client, owner: Account, member: Account) -> None:
    r = await client.patch(
        f"/api/v1/organizations/users/{member.user_id}",
        headers=owner.headers,
        json={"role": "viewer"},
    )
    assert r.status_code == 200, r.text


async def _deactivate(client: Client, owner: Account, member: Account) -> None:
    r = await client.patch(
        f"/api/v1/organizations/users/{member.user_id}",
        headers=owner.headers,
        json={"is_active": False},
    )
    assert r.status_code == 200, r.text


async def _delete(client: Client, owner: Account, member: Account) -> None:
    r = await client.delete(f"/api/v1/organizations/users/{member.user_id}", headers=owner.headers)
    assert r.status_code == 204, r.text


async def _logout(client: Client, _: Account, member: Account) -> None:
    r = await client.post("/api/v1/auth/logout", json={"refresh_token": member.refresh_token})
    assert r.status_code == 204, r.text


async def _reuse(client: Client, _: Account, member: Account) -> None:
    """The refresh token presented twice: the second time revokes its whole family."""
    body = {"refresh_token": member.refresh_token}
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 200
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 401


Change = Callable[[Client, Account, Account], Awaitable[None]]


def _new_admin() -> tuple[str, str, dict[str, Any]]:
    body = {"email": unique_email("x"), "password": "a quiet meadow river", "full_name": "X"}
    return "POST", "/api/v1/organizations/users", {**body, "role": "admin"}


@pytest.mark.parametrize(
    ("role", "change", "request_", "expected"),
    [
        # a demoted admin creating a new admin (seen in review): now 403 on the next request
        ("admin", _demote, _new_admin(), 403),
        # a deleted operator issuing enrollment tokens (seen in review): now 401
        ("operator", _delete, ("POST", "/api/v1/fleet/enrollment-tokens", {}), 401),
        ("operator", _deactivate, ("POST", "/api/v1/fleet/enrollment-tokens", {}), 401),
        ("admin", _logout, ("GET", "/api/v1/organizations/users", None), 401),
        ("viewer", _logout, ("GET", "/api/v1/auth/me", None), 401),
        ("viewer", _reuse, ("GET", "/api/v1/auth/me", None), 401),
    ],
    ids=["demoted", "deleted", "deactivated", "logged-out", "logged-out-me", "family-revoked"],
)
async def test_changes_take_effect_on_the_next_request(
    client: Client,
    owner: Account,
    role: str,
    change: Change,
    request_: tuple[str, str, dict[str, Any] | None],
    expected: int,
) -> None:
    member = await add_member(client, owner, role)
    method, url, body = request_

    def fresh() -> dict[str, Any] | None:  # a new email each time: never a 409 for a repeat
        return body if body is None or "email" not in body else {**body, "email": unique_email()}

    before = await client.request(method, url, headers=member.headers, json=fresh())
    assert before.status_code in (200, 201), before.text  # the control: allowed before

    await change(client, owner, member)

    after = await client.request(method, url, headers=member.headers, json=fresh())
    assert after.status_code == expected, after.text


async def test_a_promotion_also_takes_effect_at_once(client: Client, owner: Account) -> None:
    member = await add_member(client, owner, "viewer")
    listing = "/api/v1/organizations/users"
    assert (await client.get(listing, headers=member.headers)).status_code == 403
    r = await client.patch(
        f"{listing}/{member.user_id}", headers=owner.headers, json={"role": "admin"}
    )
    assert r.status_code == 200
    assert (await client.get(listing, headers=member.headers)).status_code == 200


async def test_concurrent_refreshes_spend_the_token_once(
    api_settings: Settings, engine: AsyncEngine
) -> None:
    """Eight refreshes of one token in flight together: exactly one new pair, and since the
    other seven are reuse of a spent token, the family (the new pair included) is revoked."""
    with serve(create_app(api_settings, run_ingest=False)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            account = await sign_up(http)  # type: ignore[arg-type]
            body = {"refresh_token": account.refresh_token}
            answers = await asyncio.gather(
                *(http.post("/api/v1/auth/refresh", json=body) for _ in range(8))
            )
            codes = sorted(a.status_code for a in answers)
            assert codes == [200] + [401] * 7, [a.text for a in answers]
            pair = next(a.json() for a in answers if a.status_code == 200)
            again = await http.post(
                "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            assert again.status_code == 401, again.text
            me = await http.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
            )
            assert me.status_code == 401, me.text
