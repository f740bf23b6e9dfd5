"""Presence: whether each device is online, from its status messages and heartbeat age.

:mod:`~aios.controlplane.presence.tracker` is the in-memory state machine,
:mod:`~aios.controlplane.presence.service` feeds it from the ingest and records and publishes
its changes, :mod:`~aios.controlplane.presence.publisher` is the plug for live listeners.
"""
