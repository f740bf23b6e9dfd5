"""The MQTT transport on paho-mqtt 2.x, with the spool in front of every QoS 1 message.

Threads: paho's network thread (connect, reconnect, callbacks) and one outbox worker that
owns the spool and the sequence counter. ``send`` only enqueues, so the event loop never waits
on the disk or the network. The worker writes each reliable message to the spool, then hands
at most ``inflight_window`` of them to paho while connected; ``on_publish`` (the PUBACK) deletes
a message from the spool, except a numbered one (a detection batch or an event, each with its
``seq``): that one stays until the control plane's :class:`~aios.shared.messages.IngestAck`
(channel ``ack``) says it is stored, and is sent again if it stays unconfirmed
(:mod:`aios.agent.transport.resend`). So no broker behaviour can lose it. paho retransmits its
in-flight messages after a reconnect, and on a restart everything still in the spool is sent
again, so delivery is at least once and the ``seq`` lets the receiver drop duplicates.

paho's errors are translated into :class:`TransportError` here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Literal

import msgspec
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from aios.agent.config import MqttSettings
from aios.agent.errors import TransportError
from aios.agent.transport.interface import RELIABLE_CHANNELS, ConfigHandler, TransportStats
from aios.agent.transport.resend import ResendClock
from aios.agent.transport.sequence import SequenceCounter
from aios.agent.transport.spool import Priority, Spool
from aios.agent.version import AGENT_VERSION
from aios.shared.codec import channel_for, decode_message, encode
from aios.shared.fields import DeviceState
from aios.shared.messages import DetectionBatch, DeviceStatus, Event, IngestAck, Message
from aios.shared.topics import Channel, build_topic, device_client_id

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class _Outgoing:
    msg: Message


@dataclass(frozen=True, slots=True)
class _Acked:
    mid: int


@dataclass(frozen=True, slots=True)
class _Link:
    up: bool


@dataclass(frozen=True, slots=True)
class _Confirmed:
    ack: IngestAck


_Event = _Outgoing | _Acked | _Link | _Confirmed | Literal["stop"]


class MqttTransport:
    """Publishes the device's messages; see the module docstring for the guarantees."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        org_id: str,
        device_id: str,
        spool: Spool,
        sequence: SequenceCounter,
        event_sequence: SequenceCounter | None = None,
    ) -> None:
        self._settings = settings
        self._org_id = org_id
        self._device_id = device_id
        self._spool = spool
        self._sequence = sequence
        self._event_sequence = event_sequence
        self._resend = ResendClock(timeout_s=settings.ack_timeout_s, limit=settings.resend_limit)
        self._events: queue.Queue[_Event] = queue.Queue()
        self._inflight: dict[int, int] = {}  # paho mid -> spool row id
        self._inflight_rows: set[int] = set()
        self._last_sent = 0
        self._connected = threading.Event()
        self._published = 0
        self._config_handlers: list[ConfigHandler] = []
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._client = self._make_client()

    def topic(self, channel: Channel) -> str:
        return build_topic(
            self._org_id, self._device_id, channel, prefix=self._settings.topic_prefix
        )

    def _status(self, state: DeviceState, reason: str | None = None) -> bytes:
        return encode(
            DeviceStatus(
                device_id=self._device_id,
                state=state,
                ts=time.time(),
                agent_version=AGENT_VERSION,
                reason=reason,
            )
        )

    def _make_client(self) -> paho.Client:
        s = self._settings
        v5 = s.protocol == "5"
        client_id = device_client_id(self._org_id, self._device_id)
        if v5:
            client = paho.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=paho.MQTTv5,
            )
        else:
            client = paho.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=paho.MQTTv311,
                clean_session=False,
            )
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.uses_tls:
            tls = s.tls
            try:
                client.tls_set(
                    ca_certs=tls.ca if tls else None,
                    certfile=tls.cert if tls else None,
                    keyfile=tls.key if tls else None,
                    cert_reqs=ssl.CERT_NONE if tls and tls.insecure else ssl.CERT_REQUIRED,
                )
            except (OSError, ValueError, ssl.SSLError) as exc:
                raise TransportError(f"MQTT TLS setup failed: {exc}") from None
            if tls and tls.insecure:
                client.tls_insecure_set(True)
        client.will_set(
            self.topic(Channel.STATUS),
            self._status("offline", "connection lost"),
            qos=1,
            retain=True,
        )
        client.max_inflight_messages_set(s.inflight_window)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        s = self._settings
        properties: Properties | None = None
        if s.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
        try:
            if s.protocol == "5":
                self._client.connect_async(
                    s.host,
                    s.port,
                    keepalive=s.keepalive_s,
                    clean_start=False,
                    properties=properties,
                )
            else:
                self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        except (OSError, ValueError) as exc:
            raise TransportError(f"cannot connect to MQTT broker {s.url}: {exc}") from None
        self._worker = threading.Thread(target=self._work, name="mqtt-outbox", daemon=True)
        self._worker.start()
        self._client.loop_start()

    def stop(self, *, flush_timeout_s: float = 2.0) -> None:
        """Flush what the broker will take within the timeout, say offline, disconnect."""
        deadline = time.monotonic() + flush_timeout_s
        while self._connected.is_set() and time.monotonic() < deadline:
            # unfinished_tasks: events queued or being handled (a message taken off the queue
            # but not yet in the spool still counts).
            if self._spool.depth == 0 and self._events.unfinished_tasks == 0:
                break
            time.sleep(0.02)
        self._stopping = True
        self._events.put("stop")
        if self._worker is not None:
            self._worker.join(5.0)
        if self._connected.is_set():
            info = self._client.publish(
                self.topic(Channel.STATUS), self._status("offline", "stopped"), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=1.0)
        self._client.disconnect()
        self._client.loop_stop()
        self._spool.close()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    # -- API -----------------------------------------------------------------------------------
    def send(self, msg: Message) -> None:
        self._events.put(_Outgoing(msg))

    def on_config(self, handler: ConfigHandler) -> None:
        self._config_handlers.append(handler)

    def stats(self) -> TransportStats:
        return TransportStats(
            connected=self._connected.is_set(),
            spool_depth=self._spool.depth,
            spool_bytes=self._spool.bytes,
            dropped_detections=self._spool.dropped(Priority.DETECTIONS),
            dropped_events=self._spool.dropped(Priority.EVENTS),
            published=self._published,
            last_seq=_last(self._sequence),
            last_event_seq=None if self._event_sequence is None else _last(self._event_sequence),
            resent=self._resend.resent,
        )

    # -- paho callbacks (network thread) -------------------------------------------------------
    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning(
                "MQTT broker %s refused the connection: %s", self._settings.url, reason_code
            )
            return
        log.info("connected to %s (session present: %s)", self._settings.url, flags.session_present)
        client.publish(self.topic(Channel.STATUS), self._status("online"), qos=1, retain=True)
        client.subscribe([(self.topic(Channel.CONFIG_DESIRED), 1), (self.topic(Channel.ACK), 1)])
        self._connected.set()
        self._events.put(_Link(up=True))

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._stopping:  # our own disconnect at stop: not a lost connection
            log.info("disconnected from %s", self._settings.url)
        elif self._connected.is_set():
            log.warning("disconnected from %s: %s", self._settings.url, reason_code)
        self._connected.clear()
        self._events.put(_Link(up=False))

    def _on_publish(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._events.put(_Acked(mid))

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.topic == self.topic(Channel.ACK):
            ack = decode_message(bytes(message.payload), channel=Channel.ACK)
            if isinstance(ack, IngestAck) and ack.device_id == self._device_id:
                self._events.put(_Confirmed(ack))
            return
        if message.topic != self.topic(Channel.CONFIG_DESIRED):
            return
        for handler in self._config_handlers:
            try:
                handler(bytes(message.payload))
            except Exception:  # a handler bug must not kill the network thread
                log.exception("config handler failed")

    # -- outbox worker -------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                event = None
            if event == "stop":
                self._events.task_done()
                return
            try:
                if isinstance(event, _Outgoing):
                    self._accept(event.msg)
                elif isinstance(event, _Acked):
                    row = self._inflight.pop(event.mid, None)
                    if row is not None:
                        self._inflight_rows.discard(row)
                        self._spool.ack(row)
                        self._published += 1
                elif isinstance(event, _Confirmed):
                    self._confirm(event.ack)
                elif isinstance(event, _Link) and event.up and not self._inflight:
                    self._last_sent = 0
                self._maybe_resend()
                self._drain()
            except TransportError:
                log.exception("outbox error")
                time.sleep(0.5)
            finally:
                if event is not None:
                    self._events.task_done()

    def _accept(self, msg: Message) -> None:
        channel = channel_for(msg)
        topic = self.topic(channel)
        if channel not in RELIABLE_CHANNELS:
            if self._connected.is_set():
                self._client.publish(topic, encode(msg), qos=0)
            return
        seq: int | None = None
        if isinstance(msg, DetectionBatch):
            seq = self._sequence.take()
            msg = msgspec.structs.replace(msg, seq=seq)
        elif isinstance(msg, Event) and self._event_sequence is not None:
            seq = self._event_sequence.take()
            msg = msgspec.structs.replace(msg, seq=seq)
        priority = Priority.DETECTIONS if channel == Channel.DETECTIONS else Priority.EVENTS
        self._spool.put(topic, encode(msg), priority=priority, seq=seq)

    def _drain(self) -> None:
        if not self._connected.is_set():
            return
        room = self._settings.inflight_window - len(self._inflight)
        if room <= 0:
            return
        pending = self._spool.pending(after_id=self._last_sent, limit=room + len(self._inflight))
        for item in [p for p in pending if p.id not in self._inflight_rows][:room]:
            info = self._client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
            if info.rc == paho.MQTT_ERR_NO_CONN:
                # paho keeps it and sends it after the reconnect; track it like any other.
                pass
            elif info.rc != paho.MQTT_ERR_SUCCESS:
                log.warning("publish failed (%s); will retry", paho.error_string(info.rc))
                return
            self._inflight[info.mid] = item.id
            self._inflight_rows.add(item.id)
            self._last_sent = item.id

    def _confirm(self, ack: IngestAck) -> None:
        """The control plane says what it stored: forget those messages."""
        self._resend.confirmed(time.time())
        if ack.detections is not None:
            self._spool.confirm(Priority.DETECTIONS, ack.detections)
        if ack.events is not None:
            self._spool.confirm(Priority.EVENTS, ack.events)

    def _maybe_resend(self) -> None:
        """Put back in line what the broker took but nobody confirmed in time (bounded)."""
        now = time.time()
        if not self._resend.due(now):
            return
        if not self._spool.confirming:  # no control plane seen acknowledging: an older one
            self._spool.forget_sent(sent_before=now - self._resend.timeout_s)
            self._resend.ran(now, 0)
            return
        if not self._connected.is_set():
            return
        ids = self._spool.requeue(
            sent_before=now - self._resend.timeout_s, limit=self._resend.limit
        )
        if ids:
            log.info("sending %d unconfirmed messages again", len(ids))
            self._last_sent = min(self._last_sent, min(ids) - 1)
        self._resend.ran(now, len(ids))


def _last(sequence: SequenceCounter) -> int | None:
    """The last value ``sequence`` handed out, ``None`` if none yet."""
    return sequence.peek - 1 if sequence.peek > 0 else None
