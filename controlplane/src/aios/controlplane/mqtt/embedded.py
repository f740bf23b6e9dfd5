"""The embedded broker: amqtt in the control-plane process (``AIOS_MQTT_URL=embedded``).

amqtt speaks MQTT 3.1.1 only, so the ingest connects to it with 3.1.1, a persistent session
(``clean_session=False``) and plain (not shared) subscriptions: one in-process ingest consumes
everything. Clients log in with their enrollment credentials and use only their own topics
(:mod:`~aios.controlplane.mqtt.embedded_access`); ``AIOS_EMBEDDED_MQTT_ANONYMOUS=true`` lets
anyone connect and use any topic instead (demos only: ``access=None``).

Two amqtt 0.12 behaviours are corrected at this boundary (:class:`_TenantSafeBroker`):

* retained messages: on connect amqtt replays the retained messages matching *every*
  subscription held on the broker (the ingest's wildcards, other devices' ``cfg/desired``),
  and on subscribe it sends matching retained messages without asking the topic plugin. Here a
  client only gets the retained messages of filters it holds itself, each one checked as a
  ``RECEIVE`` by :class:`~aios.controlplane.mqtt.embedded_access.DeviceTopicPlugin`;
* revocation: :meth:`EmbeddedBroker.disconnect_device` drops a deleted device's connection and
  session (no last will) and clears the retained messages of its topics.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action as AmqttAction
from amqtt.session import Session

from aios.controlplane.brokers.access import DeviceIdentity
from aios.controlplane.brokers.provisioning import BrokerLookupProvisioner
from aios.controlplane.errors import BrokerError
from aios.controlplane.mqtt.embedded_access import (
    DeviceAuthPlugin,
    DeviceTopicPlugin,
    EmbeddedAccess,
)
from aios.shared.errors import TopicError
from aios.shared.topics import device_client_id, parse_topic

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0
"""How long the embedded broker may take to stop. amqtt's shutdown waits on its client
sessions, and one with QoS 1 messages in flight (a device publishing as the control plane
stops) can keep it waiting indefinitely; past this, the broker's remaining tasks are left to be
cancelled with the event loop, so that ``aios serve`` still exits."""


_INTERNALS = (
    "_publish_retained_messages_for_subscription",
    "_delete_session",
    "_get_handler",
    "_matches",
    "_topic_filtering",
)
if not all(hasattr(Broker, name) for name in _INTERNALS):  # pragma: no cover
    raise ImportError("amqtt changed its broker internals: pin amqtt 0.12 (see embedded.py)")


class _TenantSafeBroker(Broker):  # type: ignore[misc]  # amqtt is untyped
    """amqtt's broker, delivering retained messages only along the reader's own ACL."""

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        topic_filter = subscription[0]
        holders = self._subscriptions.get(topic_filter, ())
        granted = [q for s, q in holders if s.client_id == session.client_id]
        handler = self._get_handler(session)
        if not granted or handler is None:  # not a filter this client holds
            return
        tasks = []
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not await self._topic_filtering(session, topic=topic, action=AmqttAction.RECEIVE):
                continue
            qos = min(granted[0], retained.qos if retained.qos is not None else granted[0])
            tasks.append(
                asyncio.ensure_future(
                    handler.mqtt_publish(retained.topic, retained.data, qos, retain=True)
                )
            )
        if tasks:
            await asyncio.wait(tasks)

    async def drop_client(self, client_id: str) -> bool:
        """Close ``client_id``'s connection without its last will and delete its session;
        whether it was known."""
        entry = self._sessions.get(client_id)
        if entry is None:
            return False
        session, handler = entry
        session.will_flag = False
        if session.transitions.is_connected():
            await handler.handle_connection_closed()
            await handler.stop()
        await self._delete_session(client_id)
        return True

    async def clear_retained(self, org_id: str, device_id: str, prefix: str) -> int:
        """Forget the retained messages of a device's topics; how many there were."""
        mine = []
        for topic in list(self._retained_messages):
            try:
                parsed = parse_topic(topic, prefix=prefix)
            except TopicError:
                continue
            if (parsed.org_id, parsed.device_id) == (org_id, device_id):
                mine.append(topic)
        for topic in mine:
            await self.retain_message(None, topic, None)
        return len(mine)


class EmbeddedBroker:
    """Start/stop wrapper around an amqtt :class:`~amqtt.broker.Broker`."""

    def __init__(self, host: str, port: int, *, access: EmbeddedAccess | None, prefix: str) -> None:
        self.host = host
        self.prefix = prefix
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
        broker = _TenantSafeBroker(config)
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

    async def disconnect_device(self, org_id: str, device_id: str) -> None:
        """Cut a revoked device off: its connection, its session, its retained messages."""
        if self.access is not None:
            self.access.forget(DeviceIdentity(org_id, device_id).username)
        broker = self._broker
        if broker is None:
            return
        dropped = await broker.drop_client(device_client_id(org_id, device_id))
        cleared = await broker.clear_retained(org_id, device_id, self.prefix)
        log.info(
            "embedded MQTT broker: device %s/%s revoked (session dropped: %s, retained: %d)",
            org_id,
            device_id,
            dropped,
            cleared,
        )

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await asyncio.wait_for(broker.shutdown(), SHUTDOWN_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "embedded MQTT broker still closing sessions after %.0f s; stopping anyway",
                    SHUTDOWN_TIMEOUT_S,
                )
            except Exception:  # shutting down: log, never raise
                log.exception("embedded MQTT broker did not shut down cleanly")


class EmbeddedProvisioner(BrokerLookupProvisioner):
    """:class:`~aios.controlplane.brokers.provisioning.DeviceCredentialsProvisioner` of the
    embedded broker: it reads the credentials table at connect time, so provisioning has
    nothing to push; revoking refuses the device's next logins and cuts its live connection
    (:meth:`EmbeddedBroker.disconnect_device`)."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self._broker = broker

    async def revoke_device(self, org_id: str, device_id: str) -> None:
        await self._broker.disconnect_device(org_id, device_id)


def _dotted(cls: type) -> str:
    """amqtt 0.12 loads plugins by dotted path (their config may hold objects)."""
    return f"{cls.__module__}.{cls.__qualname__}"
