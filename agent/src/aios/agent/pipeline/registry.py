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
from aios.agent.registry import Registry


class NodeRegistry(Registry[NodeFactory]):
    noun = "pipeline node type"

    def factory(self, kind: str) -> NodeFactory:
        factory = self.lookup(kind)
        if factory is None:
            known = ", ".join(self.kinds())
            raise ConfigError(f"no runtime for node type {kind!r} (known: {known})")
        return factory


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
