"""Device and pipeline telemetry: rates, latencies, system probes, the heartbeat."""
