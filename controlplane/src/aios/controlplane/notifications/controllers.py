"""HTTP handlers of the notifications domain: ``/api/v1/notifications/webhooks``.

Reading needs the operator role, changing webhooks the admin role; everything is scoped to the
caller's organization by the ``org_scope`` dependency.
"""

from __future__ import annotations

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from aios.controlplane.accounts.auth import CAN_ADMIN, CAN_OPERATE, Caller
from aios.controlplane.db.models import Webhook, WebhookDelivery
from aios.controlplane.errors import InvalidRequestError
from aios.controlplane.notifications.egress import DestinationRefusedError, EgressPolicy
from aios.controlplane.notifications.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from aios.controlplane.notifications.services import DeliveryService, WebhookService
from aios.controlplane.pagination import PAGE_DEPENDENCY, to_page
from aios.controlplane.scoped_services import scoped_service
from aios.controlplane.settings import Settings


def _check_destination(settings: Settings, url: str | None) -> None:
    """Refuse an address literal the egress policy refuses now (names: at delivery)."""
    if url is None:
        return
    try:
        EgressPolicy(settings.webhook_allowed_targets).check_url(url)
    except DestinationRefusedError as exc:
        raise InvalidRequestError(str(exc), field="url") from None


def _out(row: Webhook) -> WebhookOut:
    return msgspec.convert(row, WebhookOut, from_attributes=True)


class WebhookController(Controller):
    path = "/api/v1/notifications/webhooks"
    tags = ["notifications"]
    guards = [CAN_OPERATE]
    dependencies = {
        **PAGE_DEPENDENCY,
        "webhook_service": scoped_service(WebhookService),
        "delivery_service": scoped_service(DeliveryService),
    }

    @get("/", summary="Webhooks of the organization")
    async def list_webhooks(
        self, webhook_service: NamedDependency[WebhookService], page: NamedDependency[LimitOffset]
    ) -> OffsetPagination[WebhookOut]:
        rows, total = await webhook_service.get_many_and_count(
            page, order_by=[("created_at", False), ("id", False)]
        )
        return to_page(rows, total, page, WebhookOut)

    @post("/", guards=[CAN_ADMIN], summary="Add a webhook (its secret is shown once)")
    async def create_webhook(
        self,
        data: JSONBody[WebhookCreate],
        caller: NamedDependency[Caller],
        webhook_service: NamedDependency[WebhookService],
        settings: NamedDependency[Settings],
    ) -> WebhookCreated:
        _check_destination(settings, data.url)
        row = await webhook_service.create_webhook(caller.org_id, data)
        return WebhookCreated(webhook=_out(row), secret=row.secret)

    @get("/{webhook_id:str}")
    async def get_webhook(
        self, webhook_id: FromPath[str], webhook_service: NamedDependency[WebhookService]
    ) -> WebhookOut:
        return _out(await webhook_service.get(webhook_id))

    @patch("/{webhook_id:str}", guards=[CAN_ADMIN])
    async def update_webhook(
        self,
        webhook_id: FromPath[str],
        data: JSONBody[WebhookUpdate],
        webhook_service: NamedDependency[WebhookService],
        settings: NamedDependency[Settings],
    ) -> WebhookOut:
        _check_destination(settings, data.url)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        await webhook_service.get(webhook_id)
        return _out(await webhook_service.update(changes, item_id=webhook_id))

    @delete("/{webhook_id:str}", guards=[CAN_ADMIN], status_code=HTTP_204_NO_CONTENT)
    async def delete_webhook(
        self, webhook_id: FromPath[str], webhook_service: NamedDependency[WebhookService]
    ) -> None:
        await webhook_service.delete(webhook_id)

    @get("/{webhook_id:str}/deliveries", summary="Delivery log of a webhook, newest first")
    async def list_deliveries(
        self,
        webhook_id: FromPath[str],
        webhook_service: NamedDependency[WebhookService],
        delivery_service: NamedDependency[DeliveryService],
        page: NamedDependency[LimitOffset],
    ) -> OffsetPagination[DeliveryOut]:
        await webhook_service.get(webhook_id)
        rows, total = await delivery_service.get_many_and_count(
            page,
            WebhookDelivery.webhook_id == webhook_id,
            order_by=[("created_at", True), ("id", True)],
        )
        return to_page(rows, total, page, DeliveryOut)


ROUTES = [WebhookController]
