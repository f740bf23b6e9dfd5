"""Getting messages off the device: the MQTT publisher, its on-disk spool, the persistent
batch sequence, and an in-memory fake for unit tests.

Every QoS 1 message (detections, events, config reports) goes through the spool before it is
published and leaves it only when the broker acknowledges it.
"""
