"""The runtime side of a pipeline node, and what a node is given when it is built.

Each node kind is a small class in :mod:`aios.agent.pipeline.nodes` with a ``kind`` (the
pipeline ``type`` it implements), a ``from_spec`` constructor taking its typed spec (whose
``params`` Struct is its config), and ``start`` / ``process`` / ``stop``. ``from_spec`` may
block (loading a model): the runner calls it off the event loop. ``process`` takes the packets
of the node's inputs for one frame and returns its output, or ``None`` when nothing flows on
for that frame (a skipped frame, an empty zone upstream of nothing).

A node may be reached from several sources (a detect node may take several cameras, and
everything downstream of it then sees all of them): whatever a node remembers between frames
(frame policy, tracks, line sides, counts, rule episodes, pending batches) is kept per
``Packet.stream_id``, created on a stream's first frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from aios.agent.analytics.classes import resolve_class_ids
from aios.agent.pipeline.metrics import PipelineMetrics
from aios.agent.pipeline.packet import Packet
from aios.agent.sources.registry import CameraRegistry
from aios.agent.transport.interface import Transport
from aios.agent.transport.snapshot_upload import SnapshotSink
from aios.shared.pipeline import Node, node_type


@dataclass(frozen=True, slots=True)
class BuildContext:
    """Everything outside the spec that nodes need."""

    org_id: str
    device_id: str
    transport: Transport
    cameras: CameraRegistry
    metrics: PipelineMetrics
    base_dir: Path
    pipeline_id: str
    pipeline_version: int
    model_path: Path | None = None
    """The device's file for the default model (see ``nodes.detect.model_file``)."""
    model_override: bool = False
    """``model_path`` replaces every detect node's model (the operator's explicit choice)."""
    file_realtime: bool = True
    intra_op_threads: int | None = None
    snapshots: SnapshotSink | None = None
    """Where event snapshots go; ``None``: no control plane, events carry no snapshot."""


class RuntimeNode(Protocol):
    kind: ClassVar[str]

    @property
    def node_id(self) -> str: ...

    @property
    def names(self) -> Sequence[str]:
        """Class labels of what this node outputs (empty before any detector)."""
        ...

    async def start(self) -> None: ...

    async def process(self, inputs: Sequence[Packet]) -> Packet | None: ...

    async def stop(self) -> None: ...


class NodeFactory(Protocol):
    """Builds a runtime node from its spec (narrowing the spec to its own type)."""

    def __call__(
        self, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> RuntimeNode: ...


def first_names(upstream: Sequence[RuntimeNode]) -> Sequence[str]:
    """The class labels flowing in: those of the first input that has any."""
    for node in upstream:
        if node.names:
            return node.names
    return ()


def class_ids_of(
    node: Node, classes: Sequence[str] | None, names: Sequence[str]
) -> frozenset[int] | None:
    """A node's ``params.classes`` labels as the model's class ids (``None``: every class);
    an unknown label fails the build naming the node and the label."""
    return resolve_class_ids(
        classes,
        {name: i for i, name in enumerate(names)},
        where=f"{node_type(node)} {node.id!r}: params.classes",
    )


def upstream_lost_buffer_s(upstream: Sequence[RuntimeNode]) -> float | None:
    """How long the tracker upstream keeps a lost track, as passed down by track, zone and line
    nodes (``None``: the input is not tracked)."""
    for node in upstream:
        lost = getattr(node, "lost_buffer_s", None)
        if isinstance(lost, (int, float)):
            return float(lost)
    return None
