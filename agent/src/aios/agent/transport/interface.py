"""What the pipeline, the heartbeat and the config supervisor need from a transport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aios.shared.messages import Message
from aios.shared.topics import Channel

RELIABLE_CHANNELS = frozenset({Channel.DETECTIONS, Channel.EVENTS, Channel.CONFIG_REPORTED})
"""Channels sent at QoS 1 through the spool; the rest (heartbeat, status) are best effort."""


@dataclass(frozen=True, slots=True)
class TransportStats:
    connected: bool
    spool_depth: int
    spool_bytes: int
    dropped_detections: int
    dropped_events: int
    published: int

    @property
    def spool_dropped(self) -> int:
        return self.dropped_detections + self.dropped_events


ConfigHandler = Callable[[bytes], None]
"""Receives the raw payload of ``cfg/desired`` (untrusted: decode with the codec)."""


class Transport(Protocol):
    def start(self) -> None: ...

    def stop(self, *, flush_timeout_s: float = 2.0) -> None: ...

    def send(self, msg: Message) -> None:
        """Queue ``msg`` for its channel. Never blocks on the network. A
        :class:`~aios.shared.messages.DetectionBatch` gets its ``seq`` assigned here."""
        ...

    def on_config(self, handler: ConfigHandler) -> None:
        """Deliver every ``cfg/desired`` payload (the retained one first) to ``handler``."""
        ...

    def stats(self) -> TransportStats: ...
