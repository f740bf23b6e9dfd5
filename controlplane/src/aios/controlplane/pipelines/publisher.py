"""Publishing the retained ``cfg/desired`` of devices: a small interface and its MQTT client.

The pipelines service depends on :class:`ConfigPublisher` only; the composition root builds an
:class:`MqttConfigPublisher` from the settings (the broker the ingest uses: external Mosquitto or
the embedded one). aiomqtt errors are translated to :class:`BrokerError` here, nowhere else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import aiomqtt

from aios.controlplane.errors import BrokerError
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
        if not configs:
            return
        ep = self._endpoint
        try:
            tls = ep.ssl_context()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise BrokerError(f"MQTT TLS setup failed: {exc}") from exc
        try:
            async with aiomqtt.Client(
                ep.host,
                ep.port,
                username=ep.username,
                password=ep.password.get() if ep.password else None,
                identifier=f"aios-cfg-{uuid.uuid4().hex[:12]}",
                protocol=aiomqtt.ProtocolVersion.V5
                if ep.protocol == "5"
                else aiomqtt.ProtocolVersion.V311,
                tls_context=tls,
                timeout=self._timeout_s,
            ) as client:
                for org_id, device_id, config in configs:
                    topic = build_topic(
                        org_id, device_id, Channel.CONFIG_DESIRED, prefix=self._prefix
                    )
                    payload = b"" if config is None else encode(config)
                    await client.publish(
                        topic, payload, qos=1, retain=True, timeout=self._timeout_s
                    )
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"could not publish the desired config: {exc}") from None
