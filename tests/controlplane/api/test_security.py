"""JWT attacks (RFC 8725), the role matrix, and body validation that never answers 500."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.accounts.tokens import AUDIENCE, ISSUER
from aios.controlplane.settings import Settings
from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.api.test_fleet import create_device
from tests.controlplane.api.test_pipelines import SPEC, create_pipeline


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(account: Account, **override: Any) -> dict[str, Any]:
    now = int(time.time())
    login = jwt.decode(account.access_token, options={"verify_signature": False})["fam"]
    claims = {
        "sub": account.user_id, "org": account.org_id, "role": "owner", "typ": "access",
        "jti": "x" * 32, "iat": now, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE,
        "fam": login,
    }  # fmt: skip
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def _forge(settings: Settings, account: Account, **override: Any) -> str:
    return jwt.encode(_claims(account, **override), settings.secret_key.get(), algorithm="HS256")


@pytest.mark.parametrize(
    "attack",
    [
        "tampered_signature",
        "tampered_payload",
        "alg_none",
        "alg_hs512",
        "wrong_key",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "missing_exp",
        "refresh_as_access",
        "no_login_family",
        "unknown_login_family",
        "unknown_user",
        "garbage",
    ],
)
async def test_jwt_attacks_are_401(
    client: AsyncTestClient[Any], owner: Account, api_settings: Settings, attack: str
) -> None:
    key = api_settings.secret_key.get()
    header, payload, signature = owner.access_token.split(".")
    token = {
        "tampered_signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "tampered_payload": f"{header}.{_b64(_claims(owner, org='other'))}.{signature}",
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(owner))}.",
        "alg_hs512": jwt.encode(_claims(owner), key, algorithm="HS512"),
        "wrong_key": jwt.encode(_claims(owner), "k" * 48, algorithm="HS256"),
        "expired": _forge(
            api_settings, owner, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600
        ),
        "wrong_audience": _forge(api_settings, owner, aud="someone-else"),
        "wrong_issuer": _forge(api_settings, owner, iss="evil"),
        "missing_exp": _forge(api_settings, owner, exp=None),
        "refresh_as_access": owner.refresh_token,
        # Correctly signed, but naming no live login or no user: the database says no.
        "no_login_family": _forge(api_settings, owner, fam=None),
        "unknown_login_family": _forge(api_settings, owner, fam="f" * 32),
        "unknown_user": _forge(api_settings, owner, sub="nobody"),
        "garbage": "not.a.jwt",
    }[attack]
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text


async def test_a_correctly_forged_token_is_accepted(
    client: AsyncTestClient[Any], owner: Account, api_settings: Settings
) -> None:
    """The attack tests above change one thing each: this control proves the rest is right."""
    response = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {_forge(api_settings, owner)}"}
    )
    assert response.status_code == 200


async def test_access_token_cannot_refresh(client: AsyncTestClient[Any], owner: Account) -> None:
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.access_token})
    assert r.status_code == 401


async def test_token_header_schemes(client: AsyncTestClient[Any], owner: Account) -> None:
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": owner.access_token})
    ).status_code == 401
    basic = {"Authorization": f"Basic {owner.access_token}"}
    assert (await client.get("/api/v1/auth/me", headers=basic)).status_code == 401
    query = await client.get("/api/v1/auth/me", params={"token": owner.access_token})
    assert query.status_code == 401  # ?token= is for WebSockets only


async def test_role_matrix(client: AsyncTestClient[Any], owner: Account) -> None:
    viewer = await add_member(client, owner, "viewer")
    operator = await add_member(client, owner, "operator")
    admin = await add_member(client, owner, "admin")
    device_id = await create_device(client, owner, "cam", ["t"])
    pipeline_id = await create_pipeline(client, owner)

    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/fleet", {"name": "n"}),
        ("PATCH", f"/api/v1/fleet/{device_id}", {"name": "n"}),
        ("PUT", f"/api/v1/fleet/{device_id}/status", {"status": "offline"}),
        ("POST", "/api/v1/fleet/enrollment-tokens", {}),
        ("POST", "/api/v1/pipelines", {"name": "p", "spec": SPEC}),
        ("PATCH", f"/api/v1/pipelines/{pipeline_id}", {"name": "p"}),
        ("POST", f"/api/v1/pipelines/{pipeline_id}/execute", {"device_ids": [device_id]}),
    ]
    user_admin: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/organizations/users", None),
        (
            "POST",
            "/api/v1/organizations/users",
            {"email": "x@y.co", "password": "a quiet meadow river", "full_name": "X"},
        ),
        ("PATCH", f"/api/v1/organizations/users/{viewer.user_id}", {"full_name": "V"}),
    ]
    reads = [
        "/api/v1/fleet",
        f"/api/v1/fleet/{device_id}",
        "/api/v1/fleet/summary",
        "/api/v1/pipelines",
        f"/api/v1/pipelines/{pipeline_id}/versions",
    ]

    for url in reads:
        assert (await client.get(url, headers=viewer.headers)).status_code == 200, url
    for method, url, body in writes + user_admin:
        r = await client.request(method, url, headers=viewer.headers, json=body)
        assert r.status_code == 403, (method, url, r.text)
    for method, url, body in writes:
        r = await client.request(method, url, headers=operator.headers, json=body)
        assert r.status_code in (200, 201), (method, url, r.text)
    for method, url, body in user_admin:
        r = await client.request(method, url, headers=operator.headers, json=body)
        assert r.status_code == 403, (method, url, r.text)
    for method, url, body in user_admin:
        r = await client.request(method, url, headers=admin.headers, json=body)
        assert r.status_code in (200, 201), (method, url, r.text)


LONG = "x" * 5000


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/v1/fleet", {}, "name"),
        ("POST", "/api/v1/fleet", {"name": 5}, "name"),
        ("POST", "/api/v1/fleet", {"name": LONG}, "name"),
        ("POST", "/api/v1/fleet", {"name": "n", "tags": "not-a-list"}, "tags"),
        ("POST", "/api/v1/fleet", {"name": "n", "tags": ["bad tag!"]}, "tags[0]"),
        ("POST", "/api/v1/fleet/enrollment-tokens", {"max_uses": 0}, "max_uses"),
        ("POST", "/api/v1/fleet/enrollment-tokens", {"expires_in_s": "soon"}, "expires_in_s"),
        ("POST", "/api/v1/fleet/enroll", {"token": "t"}, "hardware"),
        ("POST", "/api/v1/fleet/enroll", {"token": LONG, "hardware": {"hostname": "h"}}, "token"),
        (
            "POST",
            "/api/v1/fleet/enroll",
            {"token": "t", "hardware": {"hostname": 1}},
            "hardware.hostname",
        ),
        ("POST", "/api/v1/pipelines", {"name": "p"}, "spec"),
        ("POST", "/api/v1/pipelines", {"name": LONG, "spec": SPEC}, "name"),
        ("POST", "/api/v1/pipelines", {"name": "p", "spec": []}, "spec"),
        ("POST", "/api/v1/pipelines", {"name": "p", "spec": {"name": "p", "nodes": []}}, "nodes"),
        (
            "POST",
            "/api/v1/organizations/users",
            {"email": "a@b.co", "password": "x" * 12, "full_name": "A", "role": "god"},
            "role",
        ),
        ("POST", "/api/v1/auth/login", {"email": LONG, "password": "p"}, "email"),
        ("POST", "/api/v1/auth/refresh", {}, "refresh_token"),
        ("GET", "/api/v1/fleet?limit=100000", None, "limit"),
        ("GET", "/api/v1/fleet?offset=-1", None, "offset"),
    ],
)
async def test_bad_bodies_name_the_field(
    client: AsyncTestClient[Any], owner: Account, method: str, url: str, body: Any, field: str
) -> None:
    response = await client.request(method, url, headers=owner.headers, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.json()["field"] == field, response.text


async def test_not_json_is_400(client: AsyncTestClient[Any], owner: Account) -> None:
    response = await client.post(
        "/api/v1/fleet",
        headers={**owner.headers, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert response.status_code == 400
