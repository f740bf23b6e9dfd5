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
``Packet.stream_id``, created on a stream's first frame (:class:`PerStream`). The streams that
reach a node are the sources of its pipeline, fixed for the runner's life: they come and go
only with the pipeline, whose replacement drops every node and all its state.

Nodes are typed end to end: each registers with the spec Struct it implements
(:class:`NodeFactory` is generic in it), so its ``build`` receives that spec and its params,
never a union to narrow. A node never reaches into another node's state: what it learns from
upstream nodes at build time it asks through their public properties, and what a node still has
to say when the pipeline stops (the end of the episodes a rule still has open) flows to its
consumers as :class:`StreamEvent` s through ``stop``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

from aios.agent.analytics.classes import resolve_class_ids
from aios.agent.analytics.rules import RuleEvent
from aios.agent.environment import AgentEnvironment
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
    environment: AgentEnvironment = field(default_factory=AgentEnvironment)
    """The process's environment (the model cache and manifest a detect node resolves with)."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An event of one stream, outside any frame: an episode ended as the pipeline stops."""

    stream_id: str
    event: RuleEvent


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

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        """Stop, once frames no longer flow. ``ending`` is what the node's inputs said as they
        stopped (the runner stops nodes in topological order); the node returns what it says
        in turn, which its consumers receive."""
        ...


SpecT_contra = TypeVar("SpecT_contra", bound=Node, contravariant=True)


class NodeFactory(Protocol[SpecT_contra]):
    """Builds a runtime node from its own spec type (registered with it: no narrowing)."""

    def __call__(
        self, spec: SpecT_contra, ctx: BuildContext, upstream: Sequence[RuntimeNode], /
    ) -> RuntimeNode: ...


class Lifecycle:
    """The ``start`` / ``stop`` of a node with nothing to set up or to say when it stops."""

    async def start(self) -> None:
        return None

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        return ()


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
