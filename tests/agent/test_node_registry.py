"""The node registry: typed end to end, explicit, refusing duplicates; the sink's two nodes."""

from __future__ import annotations

import pytest
from mypy import api as mypy_api

from aios.agent.errors import ConfigError
from aios.agent.pipeline.node import RuntimeNode
from aios.agent.pipeline.nodes.event_sink import EventSinkRuntime
from aios.agent.pipeline.nodes.sink import DetectionSinkRuntime
from aios.agent.pipeline.nodes.track import TrackRuntime
from aios.agent.pipeline.registry import NodeRegistry, default_registry
from aios.shared.pipeline import SinkNode, SinkParams, TrackNode
from aios.shared.pipeline.nodes import NODE_TYPES
from tests.agent.build_context import build_context


def test_the_default_registry_runs_every_node_type_of_the_contract() -> None:
    assert default_registry().kinds() == sorted(NODE_TYPES)


def test_a_second_factory_for_a_node_type_is_refused() -> None:
    registry = NodeRegistry()
    registry.register(TrackNode, TrackRuntime.build)
    with pytest.raises(ValueError, match="'track' is already registered"):
        registry.register(TrackNode, TrackRuntime.build)


def test_a_node_type_without_a_runtime_fails_the_build_naming_it() -> None:
    registry = NodeRegistry()
    registry.register(TrackNode, TrackRuntime.build)
    spec = SinkNode(id="out", params=SinkParams(kind="mqtt_events"))
    with pytest.raises(ConfigError, match=r"no runtime for node type 'sink' \(known: track\)"):
        registry.build(spec, build_context(), [])


@pytest.mark.parametrize(
    ("kind", "node_class"),
    [("mqtt_detections", DetectionSinkRuntime), ("mqtt_events", EventSinkRuntime)],
)
def test_a_sink_is_one_of_two_nodes_chosen_by_its_kind(
    kind: str, node_class: type[RuntimeNode]
) -> None:
    spec = SinkNode(id="out", params=SinkParams(kind=kind))  # type: ignore[arg-type]
    node = default_registry().build(spec, build_context(), [])
    assert type(node) is node_class
    assert node.kind == "sink"
    assert node.node_id == "out"


def test_build_receives_its_own_spec_type_and_mypy_refuses_a_mismatch() -> None:
    """``register`` ties a factory to the spec Struct it builds: registering a track factory
    for the sink node type (or the sink factory for tracks) does not type-check."""
    program = "\n".join(
        [
            "from aios.agent.pipeline.nodes.sink import build_sink",
            "from aios.agent.pipeline.nodes.track import TrackRuntime",
            "from aios.agent.pipeline.registry import NodeRegistry",
            "from aios.shared.pipeline import SinkNode, TrackNode",
            "r = NodeRegistry()",
            "r.register(TrackNode, TrackRuntime.build)",
            "r.register(SinkNode, build_sink)",
            "r.register(SinkNode, TrackRuntime.build)  # line 8: wrong",
            "r.register(TrackNode, build_sink)  # line 9: wrong",
        ]
    )
    out, _, status = mypy_api.run(["--strict", "--no-error-summary", "-c", program])
    errors = sorted(line.split(":")[1] for line in out.splitlines() if ": error:" in line)
    assert status == 1, out
    assert errors == ["8", "9"], out
