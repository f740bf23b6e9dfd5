"""A WebSocket message from a newer control plane still decodes (the round trip of every live
message, with its tag and version, is in ``test_contract``)."""

from __future__ import annotations

import msgspec

from aios.shared.live import LiveMessage, NewEvent


def test_unknown_fields_are_ignored() -> None:
    data = b'{"type":"new_event","org_id":"o","device_id":"d","event_id":"e","stream_id":"s",'
    data += b'"event_type":"x","severity":"info","phase":"instant","ts":1,"future":true}'
    assert isinstance(msgspec.json.decode(data, type=LiveMessage), NewEvent)
