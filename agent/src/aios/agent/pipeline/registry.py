"""The node registry: pipeline node spec type -> runtime factory. Explicit, refuses duplicates.

A factory is registered with the spec Struct it builds (``register(TrackNode, ...)``), and the
signature of :meth:`NodeRegistry.register` ties the two: mypy refuses a factory for another
spec type, so every ``build`` receives its own spec, typed, and narrows nothing. The one
lookup by the spec's type is here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import BuildContext, NodeFactory, RuntimeNode
from aios.agent.pipeline.nodes.detect import DetectRuntime
from aios.agent.pipeline.nodes.line import LineRuntime
from aios.agent.pipeline.nodes.rule import RuleRuntime
from aios.agent.pipeline.nodes.sink import build_sink
from aios.agent.pipeline.nodes.source import SourceRuntime
from aios.agent.pipeline.nodes.track import TrackRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.shared.pipeline import (
    DetectNode,
    LineNode,
    Node,
    RuleNode,
    SinkNode,
    SourceNode,
    TrackNode,
    ZoneNode,
    node_type,
)
from aios.shared.pipeline.nodes import NODE_TYPE_OF

SpecT = TypeVar("SpecT", bound=Node)

_Build = Callable[[Node, BuildContext, Sequence[RuntimeNode]], RuntimeNode]


class NodeRegistry:
    def __init__(self) -> None:
        self._builders: dict[type[object], _Build] = {}

    def register(self, spec_type: type[SpecT], factory: NodeFactory[SpecT]) -> None:
        if spec_type in self._builders:
            raise ValueError(f"pipeline node type {_type_name(spec_type)!r} is already registered")

        def build(spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> RuntimeNode:
            if not isinstance(spec, spec_type):  # only a lookup bug could get here
                raise TypeError(f"{type(spec).__name__} given to the {spec_type.__name__} factory")
            return factory(spec, ctx, upstream)

        self._builders[spec_type] = build

    def build(self, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> RuntimeNode:
        """The runtime node of ``spec``, built by the factory registered for its type."""
        try:
            build = self._builders[type(spec)]
        except KeyError:
            known = ", ".join(self.kinds())
            raise ConfigError(
                f"no runtime for node type {node_type(spec)!r} (known: {known})"
            ) from None
        return build(spec, ctx, upstream)

    def __contains__(self, spec_type: object) -> bool:
        return spec_type in self._builders

    def kinds(self) -> list[str]:
        return sorted(_type_name(t) for t in self._builders)


def _type_name(spec_type: type[object]) -> str:
    """The pipeline ``type`` of a node spec Struct (its class name for anything else)."""
    return next((name for t, name in NODE_TYPE_OF.items() if t is spec_type), spec_type.__name__)


def default_registry(overrides: NodeRegistry | None = None) -> NodeRegistry:
    """Every node kind the agent runs; the factories already in ``overrides`` (a test's fake
    node, say) take the place of the default ones for their types."""
    registry = NodeRegistry() if overrides is None else overrides

    def add(spec_type: type[SpecT], factory: NodeFactory[SpecT]) -> None:
        if spec_type not in registry:
            registry.register(spec_type, factory)

    add(SourceNode, SourceRuntime.build)
    add(DetectNode, DetectRuntime.build)
    add(TrackNode, TrackRuntime.build)
    add(ZoneNode, ZoneRuntime.build)
    add(LineNode, LineRuntime.build)
    add(RuleNode, RuleRuntime.build)
    add(SinkNode, build_sink)
    return registry
