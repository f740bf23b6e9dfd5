"""Prometheus metrics of one control-plane process: ``GET /metrics``.

Every application has its own :class:`~prometheus_client.CollectorRegistry` (never the global
one: tests build many applications in one process, and two replicas in one process must not
add up each other's numbers). What the process already counts is read at scrape time by
:class:`RuntimeCollector` (the ingest's counters, its queue, the MQTT state, the WebSocket
clients), so the hot path pays nothing for it; only the flush timings and HTTP requests are
observed as they happen. Device presence is counted in the database when scraped (one grouped
query), so every replica reports the same fleet.

Labels never carry a tenant, device, user or token: routes are templates
(``/api/v1/fleet/{device_id}``), dead letters their reason, devices their status. That is
why ``/metrics`` may be public; ``AIOS_METRICS_TOKEN`` makes it require
``Authorization: Bearer <token>`` (see ``docs/operations.md``), ``AIOS_METRICS_ENABLED=false``
removes it.

Metric names are listed in :data:`METRIC_NAMES`; the Grafana dashboard under ``docker/``
uses only those (``tests/deploy/test_dashboard.py`` checks it against a real scrape).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import Device
from aios.controlplane.db.scoped_session import system_connection
from aios.controlplane.errors import AuthenticationError, SettingsError
from aios.controlplane.tenancy import SystemScope

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from aios.controlplane.live.hub import LiveHub
    from aios.controlplane.settings import Settings
    from aios.controlplane.telemetry.ingest import IngestService

log = logging.getLogger(__name__)

FLUSH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UNMATCHED = "unmatched"

# IngestStats attribute, metric name (without ``_total``), help: one counter each
_INGEST_COUNTERS = [
    line.split(maxsplit=2)
    for line in """
    received          aios_ingest_received_messages  MQTT messages taken in by the ingest
    batches_stored    aios_ingest_stored_batches     Detection batches stored
    duplicates        aios_ingest_duplicate_batches  Detection batches already stored
    detections_stored aios_ingest_stored_detections  Detections stored
    heartbeats        aios_ingest_heartbeats         Heartbeats stored
    statuses          aios_ingest_statuses           Device status messages stored
    events            aios_ingest_events             Events stored
    reports           aios_ingest_reports            Pipeline reports stored
    flushes           aios_ingest_flushes            Flushes committed
    write_errors      aios_ingest_write_errors       Flush writes retried (database unavailable)
    refused           aios_ingest_refused_messages   Messages the database refused (dead letters)
    restarts          aios_ingest_restarts           Times the ingest loop died and was restarted
    """.strip().splitlines()
]

METRIC_NAMES = frozenset(
    {
        *(f"{name}_total" for _, name, _ in _INGEST_COUNTERS),
        "aios_ingest_dead_letters_total",
        "aios_ingest_dropped_qos0_total",
        "aios_ingest_queue_depth",
        "aios_ingest_queue_capacity",
        "aios_ingest_mqtt_connected",
        "aios_ingest_last_commit_timestamp_seconds",
        "aios_ingest_flush_messages",
        "aios_ingest_commit_seconds",
        "aios_devices",
        "aios_live_clients",
        "aios_live_poll_errors_total",
        "aios_http_requests_total",
        "aios_http_request_duration_seconds",
    }
)
"""Every metric family name a scrape shows (histograms add ``_bucket``, ``_sum``, ``_count``)."""


class RuntimeCollector(Collector):
    """Reads what the process already counts, at scrape time."""

    def __init__(self, ingest: IngestService | None, hub: LiveHub | None) -> None:
        self._ingest = ingest
        self._hub = hub
        self.devices: dict[str, int] | None = None  # by status, refreshed before each scrape

    def collect(self) -> Iterator[Metric]:
        if self._hub is not None:
            yield GaugeMetricFamily(
                "aios_live_clients",
                "WebSocket clients connected to this replica",
                self._hub.clients,
            )
            yield CounterMetricFamily(
                "aios_live_poll_errors", "Failed polls of the live outbox", self._hub.poll_errors
            )
        if self.devices is not None:
            devices = GaugeMetricFamily("aios_devices", "Devices by presence", labels=["status"])
            for status, count in sorted(self.devices.items()):
                devices.add_metric([status], count)
            yield devices
        if self._ingest is not None:
            yield from self._ingest_metrics(self._ingest)

    def _ingest_metrics(self, ingest: IngestService) -> Iterator[Metric]:
        stats = ingest.stats
        for attribute, name, documentation in _INGEST_COUNTERS:
            yield CounterMetricFamily(name, documentation, getattr(stats, attribute))
        dead = CounterMetricFamily(
            "aios_ingest_dead_letters", "Messages dead-lettered, by reason", labels=["reason"]
        )
        for reason, count in sorted(stats.dead_letters.items()):
            dead.add_metric([reason], count)
        yield dead
        yield CounterMetricFamily(
            "aios_ingest_dropped_qos0",
            "QoS 0 messages dropped because the ingest queue was full",
            ingest.subscriber.dropped_qos0,
        )
        yield GaugeMetricFamily(
            "aios_ingest_queue_depth", "Messages waiting in the ingest queue", ingest.queue.qsize()
        )
        yield GaugeMetricFamily(
            "aios_ingest_queue_capacity",
            "Size of the ingest queue (AIOS_INGEST_QUEUE_SIZE)",
            ingest.settings.ingest_queue_size,
        )
        yield GaugeMetricFamily(
            "aios_ingest_mqtt_connected",
            "1 while the ingest is connected to the MQTT broker",
            1 if ingest.mqtt_connected else 0,
        )
        if stats.last_commit_at is not None:
            yield GaugeMetricFamily(
                "aios_ingest_last_commit_timestamp_seconds",
                "Unix time of the last committed flush",
                stats.last_commit_at,
            )


class ControlPlaneMetrics:
    """The registry of one application and the metrics observed as things happen."""

    def __init__(
        self, engine: AsyncEngine, ingest: IngestService | None, hub: LiveHub | None
    ) -> None:
        self.registry = CollectorRegistry()
        self._engine = engine
        self.runtime = RuntimeCollector(ingest, hub)
        self.registry.register(self.runtime)
        self.flush_messages = Histogram(
            "aios_ingest_flush_messages",
            "Messages per ingest flush (one transaction)",
            buckets=FLUSH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "aios_ingest_commit_seconds",
            "Time to write and commit one ingest flush (retries included)",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "aios_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "aios_http_request_duration_seconds",
            "HTTP request duration by method and route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        if ingest is not None:
            ingest.flush_timers.append(self.observe_flush)

    def observe_flush(self, messages: int, seconds: float) -> None:
        self.flush_messages.observe(messages)
        self.commit_seconds.observe(seconds)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_seconds.labels(method, route).observe(seconds)

    async def refresh(self) -> None:
        """Count devices by status in the database (all organizations); on a database error
        the scrape goes on without them (``aios_devices`` absent) rather than failing."""
        try:
            async with system_connection(self._engine, SystemScope(path="metrics")) as conn:
                rows = (
                    await conn.execute(select(Device.status, func.count()).group_by(Device.status))
                ).all()
        except Exception as exc:  # the database is down: the rest of the scrape still helps
            log.warning("metrics: cannot count devices: %s", type(exc).__name__)
            self.runtime.devices = None
            return
        self.runtime.devices = {str(status): int(count) for status, count in rows}

    def serve(self, port: int) -> WSGIServer:
        """Serve these metrics on ``port`` (all interfaces) in a thread, for ``aios ingest``,
        which has no HTTP API of its own (no ``aios_devices``: counted by the API's scrape)."""
        try:
            server, _ = start_http_server(port, addr="0.0.0.0", registry=self.registry)
        except OSError as exc:
            raise SettingsError("AIOS_METRICS_PORT", f"cannot listen on {port}: {exc}") from None
        return server

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self) -> DefineMiddleware:
        """The HTTP middleware that counts requests (put it first: it sees 401s too)."""
        return DefineMiddleware(HttpMetricsMiddleware, metrics=self)


class HttpMetricsMiddleware:
    """Counts every HTTP request by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: ControlPlaneMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        except Exception as exc:  # raised before the handler's own error handling (auth)
            status = _status_of(exc)
            raise
        finally:
            route = str(scope.get("path_template") or UNMATCHED)
            self._metrics.observe_request(
                str(scope.get("method", "GET")), route, status, time.perf_counter() - started
            )


def _status_of(exc: Exception) -> int:
    """The status the application's exception handlers answer ``exc`` raised by a middleware
    with (authentication is the one that raises there)."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, AuthenticationError):
        return 401
    return 500


def metrics_route(settings: Settings, metrics: ControlPlaneMetrics) -> list[HTTPRouteHandler]:
    """``GET /metrics`` (none when ``AIOS_METRICS_ENABLED`` is false)."""
    if not settings.metrics_enabled:
        return []
    token = settings.metrics_token

    @get(
        "/metrics",
        exclude_from_auth=True,
        include_in_schema=False,
        media_type=CONTENT_TYPE_LATEST,
    )
    async def scrape(request: Request[Any, Any, Any]) -> Response[bytes]:
        if token is not None:
            presented = request.headers.get("authorization", "")
            if not secrets.compare_digest(presented.encode(), f"Bearer {token.get()}".encode()):
                raise AuthenticationError("/metrics needs the bearer token AIOS_METRICS_TOKEN")
        await metrics.refresh()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return [scrape]
