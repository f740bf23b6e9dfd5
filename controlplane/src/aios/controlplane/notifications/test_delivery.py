"""``POST /api/v1/notifications/webhooks/{webhook_id}/test``: queue a test delivery.

The delivery is an ordinary ``pending`` row (event type ``webhook_test``, severity ``info``),
so the dispatcher sends it like any other (signed, retried, with the same URL rules) and its
outcome shows in the webhook's delivery log. Admins only, like changing webhooks.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_ADMIN
from aios.controlplane.db.models import Webhook, WebhookDelivery
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.errors import NotFoundError
from aios.controlplane.notifications.outbox import PENDING, body_of
from aios.controlplane.notifications.schemas import DeliveryOut, Notification
from aios.controlplane.tenancy import OrgScope

TEST_EVENT = "webhook_test"


class TestDeliveryController(Controller):
    path = "/api/v1/notifications/webhooks"
    tags = ["notifications"]

    @post(
        "/{webhook_id:str}/test",
        guards=[CAN_ADMIN],
        summary="Queue a test delivery (shown in the delivery log)",
    )
    async def test_delivery(
        self,
        webhook_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        org_scope: NamedDependency[OrgScope],
    ) -> DeliveryOut:
        hook = await bind_scope(db_session, org_scope).scalar(
            select(Webhook).where(Webhook.id == webhook_id)
        )
        if hook is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found")
        now = datetime.now(UTC)
        notification = Notification(
            org_id=hook.org_id,
            event_type=TEST_EVENT,
            severity="info",
            subject=hook.id,
            data={"message": f"a test delivery to webhook {hook.name!r}"},
            created_at=now,
        )
        row = WebhookDelivery(
            id=uuid.uuid4().hex,
            org_id=hook.org_id,
            webhook_id=hook.id,
            event_type=TEST_EVENT,
            severity="info",
            cooldown_key=f"test:{uuid.uuid4().hex}",  # never suppressed by an earlier test
            payload=body_of(notification, uuid.uuid4().hex),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        db_session.add(row)
        await db_session.flush()
        return msgspec.convert(row, DeliveryOut, from_attributes=True)


ROUTES = [TestDeliveryController]
