"""The agent's composition root: config in, transport + pipeline supervisor + heartbeat out.

:func:`run_agent` is what ``aios-agent run`` calls; tests call it with an in-memory transport
and a synthetic camera registry. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from structlog.contextvars import bound_contextvars

from aios.agent.config import AgentConfig
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.pipeline.metrics import InferenceListener, PipelineMetrics
from aios.agent.pipeline.node import BuildContext
from aios.agent.pipeline.registry import NodeRegistry, default_registry
from aios.agent.pipeline.runner import PipelineRunner
from aios.agent.pipeline.supervisor import PipelineSupervisor
from aios.agent.sources.registry import CameraRegistry, default_cameras
from aios.agent.telemetry.gpu import GpuProbe, detect_gpu
from aios.agent.telemetry.heartbeat import HeartbeatBuilder, heartbeat_loop
from aios.agent.telemetry.metrics_endpoint import AgentMetricsEndpoint
from aios.agent.transport.interface import Transport
from aios.agent.transport.mqtt import MqttTransport
from aios.agent.transport.sequence import SequenceCounter
from aios.agent.transport.snapshot_upload import SnapshotSink, SnapshotUploader
from aios.agent.transport.spool import Priority, Spool
from aios.shared.pipeline import PipelineSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    duration_s: float | None = None
    file_realtime: bool = True
    exit_when_streams_end: bool = True
    install_signal_handlers: bool = True


def make_transport(config: AgentConfig) -> MqttTransport:
    """The MQTT transport with its spool and the persistent batch and event sequences."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    spool = Spool(config.spool_path, max_bytes=config.spool.max_bytes)
    last = spool.max_seq(Priority.DETECTIONS)
    sequence = SequenceCounter(config.state_dir / "seq", floor=0 if last is None else last + 1)
    last_event = spool.max_seq(Priority.EVENTS)
    event_sequence = SequenceCounter(
        config.state_dir / "event_seq", floor=0 if last_event is None else last_event + 1
    )
    return MqttTransport(
        config.mqtt,
        org_id=config.device.org_id,
        device_id=config.device.device_id,
        spool=spool,
        sequence=sequence,
        event_sequence=event_sequence,
    )


def make_snapshot_uploader(config: AgentConfig) -> SnapshotUploader | None:
    """The snapshot uploader, or ``None`` (said in the log) without a control plane URL."""
    if config.control_plane_url is None:
        log.info("event snapshots disabled: no control_plane_url configured (or enrolled)")
        return None
    return SnapshotUploader(
        config.control_plane_url,
        device_id=config.device.device_id,
        password=config.mqtt.password,
    )


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        transport: Transport | None = None,
        cameras: CameraRegistry | None = None,
        registry: NodeRegistry | None = None,
        options: RunOptions | None = None,
        snapshots: SnapshotSink | None = None,
    ) -> None:
        self.config = config
        self._uploader = make_snapshot_uploader(config) if snapshots is None else None
        self._snapshots: SnapshotSink | None = snapshots or self._uploader
        self.options = options or RunOptions()
        self.transport: Transport = transport if transport is not None else make_transport(config)
        self._cameras = cameras or default_cameras()
        self._registry = registry or default_registry()
        self._base_dir = config.source.parent.resolve() if config.source else Path.cwd()
        self._inference_listeners: list[InferenceListener] = []
        self.metrics_address: tuple[str, int] | None = None  # the metrics endpoint's, once up
        self.supervisor = PipelineSupervisor(
            device_id=config.device.device_id,
            transport=self.transport,
            make_runner=self._make_runner,
            store=LastGoodStore.in_state_dir(config.state_dir),
            grace_s=config.apply.grace_s,
            open_timeout_s=config.apply.start_timeout_s,
        )

    def _start_metrics(self, listen: tuple[str, int], gpu: GpuProbe | None) -> AgentMetricsEndpoint:
        """The local Prometheus endpoint; each pipeline built from now on feeds it."""
        endpoint = AgentMetricsEndpoint(self.transport, self.supervisor.describe, gpu)
        endpoint.start(*listen)
        self.metrics_address = endpoint.address
        self._inference_listeners.append(endpoint.observe_inference)
        return endpoint

    def _make_runner(self, spec: PipelineSpec, pipeline_id: str, version: int) -> PipelineRunner:
        ctx = BuildContext(
            org_id=self.config.device.org_id,
            device_id=self.config.device.device_id,
            transport=self.transport,
            cameras=self._cameras,
            metrics=PipelineMetrics(listeners=list(self._inference_listeners)),
            base_dir=self._base_dir,
            pipeline_id=pipeline_id,
            pipeline_version=version,
            model_path=self.config.model_path,
            model_override=self.config.model_override,
            file_realtime=self.options.file_realtime,
            snapshots=self._snapshots,
            environment=self.config.environment,
        )
        return PipelineRunner(spec, ctx, self._registry)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set, the duration passes, a signal arrives, or (with a finite
        source and ``exit_when_streams_end``) every stream ends. Always shuts down cleanly.
        Every log line of the run (its tasks' too) names the device."""
        device = self.config.device
        with bound_contextvars(org_id=device.org_id, device_id=device.device_id):
            await self._run(stop or asyncio.Event())

    async def _run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        if self.options.install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
        self.transport.start()
        if self._uploader is not None:
            self._uploader.start()
        tasks: list[asyncio.Task[None]] = []
        gpu = await asyncio.to_thread(detect_gpu)
        endpoint: AgentMetricsEndpoint | None = None
        try:
            if self.config.metrics_listen is not None:
                endpoint = self._start_metrics(self.config.metrics_listen, gpu)
            await self.supervisor.start(self.config.pipeline)
            builder = HeartbeatBuilder(
                self.config.device.device_id, self.transport, self.supervisor.describe, gpu=gpu
            )
            tasks.append(
                asyncio.create_task(
                    heartbeat_loop(builder, self.transport, self.config.heartbeat_interval_s)
                )
            )
            # Without config apply the supervisor still watches the pipeline: it restarts a
            # crashed one and says when every stream has ended.
            watch = self.supervisor.run() if self.config.apply.enabled else self.supervisor.watch()
            tasks.append(asyncio.create_task(watch))
            waits = [asyncio.ensure_future(stop.wait())]
            if self.options.exit_when_streams_end:
                waits.append(asyncio.ensure_future(self.supervisor.ended.wait()))
            try:
                await asyncio.wait(
                    waits, timeout=self.options.duration_s, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for w in waits:
                    w.cancel()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.supervisor.stop()
            if endpoint is not None:
                await asyncio.to_thread(endpoint.stop)
            if gpu is not None:
                await asyncio.to_thread(gpu.close)
            if self._uploader is not None:
                await asyncio.to_thread(self._uploader.stop)
            await asyncio.to_thread(self.transport.stop)
            if self.options.install_signal_handlers:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.remove_signal_handler(sig)
