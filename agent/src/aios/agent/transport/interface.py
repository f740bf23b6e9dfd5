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
    last_seq: int | None = None
    """The last detection-batch ``seq`` handed out (``None``: none yet)."""
    last_event_seq: int | None = None
    """The last event ``seq`` handed out (``None``: none yet, or events are not numbered)."""
    resent: int = 0
    """Messages sent again because the control plane did not confirm them in time."""

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
        :class:`~aios.shared.messages.DetectionBatch` or an
        :class:`~aios.shared.messages.Event` gets its ``seq`` assigned here."""
        ...

    def on_config(self, handler: ConfigHandler) -> None:
        """Deliver every ``cfg/desired`` payload (the retained one first) to ``handler``."""
        ...

    def stats(self) -> TransportStats: ...
