"""The control plane's MQTT client side: paho-mqtt, behind this one module.

Every client the control plane opens is made here: the ingest's long-lived connection
(:class:`MqttConnection`) and the short sessions of the config publisher and of Mosquitto's
dynamic-security administration (:class:`MqttSession`). paho's failures (socket and TLS errors,
a refused CONNACK, a refused SUBACK, a publish that cannot be queued, a missing PUBACK, a
timeout) are translated here into :class:`~aios.controlplane.errors.BrokerError` (or the subclass
a caller asks for), and nowhere else; no other module imports paho.

Why paho and not aiomqtt (which wraps paho): the ingest's zero-loss guarantee is that a QoS 1
message is acknowledged to the broker only after its batch committed (``manual_ack``), with
backpressure on paho's network thread while the inbound buffer is full. aiomqtt (2.5) offers no
application-controlled acknowledgement (only through its private paho client), drops incoming
messages when its queue is full, and does not reconnect by itself. One library serves every
client; the embedded broker (amqtt) is a broker, not a client, and has its own boundary in
:mod:`aios.controlplane.mqtt.embedded`.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from aios.controlplane.errors import BrokerError
from aios.controlplane.settings import MqttEndpoint, MqttProtocol, Secret

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Broker:
    """Where a client connects and as whom."""

    host: str
    port: int
    protocol: MqttProtocol = "3.1.1"
    username: str | None = None
    password: Secret | None = None
    tls: ssl.SSLContext | None = None

    @classmethod
    def of(cls, endpoint: MqttEndpoint) -> Broker:
        """The broker of ``endpoint``; a TLS file that cannot be loaded is a BrokerError."""
        try:
            tls = endpoint.ssl_context()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise BrokerError(f"MQTT TLS setup failed: {exc}") from exc
        ep = endpoint
        return cls(ep.host, ep.port, ep.protocol, ep.username, ep.password, tls)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Received:
    """One message as paho delivered it; ``mid`` and ``qos`` are what an ack needs."""

    topic: str
    payload: bytes
    qos: int
    mid: int


def _client(broker: Broker, client_id: str, *, clean: bool, manual_ack: bool) -> paho.Client:
    mqtt5 = broker.protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311,
        clean_session=None if mqtt5 else clean,  # MQTT 5: clean_start, given at connect
        manual_ack=manual_ack,
    )
    if broker.username is not None:
        client.username_pw_set(
            broker.username, broker.password.get() if broker.password is not None else None
        )
    if broker.tls is not None:
        client.tls_set_context(broker.tls)
    return client


def _received(msg: paho.MQTTMessage) -> Received:
    try:
        topic = msg.topic
    except UnicodeDecodeError:  # a broker passing invalid UTF-8: dead-lettered as a bad topic
        topic = msg._topic.decode("utf-8", "replace")
    return Received(topic=topic, payload=bytes(msg.payload), qos=msg.qos, mid=msg.mid)


class MqttConnection:
    """A long-lived connection in paho's network thread: reconnects by itself (1 s to 30 s),
    subscribes ``filters`` at QoS 1 on every connect, hands each message to ``on_message`` (in
    paho's thread; it may block: that is backpressure), and acknowledges a QoS 1 message only
    when :meth:`ack` is called.

    The session survives restarts: MQTT 5 connects with ``clean_start=False``, a session expiry
    and a ``ReceiveMaximum`` (how many unacknowledged messages the broker may have in flight);
    MQTT 3.1.1 with ``clean_session=False``.
    """

    def __init__(
        self,
        broker: Broker,
        *,
        client_id: str,
        filters: list[str],
        on_message: Callable[[Received], None],
        session_expiry_s: int,
        receive_maximum: int,
        keepalive_s: int = 30,
    ) -> None:
        self.broker, self.filters, self._on_received = broker, filters, on_message
        self._keepalive_s = keepalive_s
        self._props: Properties | None = None  # MQTT 5: the persistent session's terms
        if broker.protocol == "5":
            self._props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            self._props.SessionExpiryInterval = session_expiry_s
            self._props.ReceiveMaximum = max(1, min(receive_maximum, 65535))
        self._closing = threading.Event()
        self.connected = threading.Event()
        self._client = _client(broker, client_id, clean=False, manual_ack=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self) -> None:
        """Start connecting; paho retries in the background until the broker answers."""
        self._closing.clear()
        props = self._props
        try:
            self._client.connect_async(
                self.broker.host,
                self.broker.port,
                keepalive=self._keepalive_s,
                clean_start=False if props is not None else paho.MQTT_CLEAN_START_FIRST_ONLY,
                properties=props,
            )
            self._client.loop_start()
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot start MQTT client for {self.broker.address}: {exc}") from exc

    def stop(self) -> None:
        """Disconnect (blocking: call it from a worker thread); unacknowledged messages stay
        with the broker for the next session."""
        self._closing.set()
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            self.connected.clear()

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a received message (thread-safe; nothing to do for QoS 0 or while
        disconnected: the broker sends it again in the next session)."""
        if qos > 0 and self.connected.is_set():
            self._client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 (thread-safe, no wait); ``False`` when not connected or not queued
        (nothing is kept for later)."""
        if not self.connected.is_set():
            return False
        try:
            info = self._client.publish(topic, payload, qos=1)
        except ValueError as exc:  # an invalid topic or an oversized payload
            log.warning("MQTT publish on %r refused: %s", topic, exc)
            return False
        return info.rc == paho.MQTT_ERR_SUCCESS

    # --- paho's network thread ---------------------------------------------------------------
    def _on_connect(
        self, client: paho.Client, _u: Any, flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT connection to %s refused: %s", self.broker.address, reason)
            return
        log.info(
            "MQTT connected to %s (session present: %s)",
            self.broker.address,
            getattr(flags, "session_present", None),
        )
        client.subscribe([(f, 1) for f in self.filters])
        self.connected.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        if not self._closing.is_set():
            log.warning("MQTT disconnected from %s (%s); reconnecting", self.broker.address, reason)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        if not self._closing.is_set():
            self._on_received(_received(msg))


@dataclass(frozen=True, slots=True)
class Subscription:
    """A QoS 1 subscription a session makes as it connects; ``refused``: the error message
    when the broker refuses it."""

    topic_filter: str
    refused: str | None = None


class MqttSession:
    """One short blocking session (a context manager, run in a worker thread): connect (and
    make its ``subscriptions``), then :meth:`subscribe` and :meth:`publish` waiting for the
    broker's answer to each, then disconnect. Every failure raises ``error`` (a
    :class:`BrokerError` by default) with what went wrong; each wait is at most
    ``timeout_s``."""

    def __init__(
        self,
        broker: Broker,
        *,
        client_id: str,
        timeout_s: float,
        on_message: Callable[[Received], None] | None = None,
        subscriptions: Sequence[Subscription] = (),
        error: type[BrokerError] = BrokerError,
    ) -> None:
        self.broker, self.timeout_s, self._error = broker, timeout_s, error
        self._on_received, self._subscriptions = on_message, subscriptions
        self._cond = threading.Condition()
        self._connack: ReasonCode | None = None
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._client = _client(broker, client_id, clean=True, manual_ack=False)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def __enter__(self) -> Self:
        broker = self.broker
        try:
            self._client.connect(
                broker.host, broker.port, keepalive=max(5, int(self.timeout_s) * 2)
            )
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise self._error(f"cannot reach MQTT broker {broker.address}: {exc}") from exc
        self._client.loop_start()
        try:
            connack = self._wait(lambda: self._connack, f"no CONNACK from {broker.address}")
            if connack.is_failure:
                raise self._error(f"MQTT broker {broker.address} refused the login: {connack}")
            for subscription in self._subscriptions:
                self.subscribe(subscription.topic_filter, refused=subscription.refused)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def subscribe(self, topic_filter: str, qos: int = 1, *, refused: str | None = None) -> None:
        """Subscribe and wait for the SUBACK; a refused subscription raises (``refused``: the
        message to raise then)."""
        try:
            rc, mid = self._client.subscribe(topic_filter, qos=qos)
        except ValueError as exc:
            raise self._error(f"cannot subscribe to {topic_filter!r}: {exc}") from exc
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise self._error(f"cannot subscribe to {topic_filter!r}: {paho.error_string(rc)}")
        reasons = self._wait(lambda: self._subacks.get(mid), f"no SUBACK for {topic_filter!r}")
        if any(r.is_failure for r in reasons):
            raise self._error(refused or f"the broker refused the subscription to {topic_filter!r}")

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the PUBACK."""
        try:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
        except ValueError as exc:
            raise self._error(f"cannot publish on {topic!r}: {exc}") from exc
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise self._error(f"cannot publish on {topic!r}: {paho.error_string(info.rc)}")
        deadline = time.monotonic() + self.timeout_s
        while not info.is_published():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._client.is_connected():
                raise self._error(f"no PUBACK from {self.broker.address} for {topic!r}")
            info.wait_for_publish(min(remaining, 0.1))

    def _wait(self, value: Callable[[], T | None], what: str) -> T:
        """``value()`` once the network thread has set it; ``what`` is raised after the timeout."""
        with self._cond:
            self._cond.wait_for(lambda: value() is not None, self.timeout_s)
            got = value()
        if got is None:
            raise self._error(what)
        return got

    # --- paho's network thread ---------------------------------------------------------------
    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        with self._cond:
            self._connack = reason
            self._cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        with self._cond:
            self._subacks[mid] = reasons
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if self._on_received is not None:
            self._on_received(_received(msg))
