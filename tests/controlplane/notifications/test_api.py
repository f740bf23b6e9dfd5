"""``/api/v1/notifications/webhooks``: CRUD, organization scoping and roles."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.notifications.conftest import create_webhook

BASE = "/api/v1/notifications/webhooks"


async def test_webhook_crud_is_scoped_to_the_organization(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account
) -> None:
    hook_id, secret = await create_webhook(client, owner, ["device_offline"])
    assert secret.startswith("whsec_")

    listed = await client.get(BASE, headers=owner.headers)
    assert [h["id"] for h in listed.json()["items"]] == [hook_id]
    assert "secret" not in listed.json()["items"][0]
    assert (await client.get(BASE, headers=other_owner.headers)).json()["items"] == []
    assert (await client.get(f"{BASE}/{hook_id}", headers=other_owner.headers)).status_code == 404
    assert (
        await client.delete(f"{BASE}/{hook_id}", headers=other_owner.headers)
    ).status_code == 404

    patched = await client.patch(
        f"{BASE}/{hook_id}",
        headers=owner.headers,
        json={"enabled": False, "severities": ["critical"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["enabled"], patched.json()["severities"]) == (False, ["critical"])
    log = await client.get(f"{BASE}/{hook_id}/deliveries", headers=owner.headers)
    assert log.status_code == 200
    assert log.json()["total"] == 0
    assert (await client.delete(f"{BASE}/{hook_id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{BASE}/{hook_id}", headers=owner.headers)).status_code == 404


async def test_bad_urls_are_rejected_and_viewers_cannot_manage_webhooks(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    bad = await client.post(BASE, headers=owner.headers, json={"name": "x", "url": "ftp://nope"})
    assert bad.status_code == 400
    viewer = await add_member(client, owner, "viewer")
    denied = await client.post(
        BASE, headers=viewer.headers, json={"name": "x", "url": "https://example.com/h"}
    )
    assert denied.status_code == 403
    assert (await client.get(BASE)).status_code == 401
