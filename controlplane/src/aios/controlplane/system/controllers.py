"""Health: a public status for load balancers, and the details behind authentication.

- ``GET /health`` (public): ``status`` (``ok``, ``degraded`` or ``failing``) and, when not
  ``ok``, a short ``reason``; nothing about tenants, counters or errors. HTTP 503 when the
  database is unreachable or the ingest is failing (its task dead, or no commit for
  ``AIOS_INGEST_STALL_AFTER_S`` while messages wait); ``degraded`` (200) while the ingest's MQTT
  connection is down (it reconnects by itself).
- ``GET /api/v1/system/diagnostics`` (an administrator): the same plus the MQTT state and the
  ingest's counters (received, stored, duplicates, dead letters by reason, restarts, refused
  messages, write errors, queue depth). Its ``last_error`` is the database's reason only, never
  SQL text nor parameter values (see :mod:`aios.controlplane.db.storage.failures`).
"""

from __future__ import annotations

import time
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text

from aios.controlplane.accounts.auth import CAN_ADMIN
from aios.controlplane.db.scoped_session import system_connection
from aios.controlplane.runtime import Runtime
from aios.controlplane.tenancy import HEALTH

Status = Literal["ok", "degraded", "failing"]


class PublicHealth(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    status: Status
    reason: str | None = None


class MqttHealth(msgspec.Struct, frozen=True, kw_only=True):
    broker: Literal["embedded", "external"]
    embedded_running: bool
    ingest: Literal["connected", "disconnected", "disabled"]


class IngestHealth(msgspec.Struct, frozen=True, kw_only=True):
    running: bool
    received: int
    batches_stored: int
    duplicates: int
    detections_stored: int
    heartbeats: int
    write_errors: int
    refused: int
    restarts: int
    last_failure: str | None
    seconds_since_commit: float | None
    queue_depth: int
    dropped_qos0: int
    dead_letters: dict[str, int]
    last_error: str | None


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    reason: str | None
    database: Literal["ok", "unreachable"]
    mqtt: MqttHealth
    ingest: IngestHealth | None


async def assess(runtime: Runtime) -> Health:
    """The health of this process (the details; :class:`PublicHealth` shows two fields)."""
    try:
        async with system_connection(runtime.engine, HEALTH) as conn:
            await conn.execute(text("SELECT 1"))
        database: Literal["ok", "unreachable"] = "ok"
    except Exception:  # unreachable, whatever the driver raised: never its text here
        database = "unreachable"
    ingest = runtime.ingest
    state: Literal["connected", "disconnected", "disabled"] = (
        "disabled" if ingest is None else "connected" if ingest.mqtt_connected else "disconnected"
    )
    now = time.time()
    failing = None if ingest is None else ingest.failing(now)
    status: Status = "ok"
    reason: str | None = None
    if database != "ok":
        status, reason = "failing", "database unreachable"
    elif failing is not None:
        status, reason = "failing", failing
    elif state == "disconnected":
        status, reason = "degraded", "ingest disconnected from the MQTT broker"
    details = None
    if ingest is not None:
        stats = ingest.stats
        details = IngestHealth(
            running=ingest.running,
            received=stats.received,
            batches_stored=stats.batches_stored,
            duplicates=stats.duplicates,
            detections_stored=stats.detections_stored,
            heartbeats=stats.heartbeats,
            write_errors=stats.write_errors,
            refused=stats.refused,
            restarts=stats.restarts,
            last_failure=stats.last_failure,
            seconds_since_commit=None
            if stats.last_commit_at is None
            else round(now - stats.last_commit_at, 3),
            queue_depth=ingest.queue.qsize(),
            dropped_qos0=ingest.subscriber.dropped_qos0,
            dead_letters=dict(stats.dead_letters),
            last_error=stats.last_error,
        )
    return Health(
        status=status,
        reason=reason,
        database=database,
        mqtt=MqttHealth(
            broker="embedded" if runtime.settings.embedded_broker else "external",
            embedded_running=runtime.broker is not None and runtime.broker.running,
            ingest=state,
        ),
        ingest=details,
    )


def _code(health: Health) -> int:
    return HTTP_503_SERVICE_UNAVAILABLE if health.status == "failing" else HTTP_200_OK


class HealthController(Controller):
    path = "/health"
    tags = ["system"]

    @get("/", summary="Liveness and readiness (public): status only")
    async def health(self, runtime: NamedDependency[Runtime]) -> Response[PublicHealth]:
        health = await assess(runtime)
        return Response(
            PublicHealth(status=health.status, reason=health.reason), status_code=_code(health)
        )


class HealthDetailsController(Controller):
    path = "/api/v1/system/diagnostics"
    tags = ["system"]
    guards = [CAN_ADMIN]

    @get("/", summary="Health with the ingest's counters (administrators)")
    async def details(self, runtime: NamedDependency[Runtime]) -> Response[Health]:
        health = await assess(runtime)
        return Response(health, status_code=_code(health))


ROUTES = [HealthController, HealthDetailsController]
