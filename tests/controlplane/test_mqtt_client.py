"""The control plane's MQTT client boundary on a real Mosquitto: a QoS 1 message that was not
acknowledged comes back in the next session (what the ingest's zero loss rests on), one that
was acknowledged does not, and paho's failures come out as BrokerError."""

from __future__ import annotations

import queue
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest

from aios.controlplane.errors import BrokerError
from aios.controlplane.mqtt.client import Broker, MqttConnection, MqttSession, Received
from aios.controlplane.settings import MqttProtocol
from tests.controlplane.brokers.probe import Probe

pytestmark = pytest.mark.mqtt


def broker_at(mqtt_url: str, protocol: MqttProtocol) -> Broker:
    parts = urlsplit(mqtt_url)
    return Broker(parts.hostname or "127.0.0.1", parts.port or 1883, protocol)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_only_an_acknowledged_message_is_gone_from_the_next_session(
    mqtt_url: str, topic_prefix: str, protocol: MqttProtocol
) -> None:
    broker = broker_at(mqtt_url, protocol)
    topic = f"{topic_prefix}/ingest"
    client_id = f"test-ingest-{uuid.uuid4().hex[:10]}"
    got: queue.Queue[Received] = queue.Queue()

    def session() -> MqttConnection:
        connection = MqttConnection(
            broker,
            client_id=client_id,
            filters=[topic],
            on_message=got.put,
            session_expiry_s=30,
            receive_maximum=16,
        )
        connection.start()
        assert connection.connected.wait(5)
        time.sleep(0.3)  # the subscription is acknowledged right after the connection
        return connection

    try:
        first = session()
        with MqttSession(broker, client_id=f"test-pub-{uuid.uuid4().hex[:10]}", timeout_s=5) as s:
            s.publish(topic, b"one")
        received = got.get(timeout=5)
        assert (received.topic, received.payload, received.qos) == (topic, b"one", 1)
        first.stop()  # as if the process died before its commit: never acknowledged

        second = session()
        again = got.get(timeout=10)
        assert again.payload == b"one"  # the broker sent it again
        second.ack(again.mid, again.qos)
        time.sleep(0.3)  # the PUBACK reaches the broker
        second.stop()

        third = session()
        with pytest.raises(queue.Empty):
            got.get(timeout=1.5)
        third.stop()
    finally:  # drop the persistent session on the shared broker
        parts = urlsplit(mqtt_url)
        with Probe(parts.port or 1883, None, None, client_id=client_id) as probe:
            probe.connect()


def test_failures_are_broker_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    with (
        pytest.raises(BrokerError, match="cannot reach MQTT broker"),
        MqttSession(Broker("127.0.0.1", closed), client_id="test-closed", timeout_s=1),
    ):
        pass
