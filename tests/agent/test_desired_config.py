"""``cfg/desired`` goes through the contract: newer minor schemas are applied, a newer major
version or a malformed config is rejected with a reason the control plane is told, and bytes
that are no pipeline config are ignored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, cast

import pytest

from aios.agent.pipeline.desired import Refusal, read_desired
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.pipeline.runner import PipelineRunner
from aios.agent.pipeline.supervisor import PipelineSupervisor
from aios.agent.transport.memory import MemoryTransport
from aios.shared.codec import encode
from aios.shared.messages import Heartbeat, PipelineConfig
from aios.shared.pipeline import PipelineSpec, decode_pipeline
from tests.agent.test_supervisor import spec

SPEC = spec(conf=0.3)
NODES: list[Any] = SPEC["nodes"]  # type: ignore[assignment]
EDGES: list[Any] = SPEC["edges"]  # type: ignore[assignment]


def config(**changes: Any) -> dict[str, Any]:
    """A valid ``pipeline_config`` as JSON fields, with ``changes`` applied (``None`` drops)."""
    doc: dict[str, Any] = {
        "type": "pipeline_config",
        "v": 1,
        "pipeline_id": "pl-1",
        "version": 3,
        "spec": SPEC,
        "issued_at": time.time(),
        "deployment_id": "dep-7",
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def payload(**changes: Any) -> bytes:
    return json.dumps(config(**changes)).encode()


class FakeRunner:
    """Starts at once and never fails: enough for the supervisor to apply a config."""

    def __init__(self, spec: PipelineSpec, pipeline_id: str, version: int) -> None:
        self.spec = spec
        self.version = version
        self.started = False

    def build(self) -> None:
        return None

    async def start(self, *, open_timeout_s: float = 15.0) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def failure(self) -> BaseException | None:
        return None


def supervisor(tmp_path: Path, transport: MemoryTransport) -> PipelineSupervisor:
    def make_runner(spec: PipelineSpec, pipeline_id: str, version: int) -> PipelineRunner:
        return cast(PipelineRunner, FakeRunner(spec, pipeline_id, version))

    return PipelineSupervisor(
        device_id="edge-1",
        transport=transport,
        make_runner=make_runner,
        store=LastGoodStore(tmp_path / "last_good.json"),
        grace_s=0.05,
    )


def test_a_config_of_a_newer_minor_schema_with_unknown_fields_is_accepted() -> None:
    desired = read_desired(payload(rollout_wave=2, labels={"site": "north"}))
    assert isinstance(desired, PipelineConfig)
    assert (desired.pipeline_id, desired.version, desired.deployment_id) == ("pl-1", 3, "dep-7")
    assert desired.spec == decode_pipeline(SPEC)


async def test_the_supervisor_applies_a_config_with_unknown_fields(tmp_path: Path) -> None:
    transport = MemoryTransport()
    sup = supervisor(tmp_path, transport)
    report = await sup.apply(payload(rollout_wave=2))
    assert report is not None
    assert (report.status, report.version, report.active_version) == ("applied", 3, 3)
    assert report.deployment_id == "dep-7"
    assert [r.status for r in transport.reports()] == ["applying", "applied"]
    assert transport.reports()[-1] == report


SINK_INTO_DETECT = {**SPEC, "edges": [*EDGES, {"source": "out", "target": "det"}]}
BAD_CONF = {**SPEC, "nodes": [NODES[0], {"id": "det", "type": "detect", "params": {"conf": 7}}]}
PL1 = ("pl-1", 3, "dep-7")
Address = tuple[str, int, str | None]
Where = tuple[str, str | None] | None


def case(
    name: str, changes: dict[str, Any], error: str, address: Address = PL1, where: Where = None
) -> Any:
    """A malformed config: ``changes`` to a valid one, and the report's address, error and
    offending (node, field)."""
    return pytest.param(changes, address, error, where, id=name)


@pytest.mark.parametrize(
    ("changes", "address", "error", "where"),
    [
        case("newer-major-version", {"v": 2}, "future_version: schema version 2 is newer"),
        case("version-not-a-number", {"version": "three"}, "wrong_schema: Expected `int`",
             ("pl-1", 0, "dep-7")),
        case("missing-field", {"issued_at": None}, "missing required field `issued_at`"),
        case("bad-identifiers", {"pipeline_id": "no spaces", "deployment_id": "../x y"},
             "wrong_schema: Expected `str` matching regex", ("invalid", 3, None)),
        case("bad-param", {"spec": BAD_CONF}, "Expected `float` <= 1.0", PL1,
             ("det", "params.conf")),
        case("bad-wiring", {"spec": SINK_INTO_DETECT}, "cannot take input from a sink", PL1,
             ("det", None)),
    ],
)  # fmt: skip
async def test_a_malformed_config_is_rejected_with_its_reason(
    tmp_path: Path,
    changes: dict[str, Any],
    address: Address,
    error: str,
    where: Where,
) -> None:
    data = payload(**changes)
    desired = read_desired(data)
    assert isinstance(desired, Refusal)

    transport = MemoryTransport()
    sup = supervisor(tmp_path, transport)
    report = await sup.apply(data)
    assert report is not None
    assert transport.reports() == [report]
    assert report.status == "rejected"
    assert (report.pipeline_id, report.version, report.deployment_id) == address
    assert report.error is not None
    assert error in report.error
    assert (report.node, report.field) == (where or (None, None))
    assert sup.current is None  # nothing was started
    # The report itself is a valid wire message (the control plane decodes it).
    assert encode(report)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="retained-clear"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"type": "pipeline_configuration", "v": 1}', id="unknown-type"),
        pytest.param(
            encode(Heartbeat(device_id="edge-1", ts=time.time(), uptime_s=1.0, agent_version="1")),
            id="another-message",
        ),
    ],
)
async def test_bytes_that_are_no_pipeline_config_are_ignored(tmp_path: Path, data: bytes) -> None:
    assert read_desired(data) is None
    transport = MemoryTransport()
    assert await supervisor(tmp_path, transport).apply(data) is None
    assert transport.reports() == []
