"""Cross-tenant matrix: every id-taking endpoint, called with another organization's ids,
answers 404 exactly like a missing id; lists and filters never show the other's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aios.controlplane.db.models import Detection, Device, User
from aios.controlplane.db.scoped_session import ScopedSession, TenantScopeError, session_info
from aios.controlplane.tenancy import OrgScope
from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.api.test_fleet import create_device
from tests.controlplane.api.test_pipelines import SPEC, create_pipeline

MISSING = "0" * 32


@dataclass
class Tenant:
    owner: Account
    member_id: str
    device_id: str
    token_id: str
    pipeline_id: str
    deployment_id: str


async def populate(client: AsyncTestClient[Any], owner: Account, tag: str) -> Tenant:
    member = await add_member(client, owner, "viewer")
    device_id = await create_device(client, owner, f"cam-{tag}", [tag])
    token = await client.post(
        "/api/v1/fleet/enrollment-tokens", headers=owner.headers, json={"name": tag}
    )
    pipeline_id = await create_pipeline(client, owner)
    deployment = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute",
        headers=owner.headers,
        json={"device_ids": [device_id]},
    )
    assert deployment.status_code == 201, deployment.text
    return Tenant(
        owner=owner,
        member_id=member.user_id,
        device_id=device_id,
        token_id=token.json()["enrollment_token"]["id"],
        pipeline_id=pipeline_id,
        deployment_id=deployment.json()["id"],
    )


def requests_for(t: Tenant) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every endpoint that takes an id, with a valid body, aimed at tenant ``t``'s ids."""
    p = f"/api/v1/pipelines/{t.pipeline_id}"
    return [
        ("GET", f"/api/v1/organizations/users/{t.member_id}", None),
        ("PATCH", f"/api/v1/organizations/users/{t.member_id}", {"full_name": "Mallory"}),
        ("DELETE", f"/api/v1/organizations/users/{t.member_id}", None),
        ("GET", f"/api/v1/fleet/{t.device_id}", None),
        ("PATCH", f"/api/v1/fleet/{t.device_id}", {"name": "pwned"}),
        ("PUT", f"/api/v1/fleet/{t.device_id}/status", {"status": "offline"}),
        ("DELETE", f"/api/v1/fleet/{t.device_id}", None),
        ("DELETE", f"/api/v1/fleet/enrollment-tokens/{t.token_id}", None),
        ("GET", p, None),
        ("PATCH", p, {"name": "pwned"}),
        ("GET", f"{p}/versions", None),
        ("GET", f"{p}/versions/1", None),
        ("GET", f"{p}/diff?from=1&to=1", None),
        ("POST", f"{p}/validate", {}),
        ("POST", f"{p}/execute", {"tags": ["x"]}),
        ("GET", f"{p}/deployments", None),
        ("GET", f"{p}/deployments/{t.deployment_id}", None),
        ("DELETE", p, None),
    ]


async def test_other_orgs_ids_answer_404_like_missing_ones(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account
) -> None:
    a = await populate(client, owner, "a")
    b = await populate(client, other_owner, "b")
    missing = Tenant(owner, MISSING, MISSING, MISSING, MISSING, MISSING)
    for (method, url, body), (_, missing_url, _) in zip(
        requests_for(a), requests_for(missing), strict=True
    ):
        crossed = await client.request(method, url, headers=b.owner.headers, json=body)
        absent = await client.request(method, missing_url, headers=b.owner.headers, json=body)
        assert crossed.status_code == 404, (method, url, crossed.text)
        assert absent.status_code == 404, (method, missing_url, absent.text)
        assert crossed.json().keys() == absent.json().keys()
    # Nothing of A's was touched: A still sees all of it.
    for method, url, _ in requests_for(a):
        if method == "GET":
            assert (await client.get(url, headers=a.owner.headers)).status_code == 200, url
    device = (await client.get(f"/api/v1/fleet/{a.device_id}", headers=a.owner.headers)).json()
    assert device["name"] == "cam-a"


async def test_deploying_to_another_orgs_device_is_404(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account
) -> None:
    a = await populate(client, owner, "a")
    b_pipeline = await create_pipeline(client, other_owner)
    r = await client.post(
        f"/api/v1/pipelines/{b_pipeline}/execute",
        headers=other_owner.headers,
        json={"device_ids": [a.device_id]},
    )
    assert r.status_code == 404
    by_tag = await client.post(
        f"/api/v1/pipelines/{b_pipeline}/execute", headers=other_owner.headers, json={"tags": ["a"]}
    )
    assert by_tag.status_code == 400  # A's tag matches none of B's devices


async def test_lists_filters_and_summaries_do_not_leak(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    a = await populate(client, owner, "a")
    b = await populate(client, other_owner, "b")
    async with engine.begin() as conn:
        await conn.execute(
            insert(Detection).values(
                device_id=a.device_id,
                seq=1,
                idx=0,
                ts=datetime.now(UTC),
                org_id=owner.org_id,
                stream_id="s",
                frame_index=0,
                class_id=0,
                label="person",
                confidence=0.9,
                x1=0.1,
                y1=0.1,
                x2=0.2,
                y2=0.2,
            )
        )
    h = b.owner.headers
    for url, field in [
        ("/api/v1/organizations/users", "items"),
        ("/api/v1/fleet", "items"),
        ("/api/v1/fleet/enrollment-tokens", "items"),
        ("/api/v1/pipelines", "items"),
    ]:
        body = (await client.get(url, headers=h)).json()
        ids = {item["id"] for item in body[field]}
        assert not ids & {a.member_id, owner.user_id, a.device_id, a.token_id, a.pipeline_id}, url
        assert body["total"] == len(body[field])
    assert (await client.get("/api/v1/fleet", headers=h, params={"tag": "a"})).json()["total"] == 0
    assert (await client.get("/api/v1/fleet", headers=h, params={"search": "cam-a"})).json()[
        "total"
    ] == 0
    assert (await client.get("/api/v1/fleet/summary", headers=h)).json()["total"] == 1
    assert [t["tag"] for t in (await client.get("/api/v1/fleet/tags", headers=h)).json()] == ["b"]
    me = (await client.get("/api/v1/auth/me", headers=h)).json()
    assert me["organization"]["id"] == other_owner.org_id

    theirs = (await client.get("/api/v1/dashboard/detections", headers=h)).json()
    assert theirs["items"] == []
    filtered = await client.get(
        "/api/v1/dashboard/detections", headers=h, params={"device_id": a.device_id}
    )
    assert filtered.json()["items"] == []
    mine = (await client.get("/api/v1/dashboard/detections", headers=owner.headers)).json()
    assert [d["device_id"] for d in mine["items"]] == [a.device_id]


async def test_scoped_session_fails_closed_and_refuses_foreign_writes(
    engine: AsyncEngine, owner: Account, other_owner: Account
) -> None:
    async with AsyncSession(engine, sync_session_class=ScopedSession) as unscoped:
        with pytest.raises(TenantScopeError):
            await unscoped.scalars(select(User))
    async with AsyncSession(
        engine, sync_session_class=ScopedSession, info=session_info(OrgScope.single(owner.org_id))
    ) as scoped:
        users = (await scoped.scalars(select(User))).all()
        assert {u.org_id for u in users} == {owner.org_id}
        scoped.add(Device(id="intruder", org_id=other_owner.org_id, name="x"))
        with pytest.raises(TenantScopeError):
            await scoped.flush()


async def test_spec_fixture_is_valid() -> None:
    from aios.shared.pipeline import decode_pipeline

    assert decode_pipeline(SPEC).name == "people"
