"""Shapes of the notifications domain: what a producer hands over, and the REST bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from aios.shared.fields import Severity

EventType = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_.]{0,63}$(?!\n)")]
# No space or control character (spelled out: ``\s`` differs between Python and JSON Schema).
WebhookUrl = Annotated[
    str, Meta(min_length=8, max_length=2000, pattern=r"^https?://[^\x00-\x20\x7f]+$(?!\n)")
]
WebhookSecret = Annotated[str, Meta(min_length=16, max_length=200)]
EventTypes = Annotated[list[EventType], Meta(max_length=64)]
Severities = Annotated[list[Severity], Meta(max_length=3)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """Something an organization may want to hear about.

    ``subject`` is what the notification is about (a device id, a rule id): the cooldown is
    per webhook, event type and subject, so that one flapping device or rule cannot flood a
    webhook while the others still get through.
    """

    org_id: str
    event_type: str
    severity: Severity
    subject: str
    data: dict[str, Any]
    created_at: datetime


class WebhookCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    url: WebhookUrl
    secret: WebhookSecret | None = None
    event_types: EventTypes = []
    severities: Severities = []
    enabled: bool = True


class WebhookUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    url: WebhookUrl | None = None
    secret: WebhookSecret | None = None
    event_types: EventTypes | None = None
    severities: Severities | None = None
    enabled: bool | None = None


class WebhookOut(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook as listed: its secret is never shown again after creation."""

    id: str
    name: str
    url: str
    event_types: list[str]
    severities: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(msgspec.Struct, frozen=True, kw_only=True):
    webhook: WebhookOut
    secret: str


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    webhook_id: str
    event_type: str
    severity: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
