"""The API fixtures (the real app on each backend, signed-up tenants) for the webhook API."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.controlplane.api.conftest import (
    Account,
    add_member,
    api_settings,
    client,
    other_owner,
    owner,
)

__all__ = ["add_member", "api_settings", "client", "create_webhook", "other_owner", "owner"]

BASE = "/api/v1/notifications/webhooks"


async def create_webhook(
    client: AsyncTestClient[Any], owner: Account, event_types: list[str]
) -> tuple[str, str]:
    """A webhook named ``ops`` to an outside receiver: its id and its secret (shown once)."""
    created = await client.post(
        BASE,
        headers=owner.headers,
        json={"name": "ops", "url": "https://hooks.example.com/x", "event_types": event_types},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["webhook"]["id"]), str(created.json()["secret"])
