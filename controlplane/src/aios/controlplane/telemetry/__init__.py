"""Telemetry domain: the MQTT ingest (detections, heartbeats, status) and the detections API."""
