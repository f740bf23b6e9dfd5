"""The long-lived components one control-plane process owns, built by the composition root.

:class:`Runtime` starts them in order (embedded broker, then ingest) and stops them in reverse.
It is created by :func:`aios.controlplane.app.create_app` (and by ``aios ingest``) from the
settings, with the broker provisioner enrollment uses (:func:`build_provisioner`), and
reaches handlers through the ``runtime`` dependency, never as a global.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.brokers.dynsec import DynsecEndpoint, MosquittoDynsecProvisioner
from aios.controlplane.brokers.emqx_admin import EmqxProvisioner
from aios.controlplane.brokers.provisioning import (
    BrokerLookupProvisioner,
    DeviceCredentialsProvisioner,
)
from aios.controlplane.errors import SettingsError
from aios.controlplane.fleet.broker_credentials import EngineCredentialsLookup
from aios.controlplane.fleet.device_logins import DeviceLoginGuard
from aios.controlplane.jobs.background import BackgroundServices
from aios.controlplane.mqtt.embedded import EmbeddedBroker, EmbeddedProvisioner
from aios.controlplane.mqtt.embedded_access import EmbeddedAccess
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.ingest import IngestService

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, engine: AsyncEngine, *, ingest: bool) -> None:
        self.settings = settings
        self.engine = engine
        self.device_logins = DeviceLoginGuard()  # device passwords: HTTP and embedded MQTT
        access = (
            EmbeddedAccess(
                EngineCredentialsLookup(engine),
                self.device_logins,
                service_password=settings.embedded_mqtt_service_password,
                prefix=settings.mqtt_topic_prefix,
            )
            if settings.embedded_broker and not settings.embedded_mqtt_anonymous
            else None
        )
        self.broker = (
            EmbeddedBroker(
                settings.embedded_mqtt_host,
                settings.embedded_mqtt_port,
                access=access,
                prefix=settings.mqtt_topic_prefix,
            )
            if settings.embedded_broker
            else None
        )
        self.provisioner = build_provisioner(settings, self.broker)
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


def build_provisioner(
    settings: Settings, embedded: EmbeddedBroker | None = None
) -> DeviceCredentialsProvisioner:
    """What enrollment uses to give devices their broker identity (``AIOS_MQTT_PROVISIONER``):
    Mosquitto's dynamic security, the embedded broker's (also in anonymous mode: deletion
    still cuts the device's connection), or nothing to push (EMQX, which asks the control
    plane through its HTTP hook; with ``AIOS_EMQX_API_URL``, deletion kicks the device
    through EMQX's REST API)."""
    if settings.mqtt_provisioner == "dynsec":
        endpoint = settings.mqtt_endpoint()
        username = settings.dynsec_admin_username or endpoint.username
        password = settings.dynsec_admin_password or endpoint.password
        if username is None or password is None:
            raise SettingsError(
                "AIOS_MQTT_DYNSEC_ADMIN_USERNAME",
                "dynsec needs an admin user and password (or AIOS_MQTT_USERNAME/PASSWORD)",
            )
        try:
            tls = endpoint.ssl_context()
        except (OSError, ValueError) as exc:
            raise SettingsError("AIOS_MQTT_CA_FILE", f"TLS setup failed: {exc}") from exc
        return MosquittoDynsecProvisioner(
            DynsecEndpoint(
                host=endpoint.host,
                port=endpoint.port,
                username=username,
                password=password,
                tls=tls,
            )
        )
    if embedded is not None:
        return EmbeddedProvisioner(embedded)
    if settings.emqx_api_url and settings.emqx_api_secret is not None:
        return EmqxProvisioner(
            settings.emqx_api_url, settings.emqx_api_key, settings.emqx_api_secret
        )
    return BrokerLookupProvisioner()
