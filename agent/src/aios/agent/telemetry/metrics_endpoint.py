"""The agent's local Prometheus endpoint (opt-in: ``metrics_listen: "127.0.0.1:9464"``).

Served by ``prometheus-client``'s own HTTP server in a daemon thread, from a registry of this
agent's (not the library's global one), with the ``metrics`` extra installed
(``pip install 'aios-agent[metrics]'``). What the agent already tracks is read at scrape time
(:class:`AgentCollector`: each stream's state, fps, dropped frames and reconnects, the spool,
the MQTT connection, the GPU); inference and detection latencies are histograms fed by the
detect nodes (:meth:`AgentMetricsEndpoint.observe_inference`).

It listens where the operator says; bind it to loopback or a management network: it has no
authentication (it shows stream ids and rates, never credentials or frames).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from aios.agent.errors import ConfigError
from aios.agent.pipeline.metrics import PipelineMetrics
from aios.agent.sources.camera import StreamState
from aios.agent.telemetry.gpu import GpuProbe
from aios.agent.transport.interface import Transport

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.core import Metric

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
Current = Callable[[], tuple[str | None, int | None, PipelineMetrics | None]]

METRIC_NAMES = frozenset(
    {
        "aios_agent_stream_fps",
        "aios_agent_stream_dropped_frames_total",
        "aios_agent_stream_reconnects_total",
        "aios_agent_stream_state",
        "aios_agent_frames_processed_total",
        "aios_agent_inference_seconds",
        "aios_agent_detect_latency_seconds",
        "aios_agent_spool_depth",
        "aios_agent_spool_bytes",
        "aios_agent_spool_dropped_total",
        "aios_agent_published_total",
        "aios_agent_resent_total",
        "aios_agent_mqtt_connected",
        "aios_agent_pipeline_version",
        "aios_agent_gpu_utilization_percent",
    }
)
"""Every metric family name the agent's endpoint shows."""


class AgentMetricsEndpoint:
    """The registry, the collector and the HTTP server of one agent."""

    def __init__(self, transport: Transport, current: Current, gpu: GpuProbe | None) -> None:
        try:
            from prometheus_client import CollectorRegistry, Histogram
        except ImportError:
            raise ConfigError(
                "metrics_listen needs prometheus-client: pip install 'aios-agent[metrics]'"
            ) from None
        self.registry = registry = CollectorRegistry()
        registry.register(AgentCollector(transport, current, gpu))
        self._inference, self._latency = (
            Histogram(name, documentation, ["stream"], buckets=LATENCY_BUCKETS, registry=registry)
            for name, documentation in (
                (
                    "aios_agent_inference_seconds",
                    "Inference time of one frame (ONNX Runtime, with pre- and post-processing)",
                ),
                (
                    "aios_agent_detect_latency_seconds",
                    "Time a frame took to be detected: waiting for the inference thread, then "
                    "inference",
                ),
            )
        )
        self._server: WSGIServer | None = None
        self.address: tuple[str, int] | None = None

    def observe_inference(self, stream_id: str, inference_s: float, latency_s: float) -> None:
        self._inference.labels(stream_id).observe(inference_s)
        self._latency.labels(stream_id).observe(latency_s)

    def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free one; :attr:`address` says which)."""
        from prometheus_client import start_http_server

        try:
            self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"metrics_listen: cannot listen on {host}:{port}: {exc}") from None
        bound = self._server.server_address
        self.address = (str(bound[0]), int(bound[1]))
        log.info("metrics on http://%s:%d/metrics", host, self.address[1])

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


class AgentCollector:
    """Reads the pipeline's, the transport's and the GPU's numbers when scraped."""

    def __init__(self, transport: Transport, current: Current, gpu: GpuProbe | None) -> None:
        self._transport = transport
        self._current = current
        self._gpu = gpu

    def describe(self) -> list[Metric]:
        return []  # families vary with the pipeline: collected on each scrape only

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self._transport.stats()
        yield GaugeMetricFamily(
            "aios_agent_mqtt_connected", "1 while connected to the broker", int(stats.connected)
        )
        yield GaugeMetricFamily(
            "aios_agent_spool_depth", "Messages waiting in the spool", stats.spool_depth
        )
        yield GaugeMetricFamily("aios_agent_spool_bytes", "Bytes in the spool", stats.spool_bytes)
        dropped = CounterMetricFamily(
            "aios_agent_spool_dropped",
            "Messages the spool dropped to stay in its byte budget",
            labels=["kind"],
        )
        dropped.add_metric(["detections"], stats.dropped_detections)
        dropped.add_metric(["events"], stats.dropped_events)
        yield dropped
        yield CounterMetricFamily(
            "aios_agent_published", "Messages handed to the broker", stats.published
        )
        yield CounterMetricFamily(
            "aios_agent_resent", "Messages sent again, unconfirmed in time", stats.resent
        )
        utilization = None if self._gpu is None else self._gpu.utilization()
        if utilization is not None:
            yield GaugeMetricFamily(
                "aios_agent_gpu_utilization_percent", "GPU utilisation", utilization
            )
        _, version, metrics = self._current()
        if version is not None:
            yield GaugeMetricFamily(
                "aios_agent_pipeline_version", "Version of the running pipeline", version
            )
        if metrics is not None:
            yield from _stream_metrics(metrics)


def _stream_metrics(metrics: PipelineMetrics) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    fps = GaugeMetricFamily("aios_agent_stream_fps", "Frames per second read", labels=["stream"])
    dropped = CounterMetricFamily(
        "aios_agent_stream_dropped_frames",
        "Frames the capture replaced before the pipeline took them",
        labels=["stream"],
    )
    reconnects = CounterMetricFamily(
        "aios_agent_stream_reconnects", "Returns after an outage", labels=["stream"]
    )
    state = GaugeMetricFamily(
        "aios_agent_stream_state", "1 for the stream's current state", labels=["stream", "state"]
    )
    for s in metrics.stream_statuses():
        fps.add_metric([s.stream_id], s.fps)
        dropped.add_metric([s.stream_id], s.dropped)
        reconnects.add_metric([s.stream_id], s.reconnects)
        for known in StreamState:
            state.add_metric([s.stream_id, known.value], 1 if s.state is known else 0)
    yield from (fps, dropped, reconnects, state)
    yield CounterMetricFamily(
        "aios_agent_frames_processed",
        "Frames detected by the running pipeline",
        metrics.frames_processed,
    )
