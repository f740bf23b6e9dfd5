"""The node registry: pipeline node ``type`` -> runtime factory. Explicit, refuses duplicates."""

from __future__ import annotations

from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import NodeFactory
from aios.agent.pipeline.nodes.detect import DetectRuntime
from aios.agent.pipeline.nodes.line import LineRuntime
from aios.agent.pipeline.nodes.rule import RuleRuntime
from aios.agent.pipeline.nodes.sink import SinkRuntime
from aios.agent.pipeline.nodes.source import SourceRuntime
from aios.agent.pipeline.nodes.track import TrackRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime


class NodeRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, NodeFactory] = {}

    def register(self, kind: str, factory: NodeFactory) -> None:
        if kind in self._factories:
            raise ValueError(f"pipeline node type {kind!r} is already registered")
        self._factories[kind] = factory

    def factory(self, kind: str) -> NodeFactory:
        try:
            return self._factories[kind]
        except KeyError:
            known = ", ".join(sorted(self._factories))
            raise ConfigError(f"no runtime for node type {kind!r} (known: {known})") from None

    def kinds(self) -> list[str]:
        return sorted(self._factories)


def default_registry() -> NodeRegistry:
    """Every node kind the agent runs."""
    registry = NodeRegistry()
    registry.register(SourceRuntime.kind, SourceRuntime.build)
    registry.register(DetectRuntime.kind, DetectRuntime.build)
    registry.register(TrackRuntime.kind, TrackRuntime.build)
    registry.register(ZoneRuntime.kind, ZoneRuntime.build)
    registry.register(LineRuntime.kind, LineRuntime.build)
    registry.register(RuleRuntime.kind, RuleRuntime.build)
    registry.register(SinkRuntime.kind, SinkRuntime.build)
    return registry
