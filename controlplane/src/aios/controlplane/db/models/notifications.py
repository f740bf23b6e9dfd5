"""Webhooks of an organization and the log of their deliveries.

A :class:`Webhook` receives the organization's notifications that pass its filters
(``event_types`` and ``severities``; empty means every one). Each notification becomes one
:class:`WebhookDelivery` row per matching webhook: ``pending`` until delivered (``delivered``),
given up after the last retry (``failed``), or ``suppressed`` by the per-webhook, per-event-type
cooldown. The row is the delivery log: attempts, last HTTP status, last error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import AuditBase, JSONDocument
from aios.controlplane.db.models.organizations import new_identifier


class Webhook(AuditBase):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    severities: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)


class WebhookDelivery(AuditBase):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_cooldown", "webhook_id", "cooldown_key", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    webhook_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    cooldown_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
