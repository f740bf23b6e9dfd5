"""A paho subscriber that collects decoded wire messages, for agent integration tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from aios.shared.codec import Rejection, decode_message
from aios.shared.messages import Message

M = TypeVar("M", bound=Message)


def subscriber(
    client_id: str,
    topic_filter: str,
    on_message: Callable[[paho.Client, object, paho.MQTTMessage], None],
    subscribed: threading.Event,
) -> paho.Client:
    """An MQTT 5 client, not yet connected, that subscribes to ``topic_filter`` (QoS 1) on every
    connect, sets ``subscribed`` when the broker confirms, and reconnects after 1-2 s."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
    )
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_message
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    return client


def persistent_session() -> Properties:
    """CONNECT properties of a session the broker keeps (queuing QoS 1 messages) for an hour."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    return properties


class Collector:
    def __init__(self, url: str, topic_filter: str, *, persistent: bool = False) -> None:
        parts = urlsplit(url)
        self.messages: list[tuple[str, Message, bool]] = []
        self.rejections: list[Rejection] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = subscriber(
            f"test-{uuid.uuid4().hex[:8]}", topic_filter, self._on_message, self._subscribed
        )
        self._client.connect(
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            clean_start=not persistent,
            # a persistent session queues QoS 1 messages while this client is away
            properties=persistent_session() if persistent else None,
        )
        self._client.loop_start()
        assert self._subscribed.wait(10), "test subscriber could not subscribe"

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        decoded = decode_message(msg.payload)
        with self._cond:
            if isinstance(decoded, Rejection):
                self.rejections.append(decoded)
            else:
                self.messages.append((msg.topic, decoded, bool(msg.retain)))
            self._cond.notify_all()

    def of_type(self, kind: type[M]) -> list[M]:
        with self._cond:
            return [m for _, m, _ in self.messages if isinstance(m, kind)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
