"""A paho-mqtt subscriber bridged to asyncio, with manual acknowledgements.

paho runs its network loop in its own thread; every received message becomes an
:class:`Inbound` appended to a bounded :class:`~aios.controlplane.mqtt.buffer.InboundBuffer`
(one lock round per message, one loop wake-up per burst). QoS 1 messages are acknowledged only
when the consumer calls :meth:`MqttSubscriber.ack` (after its batch committed), so a crash loses
nothing: the broker redelivers. Backpressure: when the queue is full, the paho thread waits
(QoS 1; the broker stops sending once our receive window of unacknowledged messages is used)
or drops the message and counts it (QoS 0: heartbeats, lossy by contract).

MQTT 5 (Mosquitto): persistent session (``clean_start=False`` plus session expiry), shared
subscriptions, and a ``ReceiveMaximum`` as large as the queue so the broker may keep that many
messages in flight. MQTT 3.1.1 (embedded amqtt): ``clean_session=False``, plain subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from aios.controlplane.errors import BrokerError
from aios.controlplane.mqtt.buffer import InboundBuffer
from aios.controlplane.settings import MqttEndpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as received; ``mid``/``qos`` are what :meth:`MqttSubscriber.ack` needs."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    received_at: float


class MqttSubscriber:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        client_id: str,
        filters: list[str],
        queue: InboundBuffer[Inbound],
        session_expiry_s: int = 86400,
        keepalive_s: int = 30,
    ) -> None:
        self.endpoint = endpoint
        self.filters = filters
        self.dropped_qos0 = 0
        self._queue = queue
        self._started = False
        self._closing = threading.Event()
        self._connected = threading.Event()
        self._keepalive_s = keepalive_s
        self._session_expiry_s = session_expiry_s
        mqtt5 = endpoint.protocol == "5"
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311,
            clean_session=None if mqtt5 else False,
            manual_ack=True,
        )
        if endpoint.username is not None:
            self._client.username_pw_set(
                endpoint.username, endpoint.password.get() if endpoint.password else None
            )
        if endpoint.tls:  # AIOS_MQTT_CA_FILE / _CLIENT_CERT_FILE / _CLIENT_KEY_FILE
            try:
                context = endpoint.ssl_context()
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise BrokerError(f"MQTT TLS setup failed: {exc}") from exc
            self._client.tls_set_context(context)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Start connecting (paho retries in the background until the broker answers)."""
        self._queue.bind(asyncio.get_running_loop())
        self._started = True
        self._closing.clear()
        try:
            if self.endpoint.protocol == "5":
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = self._session_expiry_s
                props.ReceiveMaximum = max(1, min(self._queue.maxsize or 65535, 65535))
                self._client.connect_async(
                    self.endpoint.host,
                    self.endpoint.port,
                    keepalive=self._keepalive_s,
                    clean_start=False,
                    properties=props,
                )
            else:
                self._client.connect_async(
                    self.endpoint.host, self.endpoint.port, keepalive=self._keepalive_s
                )
            self._client.loop_start()
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot start MQTT client: {exc}") from exc

    async def wait_connected(self, timeout: float) -> bool:
        """Whether the client got connected (and subscribed) within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._connected.is_set():
                return True
            await asyncio.sleep(0.05)
        return self._connected.is_set()

    async def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for the next session."""
        self._closing.set()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            self._connected.clear()

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message to the broker (thread-safe; no-op for QoS 0)."""
        if qos > 0 and self._connected.is_set():
            self._client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 on this connection (thread-safe); ``False`` when not connected
        (nothing is queued for later)."""
        if not self._connected.is_set():
            return False
        info = self._client.publish(topic, payload, qos=1)
        return info.rc == paho.MQTT_ERR_SUCCESS

    # --- paho thread -------------------------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, _u: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT connection refused: %s", reason)
            return
        log.info(
            "MQTT connected to %s:%d (session present: %s)",
            self.endpoint.host,
            self.endpoint.port,
            getattr(flags, "session_present", None),
        )
        client.subscribe([(f, 1) for f in self.filters])
        self._connected.set()

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        if not self._closing.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        if not self._started or self._closing.is_set():
            return
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", "replace")
        item = Inbound(
            topic=topic,
            payload=bytes(msg.payload),
            qos=msg.qos,
            mid=msg.mid,
            received_at=time.time(),
        )
        if msg.qos == 0:
            if not self._queue.offer(item):
                self.dropped_qos0 += 1
            return
        # waits for room while the queue is full: this is the backpressure
        self._queue.put(item, cancelled=self._closing.is_set)
