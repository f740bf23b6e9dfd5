"""MQTT plumbing of the control plane: its one client library, the ingest's subscriber and the
embedded broker.

* :mod:`~aios.controlplane.mqtt.client`: every MQTT client of the control plane (paho-mqtt, the
  one client library): the ingest's long-lived connection with manual acknowledgements and the
  short sessions of the config publisher and the dynamic-security administration. paho's
  errors become :class:`~aios.controlplane.errors.BrokerError` there and nowhere else;
* :mod:`~aios.controlplane.mqtt.subscriber` and :mod:`~aios.controlplane.mqtt.buffer`: the
  ingest's subscriber and its bounded hand-off to the event loop;
* :mod:`~aios.controlplane.mqtt.embedded`: the embedded broker (amqtt, a broker, not a client),
  whose start-up errors become :class:`~aios.controlplane.errors.BrokerError` there.
"""
