"""The periodic heartbeat: device health plus the running pipeline's numbers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aios.agent.pipeline.metrics import PipelineMetrics
from aios.agent.sources.capture import StreamStatus
from aios.agent.sources.redaction import scrub
from aios.agent.telemetry.gpu import GpuProbe
from aios.agent.telemetry.system import SystemProbe
from aios.agent.transport.interface import Transport
from aios.agent.version import AGENT_VERSION
from aios.shared.messages import Heartbeat, StreamHealth

log = logging.getLogger(__name__)


class HeartbeatBuilder:
    """Builds a :class:`Heartbeat` from the current pipeline (if any) and the transport."""

    def __init__(
        self,
        device_id: str,
        transport: Transport,
        current: Callable[[], tuple[str | None, int | None, PipelineMetrics | None]],
        probe: SystemProbe | None = None,
        gpu: GpuProbe | None = None,
    ) -> None:
        self._device_id = device_id
        self._transport = transport
        self._current = current
        self._probe = probe or SystemProbe()
        self._gpu = gpu

    def build(self) -> Heartbeat:
        system = self._probe.sample()
        stats = self._transport.stats()
        pipeline_id, version, metrics = self._current()
        streams: list[StreamHealth] = []
        p50 = p95 = None
        provider = None
        if metrics is not None:
            p50 = metrics.inference_ms.percentile(50)
            p95 = metrics.inference_ms.percentile(95)
            provider = metrics.provider
            streams = [_stream_health(s, metrics) for s in metrics.stream_statuses()]
        return Heartbeat(
            device_id=self._device_id,
            ts=time.time(),
            uptime_s=round(self._probe.uptime_s, 1),
            agent_version=AGENT_VERSION,
            pipeline_id=pipeline_id,
            pipeline_version=version,
            provider=provider,
            cpu_percent=system.cpu_percent,
            mem_rss_mb=system.mem_rss_mb,
            mem_percent=system.mem_percent,
            temperature_c=system.temperature_c,
            gpu_percent=None if self._gpu is None else self._gpu.utilization(),
            inference_ms_p50=None if p50 is None else round(p50, 2),
            inference_ms_p95=None if p95 is None else round(p95, 2),
            spool_depth=stats.spool_depth,
            spool_dropped=stats.spool_dropped,
            streams=streams,
            last_seq=stats.last_seq,
            last_event_seq=stats.last_event_seq,
        )


def _stream_health(s: StreamStatus, metrics: PipelineMetrics) -> StreamHealth:
    window = metrics.stream_latency.get(s.stream_id)
    latency = None if window is None else window.take()  # since the previous heartbeat
    return StreamHealth(
        stream_id=s.stream_id,
        state=s.state.value,
        fps=s.fps,
        frames_dropped=s.dropped,
        error=scrub(s.error)[:256] if s.error else None,
        reconnects=s.reconnects,
        down_since=s.down_since,
        last_gap_s=s.last_gap_s,
        latency_ms_p50=None if latency is None else round(latency[0], 2),
        latency_ms_p95=None if latency is None else round(latency[1], 2),
    )


async def heartbeat_loop(
    builder: HeartbeatBuilder, transport: Transport, interval_s: float
) -> None:
    """Send a heartbeat now and then every ``interval_s`` until cancelled."""
    while True:
        try:
            heartbeat = await asyncio.to_thread(builder.build)
            transport.send(heartbeat)
        except Exception:  # telemetry must never take the agent down
            log.exception("heartbeat failed")
        await asyncio.sleep(interval_s)
