"""``POST /api/v1/notifications/webhooks/{id}/test``: a test delivery lands in the delivery log
as an ordinary pending delivery (the dispatcher sends it); admins only, scoped to the org."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.notifications.conftest import create_webhook

BASE = "/api/v1/notifications/webhooks"


async def test_a_test_delivery_is_queued_and_logged(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account
) -> None:
    hook_id, _ = await create_webhook(client, owner, ["intrusion"])
    operator = await add_member(client, owner, "operator")
    assert (
        await client.post(f"{BASE}/{hook_id}/test", headers=operator.headers)
    ).status_code == 403
    assert (
        await client.post(f"{BASE}/{hook_id}/test", headers=other_owner.headers)
    ).status_code == 404

    queued = await client.post(f"{BASE}/{hook_id}/test", headers=owner.headers)
    assert queued.status_code == 201, queued.text
    delivery = queued.json()
    assert (delivery["webhook_id"], delivery["event_type"], delivery["status"]) == (
        hook_id, "webhook_test", "pending"
    )  # fmt: skip
    again = await client.post(f"{BASE}/{hook_id}/test", headers=owner.headers)
    assert again.json()["status"] == "pending"  # a second test is not suppressed as a repeat
    log = (await client.get(f"{BASE}/{hook_id}/deliveries", headers=owner.headers)).json()
    assert {d["id"] for d in log["items"]} == {delivery["id"], again.json()["id"]}
