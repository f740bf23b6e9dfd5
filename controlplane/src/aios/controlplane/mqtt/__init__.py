"""MQTT plumbing of the control plane: the embedded broker and the ingest's subscriber.

paho-mqtt and amqtt errors are translated into :class:`~aios.controlplane.errors.BrokerError`
here and nowhere else.
"""
