"""The presence service: fed by the ingest, swept by the ``device_health`` job.

- :meth:`PresenceService.observe` is the ingest's hook: after each committed flush it hands
  over the flush's heartbeats and status messages, and the tracker updates in memory (O(1) per
  message, no I/O). The ingest itself already writes ``devices.last_seen_at`` and the latest
  heartbeat once per flush (one batched statement, see
  :mod:`aios.controlplane.telemetry.store`), so presence adds no write per heartbeat.
- :meth:`PresenceService.sweep` runs under the job lock (once at a time across replicas). It
  reads the devices another replica heard that are not published online yet (with several ingest
  replicas, or none in this process, a device's first status and heartbeat may never reach this
  tracker: ``devices.last_seen_at`` and ``devices.status``, written by every ingest's flush,
  tell it), confirms new devices' organizations, runs the tracker's due checks, confirms
  heartbeat timeouts against ``devices.last_seen_at`` (with N ingest replicas each sees only
  part of the heartbeats; a device another replica heard from is revived, not declared offline),
  records the changes (``device_presence`` by a conditional upsert, so a change is recorded and
  published once even if two replicas saw it; ``device_status_changes``; ``devices.status``),
  enqueues the ``device_online``/``device_offline`` notifications, and publishes
  ``device_status_update`` to :attr:`PresenceService.publishers`, also when only an online
  device's health changed (``ON`` <-> ``WARNING``, see
  :mod:`~aios.controlplane.presence.health`).

Offline after ``missed_heartbeats * heartbeat_interval_s`` without a heartbeat (defaults 3 x
10 s), or at once on an ``offline`` status (the last will); every change must hold for
``debounce_s`` before it is published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.bulk import update_rows
from aios.controlplane.db.models import Device, DevicePresence, DeviceStatusChange
from aios.controlplane.db.scoped_session import system_connection
from aios.controlplane.db.storage.dialect import conflict_insert
from aios.controlplane.notifications.outbox import enqueue
from aios.controlplane.notifications.schemas import Notification
from aios.controlplane.presence.health import HealthChange, HealthTracker, seed_status
from aios.controlplane.presence.publisher import (
    DeviceStatusUpdate,
    OutboxPublisher,
    StatusUpdatePublisher,
    publish_all,
)
from aios.controlplane.presence.tracker import (
    OFFLINE,
    ONLINE,
    UNKNOWN,
    PresenceChange,
    PresenceTracker,
)
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.records import Accepted
from aios.controlplane.tenancy import PRESENCE
from aios.shared.messages import DeviceStatus, Heartbeat

log = logging.getLogger(__name__)

CHUNK = 500
TIMEOUT_REASON = "heartbeat_timeout"


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def _update(
    org_id: str,
    device_id: str,
    presences: tuple[str, str],
    reason: str,
    at: float,
    warnings: tuple[str, ...],
) -> DeviceStatusUpdate:
    """A ``device_status_update`` (``presences``: before, now)."""
    previous, presence = presences
    return DeviceStatusUpdate(
        org_id=org_id, device_id=device_id, status=seed_status(presence, warnings), timestamp=at,
        presence=presence, previous=previous, reason=reason, changed_at=at,
        warnings=list(warnings),
    )  # fmt: skip


class PresenceService:
    def __init__(
        self, settings: Settings, engine: AsyncEngine, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.timeout_s = float(
            settings.presence_missed_heartbeats * settings.presence_heartbeat_interval_s
        )
        self.cooldown_s = float(settings.webhook_cooldown_s)
        self.tracker = PresenceTracker(
            timeout_s=self.timeout_s, debounce_s=settings.presence_debounce_ms / 1000
        )
        self.health = HealthTracker()
        self.publishers: list[StatusUpdatePublisher] = []
        self.outboxes: list[OutboxPublisher] = []  # written in the sweep's transaction
        self.clock = clock
        self._dialect = engine.dialect.name

    # --- the ingest's hook (hot path) --------------------------------------------------------

    def observe(self, accepted: Sequence[Accepted]) -> None:
        """Heartbeats and statuses of a committed ingest flush (no I/O)."""
        tracker = self.tracker
        for a in accepted:
            message = a.message
            if isinstance(message, Heartbeat):
                at = a.received_at.timestamp()
                tracker.heartbeat(a.org_id, a.device_id, at)
                self.health.observe(a.org_id, a.device_id, message, at)
            elif isinstance(message, DeviceStatus):
                reason = "status_" + message.state
                if message.state == OFFLINE:
                    reason = (message.reason or "last_will")[:64]
                tracker.status(
                    a.org_id, a.device_id, message.state, a.received_at.timestamp(), reason
                )

    # --- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> int:
        """Seed the tracker with every device's recorded presence and last sign of life."""
        async with system_connection(self.engine, PRESENCE) as conn:
            rows = (
                await conn.execute(
                    select(
                        Device.id, Device.org_id, Device.last_seen_at, DevicePresence.state
                    ).outerjoin(DevicePresence, DevicePresence.device_id == Device.id)
                )
            ).all()
        for r in rows:
            self.tracker.seed(r.org_id, r.id, r.state or UNKNOWN, _ts(r.last_seen_at))
        return len(rows)

    # --- the device_health job -----------------------------------------------------------------

    async def sweep(self, conn: AsyncConnection) -> list[DeviceStatusUpdate]:
        """Publish what is due (see the module docstring); the updates published."""
        now = self.clock()
        await self._heard_elsewhere(conn, now)
        await self._verify_new_devices(conn)
        changes = self.tracker.sweep(now)
        if changes:
            changes = await self._confirm_timeouts(conn, changes, now)
        recorded = await self._record(conn, changes) if changes else []
        updates = [self._presence_update(c) for c in recorded]
        updates += [self._health_update(h) for h in self.health.changes() if self._online(h)]
        if not updates:
            return []
        for outbox in self.outboxes:
            await outbox.publish_in(conn, updates)
        await publish_all(self.publishers, updates)
        return updates

    def _presence_update(self, c: PresenceChange) -> DeviceStatusUpdate:
        warnings = self.health.warnings(c.device_id) if c.state == ONLINE else ()
        self.health.announced(c.device_id)
        return _update(c.org_id, c.device_id, (c.previous, c.state), c.reason, c.at, warnings)

    def _online(self, h: HealthChange) -> bool:
        return self.tracker.state_of(h.device_id) == ONLINE

    def _health_update(self, h: HealthChange) -> DeviceStatusUpdate:
        return _update(h.org_id, h.device_id, (ONLINE, ONLINE), "health", h.at, h.warnings)

    async def _heard_elsewhere(self, conn: AsyncConnection, now: float) -> None:
        """Devices an ingest (any replica) heard within the timeout whose recorded presence is
        not online yet: the tracker learns of them as if it had heard them itself. Only
        devices coming online match, so the result stays small whatever the fleet's size."""
        since = datetime.fromtimestamp(now - self.timeout_s, UTC)
        rows = await conn.execute(
            select(Device.id, Device.org_id, Device.last_seen_at)
            .outerjoin(DevicePresence, DevicePresence.device_id == Device.id)
            .where(
                and_(
                    Device.status == ONLINE,
                    Device.last_seen_at >= since,
                    or_(DevicePresence.state.is_(None), DevicePresence.state != ONLINE),
                )
            )
            .limit(CHUNK)
        )
        for r in rows:
            seen = _ts(r.last_seen_at)
            if seen is not None:
                self.tracker.seen(r.org_id, r.id, seen)

    async def _verify_new_devices(self, conn: AsyncConnection) -> None:
        ids = self.tracker.unverified()
        for chunk in _chunks(ids):
            owners = {
                r.id: r.org_id
                for r in await conn.execute(
                    select(Device.id, Device.org_id).where(Device.id.in_(chunk))
                )
            }
            self.tracker.verify(owners, chunk)

    async def _confirm_timeouts(
        self, conn: AsyncConnection, changes: list[PresenceChange], now: float
    ) -> list[PresenceChange]:
        timed_out = [c.device_id for c in changes if c.reason == TIMEOUT_REASON]
        if not timed_out:
            return changes
        alive: set[str] = set()
        for chunk in _chunks(timed_out):
            for r in await conn.execute(
                select(Device.id, Device.last_seen_at).where(Device.id.in_(chunk))
            ):
                seen = _ts(r.last_seen_at)
                if seen is not None and seen + self.timeout_s > now:
                    self.tracker.revive(r.id, seen)
                    alive.add(r.id)
        return [c for c in changes if c.device_id not in alive]

    async def _record(
        self, conn: AsyncConnection, changes: list[PresenceChange]
    ) -> list[PresenceChange]:
        """Record ``changes``; those that changed the recorded state (published once)."""
        changed: set[str] = set()
        for chunk in _chunks(changes):
            existing = {
                r.id
                for r in await conn.execute(
                    select(Device.id).where(Device.id.in_([c.device_id for c in chunk]))
                )
            }
            rows = [
                {
                    "device_id": c.device_id,
                    "org_id": c.org_id,
                    "state": c.state,
                    "since": datetime.fromtimestamp(c.at, UTC),
                }
                for c in chunk
                if c.device_id in existing
            ]
            if not rows:
                continue
            stmt = conflict_insert(self._dialect, DevicePresence).values(rows)
            upsert = stmt.on_conflict_do_update(
                index_elements=[DevicePresence.device_id],
                set_={"state": stmt.excluded.state, "since": stmt.excluded.since},
                where=DevicePresence.state != stmt.excluded.state,
            ).returning(DevicePresence.device_id)
            changed.update(r.device_id for r in await conn.execute(upsert))
        recorded = [c for c in changes if c.device_id in changed]
        if not recorded:
            return []
        await conn.execute(
            insert(DeviceStatusChange),
            [
                {
                    "org_id": c.org_id,
                    "device_id": c.device_id,
                    "previous": c.previous,
                    "state": c.state,
                    "reason": c.reason,
                    "at": datetime.fromtimestamp(c.at, UTC),
                }
                for c in recorded
            ],
        )
        await update_rows(
            conn, Device, ["id"], [{"id": c.device_id, "status": c.state} for c in recorded]
        )
        await enqueue(
            conn,
            [
                Notification(
                    org_id=c.org_id,
                    event_type=f"device_{c.state}",
                    severity="warning" if c.state == OFFLINE else "info",
                    subject=c.device_id,
                    data={"device_id": c.device_id, "previous": c.previous, "reason": c.reason},
                    created_at=datetime.fromtimestamp(c.at, UTC),
                )
                for c in recorded
                if c.previous != UNKNOWN
            ],
            cooldown_s=self.cooldown_s,
        )
        return recorded
