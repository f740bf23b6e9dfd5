"""Device health as the heartbeats tell it: the latest one (cameras, rates, resources)."""
