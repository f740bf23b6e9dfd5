"""Live numbers of a running pipeline, read by the heartbeat and the local metrics endpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aios.agent.sources.capture import StreamStatus
from aios.agent.telemetry.rate import IntervalLatency, LatencyWindow

InferenceListener = Callable[[str, float, float], None]
"""Told each detection: stream id, inference seconds, latency seconds (wait + inference)."""


@dataclass(slots=True)
class PipelineMetrics:
    """Streams register a status callable; detect nodes record each inference."""

    inference_ms: LatencyWindow = field(default_factory=LatencyWindow)
    provider: str | None = None
    streams: dict[str, Callable[[], StreamStatus]] = field(default_factory=dict)
    frames_processed: int = 0
    stream_latency: dict[str, IntervalLatency] = field(default_factory=dict)
    listeners: list[InferenceListener] = field(default_factory=list)

    def stream_statuses(self) -> list[StreamStatus]:
        return [status() for status in self.streams.values()]

    def record_inference(self, stream_id: str, inference_s: float, latency_s: float) -> None:
        """One frame of ``stream_id`` detected: the inference took ``inference_s``, the frame
        waited for it and got it in ``latency_s``."""
        self.inference_ms.add(inference_s * 1000.0)
        self.frames_processed += 1
        window = self.stream_latency.get(stream_id)
        if window is None:
            window = self.stream_latency[stream_id] = IntervalLatency()
        window.add(latency_s * 1000.0)
        for listener in self.listeners:
            listener(stream_id, inference_s, latency_s)
