"""Turning notifications into delivery rows, inside the producer's transaction.

:func:`enqueue` finds the enabled webhooks of each notification's organization whose filters
match (``event_types`` and ``severities``; an empty list matches everything) and writes one
``webhook_deliveries`` row per match: ``pending`` (due now), or ``suppressed`` when the same
webhook already got the same event type about the same subject within the cooldown (the row
still appears in the delivery log, so a suppressed notification is visible, not lost silently).
Being in the producer's transaction, a notification exists exactly when its cause was committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.models import Webhook, WebhookDelivery
from aios.controlplane.notifications.schemas import Notification

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
SUPPRESSED = "suppressed"


def body_of(notification: Notification, notification_id: str) -> dict[str, Any]:
    """The JSON document POSTed to the webhook (signed as sent)."""
    return {
        "id": notification_id,
        "type": notification.event_type,
        "severity": notification.severity,
        "org_id": notification.org_id,
        "subject": notification.subject,
        "created_at": notification.created_at.isoformat(),
        "data": msgspec.to_builtins(notification.data),
    }


def _matches(hook: Any, notification: Notification) -> bool:
    types = hook.event_types or []
    severities = hook.severities or []
    return (not types or notification.event_type in types) and (
        not severities or notification.severity in severities
    )


async def enqueue(
    conn: AsyncConnection, notifications: Sequence[Notification], *, cooldown_s: float
) -> int:
    """Write the deliveries of ``notifications``; how many are pending (not suppressed)."""
    if not notifications:
        return 0
    orgs = {n.org_id for n in notifications}
    hooks = (
        await conn.execute(
            select(Webhook.id, Webhook.org_id, Webhook.event_types, Webhook.severities).where(
                Webhook.org_id.in_(orgs), Webhook.enabled.is_(True)
            )
        )
    ).all()
    if not hooks:
        return 0
    earliest = min(n.created_at for n in notifications) - timedelta(seconds=cooldown_s)
    recent: dict[tuple[str, str], datetime] = {
        (r.webhook_id, r.cooldown_key): r.last
        for r in await conn.execute(
            select(
                WebhookDelivery.webhook_id,
                WebhookDelivery.cooldown_key,
                func.max(WebhookDelivery.created_at).label("last"),
            )
            .where(
                WebhookDelivery.webhook_id.in_([h.id for h in hooks]),
                WebhookDelivery.status != SUPPRESSED,
                WebhookDelivery.created_at >= earliest,
            )
            .group_by(WebhookDelivery.webhook_id, WebhookDelivery.cooldown_key)
        )
    }
    rows: list[dict[str, Any]] = []
    pending = 0
    for notification in sorted(notifications, key=lambda n: n.created_at):
        notification_id = uuid.uuid4().hex
        key = f"{notification.event_type}:{notification.subject}"[:200]
        for hook in hooks:
            if hook.org_id != notification.org_id or not _matches(hook, notification):
                continue
            last = recent.get((hook.id, key))
            cooling = (
                last is not None
                and (notification.created_at - _aware(last)).total_seconds() < cooldown_s
            )
            status = SUPPRESSED if cooling else PENDING
            if not cooling:
                recent[(hook.id, key)] = notification.created_at
                pending += 1
            rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "org_id": notification.org_id,
                    "webhook_id": hook.id,
                    "event_type": notification.event_type,
                    "severity": notification.severity,
                    "cooldown_key": key,
                    "payload": body_of(notification, notification_id),
                    "status": status,
                    "attempts": 0,
                    "next_attempt_at": notification.created_at if not cooling else None,
                    "created_at": notification.created_at,
                    "updated_at": notification.created_at,
                }
            )
    if rows:
        await conn.execute(insert(WebhookDelivery), rows)
    return pending


def _aware(value: datetime) -> datetime:
    """An aggregate (``max``) over a UTC column comes back naive from SQLite."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
