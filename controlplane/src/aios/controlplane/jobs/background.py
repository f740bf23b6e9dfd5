"""The control plane's background work, built from the settings: presence and scheduled jobs.

:class:`BackgroundServices` is what the runtime starts after the ingest and stops before it.
Jobs registered (each run once across replicas, see :mod:`aios.controlplane.jobs.locks`):

======================= ======= ============================================================
``device_health``       1 s     presence sweep (where the ingest or the jobs run; the ingest in
                                the same process tells it at once, any replica's through the
                                database)
``webhook_delivery``    1 s     send due webhook deliveries, with retries
``storage_maintenance`` 1 h     retention cleanup (heartbeat history included) and
                                rollup/partition maintenance: the
                                storage domain's :meth:`Storage.maintain_sync
                                <aios.controlplane.db.storage.backend.Storage.maintain_sync>`
======================= ======= ============================================================

More jobs register with ``background.scheduler.add(Job(...))`` before the start.
"""

from __future__ import annotations

import logging
import socket
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.storage.backend import Storage, StoragePolicy
from aios.controlplane.jobs.locks import JobLocks
from aios.controlplane.jobs.scheduler import Job, JobScheduler
from aios.controlplane.notifications.delivery import WebhookDispatcher
from aios.controlplane.presence.service import PresenceService
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.ingest import IngestService

log = logging.getLogger(__name__)

DEVICE_HEALTH = "device_health"
WEBHOOK_DELIVERY = "webhook_delivery"
STORAGE_MAINTENANCE = "storage_maintenance"
STORAGE_INTERVAL_S = 3600.0


class BackgroundServices:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        *,
        ingest: IngestService | None,
        sweep_interval_s: float = 1.0,
        delivery_interval_s: float = 1.0,
    ) -> None:
        self.enabled = settings.jobs_enabled
        holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.scheduler = JobScheduler(JobLocks(engine, holder))
        self.presence = (
            PresenceService(settings, engine)
            if ingest is not None or settings.jobs_enabled
            else None
        )
        self.dispatcher = WebhookDispatcher(
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            retry_base_s=settings.webhook_retry_base_ms / 1000,
            allowed=settings.webhook_allowed_targets,
        )
        if self.presence is not None:
            if ingest is not None:
                ingest.observers.append(self.presence.observe)
            self.scheduler.add(Job(DEVICE_HEALTH, sweep_interval_s, self._sweep))
        self.scheduler.add(Job(WEBHOOK_DELIVERY, delivery_interval_s, self.dispatcher.deliver_due))
        policy = StoragePolicy(
            heartbeat_retention_days=settings.heartbeat_retention_days,
            heartbeat_rollup_retention_days=settings.heartbeat_rollup_retention_days,
        )
        self.storage = Storage(engine, policy)
        self.scheduler.add(Job(STORAGE_MAINTENANCE, STORAGE_INTERVAL_S, self._maintain_storage))

    async def _maintain_storage(self, conn: AsyncConnection) -> None:
        now = datetime.now(UTC)
        report = await conn.run_sync(lambda sync: self.storage.maintain_sync(sync, now))
        log.info("storage maintenance: %s", report)

    async def _sweep(self, conn: AsyncConnection) -> None:
        assert self.presence is not None
        await self.presence.sweep(conn)

    async def start(self) -> None:
        if self.presence is not None:
            count = await self.presence.load()
            log.info("presence: %d devices loaded", count)
        if self.enabled:
            await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.dispatcher.close()
