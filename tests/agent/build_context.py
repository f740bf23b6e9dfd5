"""The :class:`BuildContext` of a pipeline built by hand in a test (no camera, no model)."""

from __future__ import annotations

from pathlib import Path

from aios.agent.pipeline.metrics import PipelineMetrics
from aios.agent.pipeline.node import BuildContext
from aios.agent.sources.registry import CameraRegistry
from aios.agent.transport.interface import Transport
from aios.agent.transport.memory import MemoryTransport
from aios.agent.transport.snapshot_upload import SnapshotSink


def build_context(
    transport: Transport | None = None,
    *,
    cameras: CameraRegistry | None = None,
    snapshots: SnapshotSink | None = None,
    base_dir: Path = Path("."),
    pipeline_id: str = "p",
    version: int = 1,
) -> BuildContext:
    return BuildContext(
        org_id="acme",
        device_id="edge-1",
        transport=MemoryTransport() if transport is None else transport,
        cameras=CameraRegistry() if cameras is None else cameras,
        metrics=PipelineMetrics(),
        base_dir=base_dir,
        pipeline_id=pipeline_id,
        pipeline_version=version,
        snapshots=snapshots,
    )
