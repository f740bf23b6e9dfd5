"""Publishing the retained ``cfg/desired`` of devices: a small interface and its MQTT client.

The pipelines service depends on :class:`ConfigPublisher` only; the composition root builds an
:class:`MqttConfigPublisher` from the settings (the broker the ingest uses: external Mosquitto or
the embedded one). It publishes through an :class:`~aios.controlplane.mqtt.client.MqttSession`,
which raises :class:`~aios.controlplane.errors.BrokerError` for every MQTT failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aios.controlplane.mqtt.client import Broker, MqttSession
from aios.controlplane.settings import Settings
from aios.shared.codec import encode
from aios.shared.messages import PipelineConfig
from aios.shared.topics import Channel, build_topic

DesiredConfig = tuple[str, str, PipelineConfig | None]
"""``(org_id, device_id, config)``; ``None`` clears the retained config."""


@runtime_checkable
class ConfigPublisher(Protocol):
    async def publish_desired(self, configs: Sequence[DesiredConfig]) -> None:
        """Publish each ``(org_id, device_id, config)`` retained, QoS 1; raise BrokerError.

        A ``None`` config clears the device's retained ``cfg/desired`` (an empty retained
        message, as MQTT defines it).
        """
        ...


class MqttConfigPublisher:
    """Connects per deployment (deployments are rare), publishes, waits for every PUBACK."""

    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        self._endpoint = settings.mqtt_endpoint()
        self._prefix = settings.mqtt_topic_prefix
        self._timeout_s = timeout_s

    async def publish_desired(self, configs: Sequence[DesiredConfig]) -> None:
        if configs:
            await asyncio.to_thread(self._publish, configs)

    def _publish(self, configs: Sequence[DesiredConfig]) -> None:  # a worker thread
        session = MqttSession(
            Broker.of(self._endpoint),
            client_id=f"aios-cfg-{uuid.uuid4().hex[:12]}",
            timeout_s=self._timeout_s,
        )
        with session:
            for org_id, device_id, config in configs:
                topic = build_topic(org_id, device_id, Channel.CONFIG_DESIRED, prefix=self._prefix)
                session.publish(topic, b"" if config is None else encode(config), retain=True)
