"""An in-memory transport: a first-class fake for unit tests.

It keeps every sent message (with the ``seq`` a real transport would assign) and lets a test
deliver ``cfg/desired`` payloads as the broker would.
"""

from __future__ import annotations

import threading
from typing import TypeVar

import msgspec

from aios.agent.transport.interface import ConfigHandler, TransportStats
from aios.shared.codec import channel_for
from aios.shared.messages import DetectionBatch, Event, Heartbeat, Message, PipelineReport
from aios.shared.topics import Channel

MessageT = TypeVar("MessageT")


class MemoryTransport:
    def __init__(self, *, first_seq: int = 0) -> None:
        self.sent: list[tuple[Channel, Message]] = []
        self.started = False
        self.stopped = False
        self._seq = first_seq
        self._handlers: list[ConfigHandler] = []
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def start(self) -> None:
        self.started = True

    def stop(self, *, flush_timeout_s: float = 2.0) -> None:
        self.stopped = True

    def send(self, msg: Message) -> None:
        with self._lock:
            if isinstance(msg, DetectionBatch):
                msg = msgspec.structs.replace(msg, seq=self._seq)
                self._seq += 1
            self.sent.append((channel_for(msg), msg))
            self.changed.notify_all()

    def on_config(self, handler: ConfigHandler) -> None:
        self._handlers.append(handler)

    def deliver_config(self, payload: bytes) -> None:
        """As if the broker delivered ``payload`` on ``cfg/desired``."""
        for handler in self._handlers:
            handler(payload)

    def stats(self) -> TransportStats:
        return TransportStats(
            connected=self.started and not self.stopped,
            spool_depth=0,
            spool_bytes=0,
            dropped_detections=0,
            dropped_events=0,
            published=len(self.sent),
        )

    # -- views for assertions ------------------------------------------------------------------
    def _sent_of(self, kind: type[MessageT]) -> list[MessageT]:
        """The messages of type ``kind`` sent so far, in order."""
        with self._lock:
            return [m for _, m in self.sent if isinstance(m, kind)]

    def batches(self) -> list[DetectionBatch]:
        return self._sent_of(DetectionBatch)

    def events(self) -> list[Event]:
        return self._sent_of(Event)

    def heartbeats(self) -> list[Heartbeat]:
        return self._sent_of(Heartbeat)

    def reports(self) -> list[PipelineReport]:
        return self._sent_of(PipelineReport)
