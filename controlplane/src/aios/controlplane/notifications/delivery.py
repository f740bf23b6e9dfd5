"""Sending webhook deliveries: signed POSTs with retries and exponential backoff.

Each request carries the JSON body plus:

- ``X-AIOS-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the webhook's
  secret (verify with :func:`verify_signature`, in constant time);
- ``X-AIOS-Timestamp``: Unix seconds of this attempt (receivers may reject stale requests);
- ``X-AIOS-Event`` and ``X-AIOS-Delivery``: the event type and the delivery id (the id is
  stable across retries, so a receiver can drop a repeat).

A 2xx answer delivers; anything else (an error status, a redirect, which is never followed, a
timeout, a refused connection, a destination the egress policy refuses) is retried
``retry_base_s * 2**(attempt-1)`` later, until ``max_attempts``; then the delivery is
``failed``. Every attempt updates the delivery row, which is the log. The log says only
``HTTP <status>`` when the receiver answered, :data:`REFUSED` when the policy stopped the
request (:mod:`aios.controlplane.notifications.egress`), and :data:`UNDELIVERED` for every
other failure (no name, refused, reset, timed out): it must not tell a closed port from an
open one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.bulk import update_rows
from aios.controlplane.db.models import Webhook, WebhookDelivery
from aios.controlplane.notifications.egress import (
    DestinationRefusedError,
    EgressPolicy,
    Resolver,
    resolve,
)
from aios.controlplane.notifications.outbox import DELIVERED, FAILED, PENDING
from aios.shared.backoff import exponential_delay

SIGNATURE_HEADER = "X-AIOS-Signature"
TIMESTAMP_HEADER = "X-AIOS-Timestamp"
EVENT_HEADER = "X-AIOS-Event"
DELIVERY_HEADER = "X-AIOS-Delivery"
REFUSED = "destination not allowed"
UNDELIVERED = "could not deliver"


def sign(secret: str, body: bytes) -> str:
    """The ``X-AIOS-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header)


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery_id: str
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDispatcher:
    """Sends the due deliveries; owns one pooled HTTP client (closed by :meth:`close`)."""

    def __init__(
        self,
        *,
        timeout_s: float,
        max_attempts: int,
        retry_base_s: float,
        batch_size: int = 100,
        allowed: Sequence[str] = (),
        resolve: Resolver = resolve,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """``allowed`` is the operator's allow-list (``AIOS_WEBHOOK_ALLOWED_TARGETS``);
        ``resolve`` the name resolver (the system's)."""
        self.policy = EgressPolicy(allowed)
        self._resolve = resolve
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.batch_size = batch_size
        self._client = client or httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": "aios-webhooks/1"}
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def deliver_due(self, conn: AsyncConnection) -> int:
        """Attempt every delivery due now (up to ``batch_size``); how many were attempted."""
        now = datetime.now(UTC)
        rows = (
            await conn.execute(
                select(
                    WebhookDelivery.id,
                    WebhookDelivery.event_type,
                    WebhookDelivery.payload,
                    WebhookDelivery.attempts,
                    Webhook.url,
                    Webhook.secret,
                    Webhook.enabled,
                )
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(self.batch_size)
            )
        ).all()
        if not rows:
            return 0
        attempts = await asyncio.gather(*(self._send(r) for r in rows))
        done = datetime.now(UTC)
        params: list[dict[str, Any]] = []
        for row, attempt in zip(rows, attempts, strict=True):
            count = row.attempts + 1
            if attempt.ok:
                status, next_at, delivered = DELIVERED, None, done
            elif count >= self.max_attempts or not row.enabled:
                status, next_at, delivered = FAILED, None, None
            else:
                delay = exponential_delay(count - 1, initial=self.retry_base_s)
                status, next_at, delivered = PENDING, done + timedelta(seconds=delay), None
            params.append(
                {
                    "id": row.id,
                    "status": status,
                    "attempts": count,
                    "next_attempt_at": next_at,
                    "last_status_code": attempt.status_code,
                    "last_error": attempt.error,
                    "delivered_at": delivered,
                    "updated_at": done,
                }
            )
        await update_rows(conn, WebhookDelivery, ["id"], params)
        return len(rows)

    async def _send(self, row: Any) -> _Attempt:
        if not row.enabled:
            return _Attempt(row.id, None, "webhook disabled")
        body = msgspec.json.encode(row.payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(row.secret, body),
            TIMESTAMP_HEADER: str(int(time.time())),
            EVENT_HEADER: row.event_type,
            DELIVERY_HEADER: row.id,
        }
        try:
            target = await self.policy.pin(row.url, self._resolve)
        except DestinationRefusedError:
            return _Attempt(row.id, None, REFUSED)
        except OSError:  # the name does not resolve: said like any other failure
            return _Attempt(row.id, None, UNDELIVERED)
        headers["Host"] = target.host_header
        try:
            response = await self._client.post(
                target.url, content=body, headers=headers, extensions=target.extensions
            )
        except httpx.HTTPError:  # the HTTP boundary: every transport error is a retry
            return _Attempt(row.id, None, UNDELIVERED)
        error = None if response.is_success else f"HTTP {response.status_code}"
        return _Attempt(row.id, response.status_code, error)
