"""Dashboard domain: events (list with keyset pagination, detail) and their JPEG snapshots.

Detections and analytics live in the telemetry domain, beside the ingest that writes them.
"""
