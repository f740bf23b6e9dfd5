"""``GET /health``: database reachability, MQTT connection, ingest counters."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aios.controlplane.runtime import Runtime


class MqttHealth(msgspec.Struct, frozen=True, kw_only=True):
    broker: Literal["embedded", "external"]
    embedded_running: bool
    ingest: Literal["connected", "disconnected", "disabled"]


class IngestHealth(msgspec.Struct, frozen=True, kw_only=True):
    received: int
    batches_stored: int
    duplicates: int
    detections_stored: int
    heartbeats: int
    write_errors: int
    queue_depth: int
    dropped_qos0: int
    dead_letters: dict[str, int]
    last_error: str | None


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    mqtt: MqttHealth
    ingest: IngestHealth | None


class HealthController(Controller):
    path = "/health"
    tags = ["system"]

    @get("/", summary="Liveness and readiness: database, MQTT, ingest")
    async def health(self, runtime: NamedDependency[Runtime]) -> Response[Health]:
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            database: Literal["ok", "unreachable"] = "ok"
        except (SQLAlchemyError, OSError):
            database = "unreachable"
        ingest = runtime.ingest
        state: Literal["connected", "disconnected", "disabled"] = (
            "disabled"
            if ingest is None
            else "connected"
            if ingest.mqtt_connected
            else "disconnected"
        )
        health = Health(
            status="ok" if database == "ok" and state != "disconnected" else "degraded",
            database=database,
            mqtt=MqttHealth(
                broker="embedded" if runtime.settings.embedded_broker else "external",
                embedded_running=runtime.broker is not None and runtime.broker.running,
                ingest=state,
            ),
            ingest=None
            if ingest is None
            else IngestHealth(
                received=ingest.stats.received,
                batches_stored=ingest.stats.batches_stored,
                duplicates=ingest.stats.duplicates,
                detections_stored=ingest.stats.detections_stored,
                heartbeats=ingest.stats.heartbeats,
                write_errors=ingest.stats.write_errors,
                queue_depth=ingest.queue.qsize(),
                dropped_qos0=ingest.subscriber.dropped_qos0,
                dead_letters=dict(ingest.stats.dead_letters),
                last_error=ingest.stats.last_error,
            ),
        )
        code = HTTP_200_OK if database == "ok" else HTTP_503_SERVICE_UNAVAILABLE
        return Response(health, status_code=code)


ROUTES = [HealthController]
