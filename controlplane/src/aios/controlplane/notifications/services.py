"""Webhook CRUD and the delivery log, in the request's org-scoped session.

Generic repository services (Advanced Alchemy); the session's scope restricts every query to
the caller's organization (see :mod:`aios.controlplane.db.scoped_session`).
"""

from __future__ import annotations

import secrets

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService

from aios.controlplane.db.models import Webhook, WebhookDelivery
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.notifications.schemas import WebhookCreate

SECRET_PREFIX = "whsec_"


class WebhookRepository(SQLAlchemyAsyncRepository[Webhook]):
    model_type = Webhook


class WebhookService(SQLAlchemyAsyncRepositoryService[Webhook, WebhookRepository]):
    """Webhooks of the session's organization."""

    repository_type = WebhookRepository

    async def create_webhook(self, org_id: str, data: WebhookCreate) -> Webhook:
        """A new webhook; its secret is the given one or a fresh random one."""
        return await self.create(
            Webhook(
                id=new_identifier(),
                org_id=org_id,
                name=data.name,
                url=data.url,
                secret=data.secret or SECRET_PREFIX + secrets.token_urlsafe(32),
                event_types=list(data.event_types),
                severities=list(data.severities),
                enabled=data.enabled,
            )
        )


class DeliveryRepository(SQLAlchemyAsyncRepository[WebhookDelivery]):
    model_type = WebhookDelivery


class DeliveryService(SQLAlchemyAsyncRepositoryService[WebhookDelivery, DeliveryRepository]):
    """The delivery log of the session's organization."""

    repository_type = DeliveryRepository
