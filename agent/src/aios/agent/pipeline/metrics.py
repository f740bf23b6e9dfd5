"""Live numbers of a running pipeline, read by the heartbeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aios.agent.sources.capture import StreamStatus
from aios.agent.telemetry.rate import LatencyWindow


@dataclass(slots=True)
class PipelineMetrics:
    """Streams register a status callable; detect nodes add inference latencies."""

    inference_ms: LatencyWindow = field(default_factory=LatencyWindow)
    provider: str | None = None
    streams: dict[str, Callable[[], StreamStatus]] = field(default_factory=dict)
    frames_processed: int = 0

    def stream_statuses(self) -> list[StreamStatus]:
        return [status() for status in self.streams.values()]
