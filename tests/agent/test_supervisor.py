"""Config apply from cfg/desired: applied, rejected, failed, rolled back, persisted.

The agent runs in-process with the in-memory transport and synthetic cameras (the `file` kind
is mapped to a synthetic camera, except for a path that does not exist).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest

from aios.agent.config import AgentConfig, build_config
from aios.agent.errors import SourceError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, StreamEvent
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.registry import NodeRegistry, default_registry
from aios.agent.runtime import Agent, RunOptions
from aios.agent.sources.camera import Camera
from aios.agent.sources.registry import CameraOptions, CameraRegistry
from aios.agent.sources.synthetic import SyntheticCamera
from aios.agent.transport.memory import MemoryTransport
from aios.shared.codec import encode
from aios.shared.messages import PipelineConfig, PipelineReport
from aios.shared.pipeline import SourceParams, TrackNode, decode_pipeline


def cameras() -> CameraRegistry:
    def synthetic(params: SourceParams, options: CameraOptions) -> Camera:
        if "missing" in params.uri:
            from aios.agent.sources.file import FileCamera

            return FileCamera(Path("/nonexistent/missing.mp4"))
        camera = SyntheticCamera(width=160, height=120, fps=20)
        if "unreachable" in params.uri:  # a network camera that never answers
            camera.available.clear()
        return camera

    registry = CameraRegistry()
    registry.register("file", synthetic)
    return registry


class CrashingTrack:
    """A `track` node that crashes on its second frame."""

    kind: ClassVar[str] = "track"
    names: Sequence[str] = ()

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.calls = 0

    @classmethod
    def build(
        cls, spec: TrackNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> CrashingTrack:
        return cls(spec.id)

    async def start(self) -> None:
        return None

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        self.calls += 1
        if self.calls >= 2:
            raise RuntimeError("tracker exploded")
        return inputs[0]

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        return ()


def synthetic_agent(config: AgentConfig, transport: MemoryTransport, **run: Any) -> Agent:
    """An agent on synthetic cameras and the test node registry (no signal handlers)."""
    options = RunOptions(install_signal_handlers=False, **run)
    return Agent(
        config, transport=transport, cameras=cameras(), registry=registry(), options=options
    )


def registry() -> NodeRegistry:
    crashing = NodeRegistry()
    crashing.register(TrackNode, CrashingTrack.build)
    return default_registry(crashing)


def spec(uri: str = "cam.mp4", *, track: bool = False, conf: float = 0.25) -> dict[str, object]:
    nodes: list[dict[str, object]] = [
        {"id": "cam1", "type": "source", "params": {"kind": "file", "uri": uri}},
        {"id": "det", "type": "detect", "params": {"every_n": 2, "conf": conf}},
        {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ]
    edges = [{"source": "cam1", "target": "det"}]
    if track:
        nodes.append({"id": "trk", "type": "track"})
        edges += [{"source": "det", "target": "trk"}, {"source": "trk", "target": "out"}]
    else:
        edges.append({"source": "det", "target": "out"})
    return {"name": "p", "nodes": nodes, "edges": edges}


def desired(version: int, body: dict[str, object]) -> bytes:
    msg = PipelineConfig(
        pipeline_id="pl-1", version=version, spec=decode_pipeline(body), issued_at=time.time()
    )
    return encode(msg)


def make_config(tmp_path: Path, model_path: Path) -> AgentConfig:
    return build_config(
        {
            "device": {"org_id": "acme", "device_id": "edge-1"},
            "state_dir": str(tmp_path / "state"),
            "model_path": str(model_path),
            "apply": {"grace_s": 3.0, "start_timeout_s": 3.0},
            "pipeline": spec(),
        },
        environ={},
    )


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[None]:
    """``agent`` running for the block, then stopped (within 20 s)."""
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def final_reports(transport: MemoryTransport) -> list[PipelineReport]:
    """The reports that end a config (``applying`` only says the grace period began)."""
    return [r for r in transport.reports() if r.status != "applying"]


async def next_report(
    transport: MemoryTransport, count: int, timeout: float = 20
) -> PipelineReport:
    """The ``count``-th final report."""
    deadline = time.monotonic() + timeout
    while len(final_reports(transport)) < count:
        assert time.monotonic() < deadline, f"no report #{count}: {transport.reports()}"
        await asyncio.sleep(0.05)
    return final_reports(transport)[count - 1]


@pytest.mark.slow
async def test_apply_reject_fail_rollback_and_persist(tmp_path: Path, model_path: Path) -> None:
    transport = MemoryTransport()
    config = make_config(tmp_path, model_path)
    agent = synthetic_agent(config, transport)
    async with running(agent):
        await until(lambda: bool(transport.batches()))
        assert transport.batches()[0].pipeline_version == 0

        # 1. A valid new version is applied, and the batches say so.
        v2 = desired(2, spec(conf=0.3))
        transport.deliver_config(v2)
        report = await next_report(transport, 1)
        assert (report.status, report.version, report.active_version) == ("applied", 2, 2)
        n = len(transport.batches())
        await until(lambda: len(transport.batches()) > n)
        assert transport.batches()[-1].pipeline_version == 2

        # The retained config redelivered after a reconnect is not applied twice.
        transport.deliver_config(v2)

        # 2. Invalid: rejected, naming the node and the field; v2 keeps running.
        bad = spec()
        bad_nodes = bad["nodes"]
        assert isinstance(bad_nodes, list)
        bad_nodes[1] = {"id": "det", "type": "detect", "params": {"conf": 7}}
        payload = (
            b'{"type":"pipeline_config","v":1,"pipeline_id":"pl-1","version":3,"issued_at":0,'
            b'"spec":' + __import__("json").dumps(bad).encode() + b"}"
        )
        transport.deliver_config(payload)
        report = await next_report(transport, 2)
        assert (report.status, report.node, report.field) == ("rejected", "det", "params.conf")
        assert report.active_version == 2

        # 3. A camera that never opens: rolled back to v2, the error names the camera.
        transport.deliver_config(desired(4, spec(uri="missing.mp4")))
        report = await next_report(transport, 3)
        assert report.status == "rolled_back"
        assert report.active_version == 2
        assert report.error is not None
        assert "cam1" in report.error

        # 4. Crashes within the grace period: rolled back to v2.
        transport.deliver_config(desired(5, spec(track=True)))
        report = await next_report(transport, 4)
        assert report.status == "rolled_back"
        assert "tracker exploded" in (report.error or "")
        assert agent.supervisor.describe()[1] == 2
        assert len(final_reports(transport)) == 4

    # The last good config (v2) survives a restart.
    transport2 = MemoryTransport()
    agent2 = synthetic_agent(config, transport2, duration_s=30)
    async with running(agent2):
        await until(lambda: bool(transport2.batches()))
        assert transport2.batches()[0].pipeline_version == 2


@pytest.mark.slow
async def test_a_broken_first_deployment_rolls_back_to_the_local_pipeline(
    tmp_path: Path, model_path: Path
) -> None:
    """Before any remote config was applied, the local pipeline (v0) is the last good one: a
    broken deployment must bring it back, not leave the device running nothing."""
    transport = MemoryTransport()
    agent = synthetic_agent(make_config(tmp_path, model_path), transport)
    async with running(agent):
        await until(lambda: bool(transport.batches()))
        transport.deliver_config(desired(1, spec(uri="missing.mp4")))
        report = await next_report(transport, 1)
        assert (report.status, report.active_version) == ("rolled_back", 0)
        n = len(transport.batches())
        await until(lambda: len(transport.batches()) > n)
        assert transport.batches()[-1].pipeline_version == 0


async def test_a_file_that_does_not_exist_fails_naming_the_camera(
    tmp_path: Path, model_path: Path
) -> None:
    config = build_config(
        {
            "device": {"org_id": "acme", "device_id": "edge-1"},
            "state_dir": str(tmp_path / "state"),
            "model_path": str(model_path),
            "pipeline": spec(uri="missing.mp4"),
        },
        environ={},
    )
    agent = Agent(
        config,
        transport=MemoryTransport(),
        cameras=cameras(),
        options=RunOptions(install_signal_handlers=False),
    )
    with pytest.raises(SourceError, match=r"camera 'cam1'.*does not exist"):
        await agent.run()


@pytest.mark.slow
async def test_a_crashing_pipeline_restarts_with_growing_pauses_even_without_config_apply(
    tmp_path: Path, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = build_config(
        {
            "device": {"org_id": "acme", "device_id": "edge-1"},
            "state_dir": str(tmp_path / "state"),
            "model_path": str(model_path),
            "apply": {"enabled": False, "grace_s": 30.0},
            "pipeline": spec(track=True),
        },
        environ={},
    )
    agent = synthetic_agent(config, MemoryTransport())
    runners: list[object] = []

    def restarted_twice() -> bool:
        current = agent.supervisor.current
        if current is not None and current not in runners:
            runners.append(current)
        return len(runners) >= 3

    caplog.set_level(logging.ERROR, logger="aios.agent.pipeline.supervisor")
    async with running(agent):
        await until(restarted_twice, timeout=40)
    pauses = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.search(r"restarting in ([0-9.]+) s", r.getMessage())) is not None
    ]
    assert len(pauses) >= 2, caplog.text
    assert pauses[0] == pytest.approx(1.0, abs=0.15)  # a backoff from 1 s ...
    assert pauses[1] == pytest.approx(2.0, abs=0.25)  # ... that doubles


@pytest.mark.slow
async def test_the_old_pipeline_runs_until_the_new_one_has_started(
    tmp_path: Path, model_path: Path
) -> None:
    """Make before break: while a new version tries to open its camera, the running version
    keeps capturing and sending; when the new one fails to start, nothing had to restart."""
    transport = MemoryTransport()
    agent = synthetic_agent(make_config(tmp_path, model_path), transport)
    async with running(agent):
        await until(lambda: bool(transport.batches()))
        asked = time.time()
        # A camera that never answers: the start waits for it (3 s), then gives up.
        transport.deliver_config(desired(2, spec(uri="rtsp-unreachable")))
        report = await next_report(transport, 1)
        assert (report.status, report.active_version) == ("rolled_back", 0)
        answered = time.time()
        assert answered - asked > 2.5  # the start attempt did wait for the camera
        await until(lambda: any(f.ts > answered for b in transport.batches() for f in b.frames))
        during = [
            f.ts
            for b in transport.batches()
            if b.pipeline_version == 0
            for f in b.frames
            if asked + 1.0 < f.ts < answered - 0.5
        ]
        assert during, "the running pipeline stopped while the new one was starting"


@pytest.mark.parametrize(
    ("old_kind", "new_kind", "exclusive"),
    [("usb", "usb", True), ("file", "usb", False), ("usb", "rtsp", False), ("rtsp", "rtsp", False)],
)
def test_only_a_usb_camera_in_both_forces_break_before_make(
    old_kind: str, new_kind: str, exclusive: bool
) -> None:
    from aios.agent.pipeline.supervisor import shares_exclusive_camera

    def with_kind(kind: str) -> dict[str, object]:
        body = spec()
        nodes = body["nodes"]
        assert isinstance(nodes, list)
        nodes[0] = {"id": "cam1", "type": "source", "params": {"kind": kind, "uri": "0"}}
        return body

    old, new = decode_pipeline(with_kind(old_kind)), decode_pipeline(with_kind(new_kind))
    assert shares_exclusive_camera(old, new) is exclusive
