"""The long-lived components one control-plane process owns, built by the composition root.

:class:`Runtime` starts them in order (embedded broker, then ingest) and stops them in reverse.
It is created by :func:`aios.controlplane.app.create_app` (and by ``aios ingest``) from the
settings, and reaches handlers through the ``runtime`` dependency, never as a global.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.jobs.background import BackgroundServices
from aios.controlplane.mqtt.embedded import EmbeddedBroker
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.ingest import IngestService

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, engine: AsyncEngine, *, ingest: bool) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = (
            EmbeddedBroker(settings.embedded_mqtt_host, settings.embedded_mqtt_port)
            if settings.embedded_broker
            else None
        )
        self.ingest = IngestService(settings, engine) if ingest else None
        self.background = BackgroundServices(settings, engine, ingest=self.ingest)

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.start()
        try:
            await self.background.start()
            if self.ingest is not None:
                await self.ingest.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.background.stop()
        if self.ingest is not None:
            await self.ingest.stop()
        if self.broker is not None:
            await self.broker.stop()
