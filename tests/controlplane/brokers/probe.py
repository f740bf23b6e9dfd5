"""A blocking MQTT test client that records what a broker lets it do and what it receives."""

from __future__ import annotations

import queue
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

TIMEOUT_S = 5.0


class Probe:
    """One MQTT client (3.1.1 by default); a context manager that disconnects on exit."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        *,
        host: str = "127.0.0.1",
        client_id: str | None = None,
        mqtt5: bool = False,
        clean_session: bool = True,
    ) -> None:
        self.port = port
        self.host = host
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.disconnected = threading.Event()
        self._connack: queue.Queue[ReasonCode] = queue.Queue()
        self._subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:10]}",
            protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311,
            clean_session=None if mqtt5 else clean_session,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = lambda _c, _u, _f, rc, _p: self._connack.put(rc)
        self._client.on_subscribe = lambda _c, _u, _m, rcs, _p: self._subacks.put(rcs)
        self._client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self._client.on_disconnect = self._on_disconnect

    def _on_disconnect(self, *_: Any) -> None:
        self.disconnected.set()

    def connect(self) -> bool:
        """Whether the broker accepted the connection (no automatic reconnect is tried)."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        rc = self._connack.get(timeout=TIMEOUT_S)
        if rc.is_failure:
            self._client.loop_stop()
            return False
        return True

    def subscribe(self, topic_filter: str, qos: int = 1) -> bool:
        """Whether the broker granted the subscription."""
        self._client.subscribe(topic_filter, qos=qos)
        return not any(rc.is_failure for rc in self._subacks.get(timeout=TIMEOUT_S))

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the PUBACK (which a broker also sends when its ACLs
        drop the message under MQTT 3.1.1: the publisher cannot tell)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=TIMEOUT_S)
        assert info.is_published(), f"no PUBACK for {topic}"

    def receive_until(self, sentinel: bytes) -> list[tuple[str, bytes]]:
        """Every (topic, payload) received up to and including ``sentinel``'s message."""
        got: list[tuple[str, bytes]] = []
        while True:
            msg = self.messages.get(timeout=TIMEOUT_S)
            got.append((msg.topic, bytes(msg.payload)))
            if msg.payload == sentinel:
                return got

    def receive_one(self, timeout: float = TIMEOUT_S) -> tuple[str, bytes] | None:
        try:
            msg = self.messages.get(timeout=timeout)
        except queue.Empty:
            return None
        return msg.topic, bytes(msg.payload)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
