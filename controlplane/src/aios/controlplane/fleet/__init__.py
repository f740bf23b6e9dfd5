"""Fleet domain: devices, their tags and status, enrollment tokens and device enrollment."""
