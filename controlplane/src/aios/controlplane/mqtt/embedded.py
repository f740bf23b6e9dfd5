"""The embedded broker: amqtt in the control-plane process (``AIOS_MQTT_URL=embedded``).

amqtt speaks MQTT 3.1.1 only, so the ingest connects to it with 3.1.1, a persistent session
(``clean_session=False``) and plain (not shared) subscriptions: one in-process ingest consumes
everything. Clients log in with their enrollment credentials and use only their own topics
(:mod:`~aios.controlplane.mqtt.embedded_access`); ``AIOS_EMBEDDED_MQTT_ANONYMOUS=true`` lets
anyone connect and use any topic instead (demos only: ``access=None``).
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker

from aios.controlplane.errors import BrokerError
from aios.controlplane.mqtt.embedded_access import (
    DeviceAuthPlugin,
    DeviceTopicPlugin,
    EmbeddedAccess,
)

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """Start/stop wrapper around an amqtt :class:`~amqtt.broker.Broker`."""

    def __init__(self, host: str, port: int, *, access: EmbeddedAccess | None) -> None:
        self.host = host
        self.port = port
        self.access = access
        self._broker: Any = None

    @property
    def running(self) -> bool:
        return self._broker is not None

    async def start(self) -> None:
        plugins: dict[str, object]
        if self.access is None:
            plugins = {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            }
        else:
            plugins = {
                _dotted(DeviceAuthPlugin): {"access": self.access},
                _dotted(DeviceTopicPlugin): {"access": self.access},
            }
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": plugins,
        }
        broker = Broker(config)
        try:
            await broker.start()
        except Exception as exc:  # amqtt raises BrokerError/OSError subclasses: one boundary
            raise BrokerError(
                f"embedded MQTT broker could not listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self._broker = broker
        log.info(
            "embedded MQTT broker (3.1.1, %s) on %s:%d",
            "anonymous" if self.access is None else "device credentials",
            self.host,
            self.port,
        )

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await broker.shutdown()
            except Exception:  # shutting down: log, never raise
                log.exception("embedded MQTT broker did not shut down cleanly")


def _dotted(cls: type) -> str:
    """amqtt 0.12 loads plugins by dotted path (their config may hold objects)."""
    return f"{cls.__module__}.{cls.__qualname__}"
