"""The composition root: :func:`create_app` builds the whole control plane from its settings.

Route handlers are collected explicitly from each domain's ``controllers`` module (its
``ROUTES`` list); a new domain adds one import and one entry to :data:`DOMAIN_ROUTES` below.

Dependencies every handler may ask for: ``settings`` (:class:`Settings`), ``runtime``
(:class:`Runtime`: engine, embedded broker, ingest), ``db_session`` (an ``AsyncSession`` from
Advanced Alchemy's plugin, committed after a 2xx response) and ``org_scope``
(:class:`~aios.controlplane.tenancy.OrgScope`, the one place tenant scoping comes from).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.accounts import controllers as accounts
from aios.controlplane.accounts.dependencies import (
    accounts_dependencies,
    auth_middleware,
    token_codec,
)
from aios.controlplane.accounts.principal import PrincipalLookup
from aios.controlplane.brokers import controllers as brokers
from aios.controlplane.brokers.controllers import emqx_dependencies
from aios.controlplane.brokers.emqx import EmqxPolicy
from aios.controlplane.brokers.provisioning import DeviceCredentialsProvisioner
from aios.controlplane.console import routes as console
from aios.controlplane.dashboard import acknowledgements, event_analytics
from aios.controlplane.dashboard import controllers as dashboard
from aios.controlplane.db.engine import create_engine
from aios.controlplane.db.scoped_session import scoped_sessionmaker
from aios.controlplane.error_handlers import EXCEPTION_HANDLERS
from aios.controlplane.fleet import controllers as fleet
from aios.controlplane.fleet.broker_credentials import provide_broker_credentials
from aios.controlplane.heartbeats import controllers as heartbeats
from aios.controlplane.heartbeats.history import (
    HEARTBEAT_HISTORY_JOB,
    SAMPLE_INTERVAL_S,
    sample_heartbeats,
)
from aios.controlplane.jobs.scheduler import Job
from aios.controlplane.live import controllers as live
from aios.controlplane.live.hub import LiveHub
from aios.controlplane.live.outbox import PresenceToLive, purge_live
from aios.controlplane.log_setup import LogContextMiddleware
from aios.controlplane.notifications import controllers as notifications
from aios.controlplane.notifications import test_delivery
from aios.controlplane.openapi import StrictStructSchemaPlugin, document_errors
from aios.controlplane.pipelines import controllers as pipelines
from aios.controlplane.pipelines.publisher import ConfigPublisher, MqttConfigPublisher
from aios.controlplane.pipelines.rollout import ROLLOUT_JOB, rollout_job
from aios.controlplane.pipelines.rollout_controls import ROUTES as ROLLOUT_CONTROL_ROUTES
from aios.controlplane.request_body import BoundedRequest, nosniff
from aios.controlplane.runtime import Runtime
from aios.controlplane.settings import Settings
from aios.controlplane.system import api_docs
from aios.controlplane.system import controllers as system
from aios.controlplane.system.metrics import ControlPlaneMetrics, metrics_route
from aios.controlplane.telemetry import controllers as telemetry
from aios.controlplane.telemetry import zone_analytics

DOMAIN_ROUTES: Sequence[Sequence[Any]] = (
    system.ROUTES,
    telemetry.ROUTES,
    accounts.ROUTES,
    fleet.ROUTES,
    pipelines.ROUTES,
    dashboard.ROUTES,
    live.ROUTES,
    notifications.ROUTES,
    brokers.ROUTES,
    heartbeats.ROUTES,
    acknowledgements.ROUTES,
    event_analytics.ROUTES,
    zone_analytics.ROUTES,
    test_delivery.ROUTES,
    ROLLOUT_CONTROL_ROUTES,
    console.ROUTES,
)


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    config_publisher: ConfigPublisher | None = None,
    run_ingest: bool | None = None,
    provisioner: DeviceCredentialsProvisioner | None = None,
) -> Litestar:
    """The Litestar application for ``settings``.

    ``engine`` defaults to one built from ``settings.database_url``; ``run_ingest`` defaults to
    ``settings.ingest_enabled``; ``provisioner`` (what enrollment and device deletion use on
    the broker) defaults to the one :class:`Runtime` builds from ``AIOS_MQTT_PROVISIONER``.
    The lifespan starts the embedded broker (when ``AIOS_MQTT_URL=embedded``) and the ingest,
    and stops them in reverse order. The schema is not created here: run ``aios db upgrade``
    (or :func:`aios.controlplane.db.migrate.upgrade`).
    """
    engine = engine or create_engine(settings)
    runtime = Runtime(
        settings,
        engine,
        ingest=settings.ingest_enabled if run_ingest is None else run_ingest,
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            # Last: the SQLAlchemy plugin's lifespan ends before this one and disposes the
            # engine while the ingest and the jobs still run; connections they opened since
            # would outlive the app (an aiosqlite connection is a thread that keeps the
            # process from exiting).
            await engine.dispose()

    codec = token_codec(settings)
    principals = PrincipalLookup(engine)
    broker_provisioner = provisioner or runtime.provisioner
    endpoint = settings.mqtt_endpoint()
    emqx_policy = EmqxPolicy(
        prefix=settings.mqtt_topic_prefix,
        service_username=endpoint.username,
        service_password=endpoint.password,
        hook_secret=settings.emqx_hook_secret,
    )
    publisher = config_publisher or MqttConfigPublisher(settings)
    rollouts = rollout_job(publisher, settings.deployment_timeout_s)
    runtime.background.scheduler.add(Job(ROLLOUT_JOB, 5.0, rollouts))
    hub = LiveHub(engine)
    runtime.background.scheduler.add(Job("live_outbox_purge", 300.0, purge_live))
    runtime.background.scheduler.add(
        Job(HEARTBEAT_HISTORY_JOB, SAMPLE_INTERVAL_S, sample_heartbeats)
    )
    if runtime.background.presence is not None:
        runtime.background.presence.outboxes.append(PresenceToLive())

    @asynccontextmanager
    async def live_lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.stop()

    metrics = ControlPlaneMetrics(engine, runtime.ingest, hub)

    lifespans: list[Callable[[Litestar], AbstractAsyncContextManager[None]]] = [
        lifespan,
        live_lifespan,
    ]
    app = Litestar(
        route_handlers=[
            *(handler for routes in DOMAIN_ROUTES for handler in routes),
            *api_docs.route_handlers(),
            *metrics_route(settings, metrics),
        ],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "runtime": Provide(lambda: runtime, sync_to_thread=False),
            **accounts_dependencies(settings, codec, principals),
            "config_publisher": Provide(lambda: publisher, sync_to_thread=False),
            "live_hub": Provide(lambda: hub, sync_to_thread=False),
            "broker_provisioner": Provide(lambda: broker_provisioner, sync_to_thread=False),
            "device_logins": Provide(lambda: runtime.device_logins, sync_to_thread=False),
            **emqx_dependencies(emqx_policy),
            "broker_credentials": Provide(provide_broker_credentials),
        },
        middleware=[metrics.middleware(), auth_middleware(codec, principals), LogContextMiddleware],
        plugins=[
            StrictStructSchemaPlugin(),
            SQLAlchemyPlugin(
                config=SQLAlchemyAsyncConfig(
                    engine_instance=engine,
                    session_dependency_key="db_session",
                    session_config=AsyncSessionConfig(expire_on_commit=False),
                    session_maker=scoped_sessionmaker(engine),
                    before_send_handler="autocommit",
                    create_all=False,
                    set_default_exception_handler=False,
                )
            ),
        ],
        lifespan=lifespans,
        exception_handlers=EXCEPTION_HANDLERS,
        # Logging is configured once by the CLI (log_setup): Litestar's default config would
        # replace the root handler with its own plain-text queue handler.
        logging_config=None,
        request_class=BoundedRequest,
        before_send=[nosniff],
        openapi_config=api_docs.openapi_config(),
        cors_config=cors_config(settings),
        state=None,
    )
    document_errors(app)
    return app


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the origins of ``AIOS_CORS_ALLOWED_ORIGINS`` (none: no CORS headers at all).

    A cross-origin dashboard authenticates with the bearer token, never with cookies, so
    credentials are not allowed; preflights are cached for 10 minutes."""
    if not settings.cors_allowed_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_allowed_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=False,
        max_age=600,
    )
