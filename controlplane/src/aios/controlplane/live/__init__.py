"""Live domain: the WebSocket ``/api/v1/ws`` and the outbox that feeds it on every replica."""
