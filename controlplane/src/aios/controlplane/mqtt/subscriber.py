"""The ingest's MQTT subscriber: a :class:`~aios.controlplane.mqtt.client.MqttConnection` bridged
to asyncio, with manual acknowledgements.

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
import threading
import time
from dataclasses import dataclass

from aios.controlplane.mqtt.buffer import InboundBuffer
from aios.controlplane.mqtt.client import Broker, MqttConnection, Received
from aios.controlplane.settings import MqttEndpoint


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
        self._connection = MqttConnection(
            Broker.of(endpoint),
            client_id=client_id,
            filters=filters,
            on_message=self._on_message,
            session_expiry_s=session_expiry_s,
            receive_maximum=queue.maxsize,
            keepalive_s=keepalive_s,
        )

    @property
    def connected(self) -> bool:
        return self._connection.connected.is_set()

    async def start(self) -> None:
        """Start connecting (paho retries in the background until the broker answers)."""
        self._queue.bind(asyncio.get_running_loop())
        self._started = True
        self._closing.clear()
        self._connection.start()

    async def wait_connected(self, timeout: float) -> bool:
        """Whether the client got connected (and subscribed) within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected:
                return True
            await asyncio.sleep(0.05)
        return self.connected

    async def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for the next session."""
        self._closing.set()
        await asyncio.to_thread(self._connection.stop)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message to the broker (thread-safe; no-op for QoS 0)."""
        self._connection.ack(mid, qos)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 on this connection (thread-safe); ``False`` when not connected
        (nothing is queued for later)."""
        return self._connection.publish(topic, payload)

    def _on_message(self, msg: Received) -> None:  # paho's thread
        if not self._started or self._closing.is_set():
            return
        item = Inbound(
            topic=msg.topic,
            payload=msg.payload,
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
